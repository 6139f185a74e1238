"""strata_eks_addon_versions_info under botocore's Stubber (the real EKS service model checks every request): each
add-on is asked at the cluster's Kubernetes version, every page is read, and a pin EKS does not publish for that
version is reported with the newest published ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import FakeModule, load_module, stubbed

versions_info = load_module("strata_eks_addon_versions_info")


@pytest.fixture
def eks() -> Iterator[Any]:
    with stubbed("eks") as client:
        yield client


def page(name: str, *versions: str, next_page: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"addons": [{"addonName": name, "addonVersions": [{"addonVersion": v} for v in versions]}]}
    if next_page:
        body["nextToken"] = next_page
    return body


def test_a_pin_not_published_for_the_version_is_reported_and_pages_are_followed(eks: Any) -> None:
    eks.stubber.add_response(
        "describe_addon_versions",
        page("coredns", "v1.12.4-eksbuild.1", "v1.12.3-eksbuild.1", next_page="t"),
        {"addonName": "coredns", "kubernetesVersion": "1.35"},
    )
    eks.stubber.add_response(
        "describe_addon_versions",
        page("coredns", "v1.12.2-eksbuild.4", "v1.12.1-eksbuild.2"),
        {"addonName": "coredns", "kubernetesVersion": "1.35", "nextToken": "t"},
    )
    eks.stubber.add_response(
        "describe_addon_versions",
        page("vpc-cni", "v1.20.4-eksbuild.2", "v1.19.2-eksbuild.1"),
        {"addonName": "vpc-cni", "kubernetesVersion": "1.35"},
    )
    asked = {
        "kubernetes_version": "1.35",
        "addons": [
            {"name": "coredns", "version": "v1.11.1-eksbuild.9"},  # left behind by a cluster upgrade
            {
                "name": "vpc-cni",
                "version": "v1.19.2-eksbuild.1",
                "configuration_values": {"enableNetworkPolicy": "true"},
            },
        ],
    }
    result = versions_info.run(FakeModule(asked), eks)
    assert result["changed"] is False
    assert result["published"]["coredns"] == [
        "v1.12.4-eksbuild.1", "v1.12.3-eksbuild.1", "v1.12.2-eksbuild.4", "v1.12.1-eksbuild.2"
    ]  # fmt: skip
    assert result["unsupported"] == {
        "coredns": {
            "pinned": "v1.11.1-eksbuild.9",
            "published": ["v1.12.4-eksbuild.1", "v1.12.3-eksbuild.1", "v1.12.2-eksbuild.4"],
        }
    }
    eks.stubber.assert_no_pending_responses()


def test_an_unpinned_add_on_is_never_unsupported(eks: Any) -> None:
    eks.stubber.add_response(
        "describe_addon_versions",
        page("eks-pod-identity-agent", "v1.3.8-eksbuild.2"),
        {"addonName": "eks-pod-identity-agent", "kubernetesVersion": "1.35"},
    )
    asked = {"kubernetes_version": "1.35", "addons": [{"name": "eks-pod-identity-agent", "version": ""}]}
    assert versions_info.run(FakeModule(asked), eks)["unsupported"] == {}
