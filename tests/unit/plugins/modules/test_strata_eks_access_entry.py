"""strata_eks_access_entry under botocore's Stubber (the embedded cloud has no access entries)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import Failed, FakeModule, load_module, not_found

entry_module = load_module("strata_eks_access_entry")

CLUSTER = "strata-test"
PRINCIPAL = "arn:aws:iam::123456789012:role/platform-admins"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
KEY = {"clusterName": CLUSTER, "principalArn": PRINCIPAL}
ENTRY = {
    "clusterName": CLUSTER,
    "principalArn": PRINCIPAL,
    "accessEntryArn": f"arn:aws:eks:eu-west-3:123456789012:access-entry/{CLUSTER}/role/abc",
    "type": "STANDARD",
    "kubernetesGroups": [],
    "tags": {"managed-by": "strata"},
}


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "cluster_name": CLUSTER,
        "principal_arn": PRINCIPAL,
        "state": "present",
        "type": "STANDARD",
        "kubernetes_groups": [],
        "username": None,
        "access_policies": [{"policy_arn": ADMIN, "namespaces": []}],
        "purge_policies": True,
        "tags": {"managed-by": "strata"},
        "purge_tags": True,
    }
    base.update(overrides)
    return base


def associated(*policies: tuple[str, list[str]]) -> dict[str, Any]:
    return {
        "clusterName": CLUSTER,
        "principalArn": PRINCIPAL,
        "associatedAccessPolicies": [
            {"policyArn": arn, "accessScope": {"type": "namespace" if ns else "cluster", "namespaces": ns}}
            for arn, ns in policies
        ],
    }


def run(client: Any, check_mode: bool = False, **overrides: Any) -> dict[str, Any]:
    return entry_module.run(FakeModule(params(**overrides), check_mode), client)  # type: ignore[no-any-return]


def test_creates_the_entry_and_associates_cluster_admin(eks: Any) -> None:
    not_found(eks, "describe_access_entry", KEY)
    eks.stubber.add_response(
        "create_access_entry",
        {"accessEntry": ENTRY},
        {**KEY, "type": "STANDARD", "kubernetesGroups": [], "tags": {"managed-by": "strata"}},
    )
    eks.stubber.add_response(
        "associate_access_policy",
        {"clusterName": CLUSTER, "principalArn": PRINCIPAL},
        {**KEY, "policyArn": ADMIN, "accessScope": {"type": "cluster"}},
    )
    result = run(eks)
    assert result["changed"] is True
    assert result["access_entry"]["access_policies"] == [{"policy_arn": ADMIN, "namespaces": []}]


def test_an_entry_with_its_policy_is_left_alone(eks: Any) -> None:
    eks.stubber.add_response("describe_access_entry", {"accessEntry": ENTRY}, KEY)
    eks.stubber.add_response("list_associated_access_policies", associated((ADMIN, [])), KEY)
    assert run(eks)["changed"] is False


def test_policies_are_rescoped_and_purged(eks: Any) -> None:
    eks.stubber.add_response("describe_access_entry", {"accessEntry": ENTRY}, KEY)
    eks.stubber.add_response("list_associated_access_policies", associated((ADMIN, []), (VIEW, ["dev"])), KEY)
    eks.stubber.add_response(
        "associate_access_policy",
        {},
        {**KEY, "policyArn": VIEW, "accessScope": {"type": "namespace", "namespaces": ["staging"]}},
    )
    eks.stubber.add_response("disassociate_access_policy", {}, {**KEY, "policyArn": ADMIN})
    result = run(eks, access_policies=[{"policy_arn": VIEW, "namespaces": ["staging"]}])
    assert result["changed"] is True
    assert result["access_entry"]["access_policies"] == [{"policy_arn": VIEW, "namespaces": ["staging"]}]


def test_the_type_is_fixed_at_creation(eks: Any) -> None:
    eks.stubber.add_response("describe_access_entry", {"accessEntry": ENTRY}, KEY)
    eks.stubber.add_response("list_associated_access_policies", associated(), KEY)
    with pytest.raises(Failed, match="fixed at creation"):
        run(eks, type="EC2_LINUX")


def test_check_mode_writes_nothing_and_absent_deletes(eks: Any) -> None:
    not_found(eks, "describe_access_entry", KEY)
    assert run(eks, check_mode=True)["changed"] is True
    eks.stubber.add_response("describe_access_entry", {"accessEntry": ENTRY}, KEY)
    eks.stubber.add_response("list_associated_access_policies", associated((ADMIN, [])), KEY)
    eks.stubber.add_response("delete_access_entry", {}, KEY)
    assert run(eks, state="absent")["changed"] is True
