"""strata_eks_addon under botocore's Stubber (the embedded cloud has no add-on API)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import FakeModule, load_module, not_found, strata_aws

addon_module = load_module("strata_eks_addon")

CLUSTER, NAME = "strata-test", "aws-ebs-csi-driver"
IRSA = "arn:aws:iam::123456789012:role/strata-test-ebs-csi"
ARN = f"arn:aws:eks:eu-west-3:123456789012:addon/{CLUSTER}/{NAME}/abc"
KEY = {"clusterName": CLUSTER, "addonName": NAME}


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "cluster_name": CLUSTER,
        "name": NAME,
        "state": "present",
        "version": "v1.38.1-eksbuild.1",
        "service_account_role_arn": IRSA,
        "configuration_values": None,
        "resolve_conflicts": "OVERWRITE",
        "preserve_on_delete": False,
        "tags": {"managed-by": "strata"},
        "purge_tags": True,
        "wait": True,
        "wait_timeout": 60,
    }
    base.update(overrides)
    return base


def described(**changes: Any) -> dict[str, Any]:
    addon = {
        "addonName": NAME,
        "clusterName": CLUSTER,
        "addonArn": ARN,
        "addonVersion": "v1.38.1-eksbuild.1",
        "status": "ACTIVE",
        "serviceAccountRoleArn": IRSA,
        "tags": {"managed-by": "strata"},
    }
    addon.update(changes)
    return addon


pytestmark = pytest.mark.usefixtures("no_sleep")


def run(client: Any, check_mode: bool = False, **overrides: Any) -> dict[str, Any]:
    return addon_module.run(FakeModule(params(**overrides), check_mode), client)  # type: ignore[no-any-return]


def test_installs_the_pinned_version_with_its_role(eks: Any) -> None:
    not_found(eks, "describe_addon", KEY)
    eks.stubber.add_response(
        "create_addon",
        {"addon": described(status="CREATING")},
        {
            **KEY,
            "addonVersion": "v1.38.1-eksbuild.1",
            "resolveConflicts": "OVERWRITE",
            "serviceAccountRoleArn": IRSA,
            "tags": {"managed-by": "strata"},
        },
    )
    eks.stubber.add_response("describe_addon", {"addon": described(status="CREATING")}, KEY)
    eks.stubber.add_response("describe_addon", {"addon": described()}, KEY)
    result = run(eks)
    assert result["changed"] is True
    assert result["addon"]["addon_version"] == "v1.38.1-eksbuild.1"


def test_an_installed_pinned_addon_is_left_alone(eks: Any) -> None:
    eks.stubber.add_response("describe_addon", {"addon": described()}, KEY)
    assert run(eks)["changed"] is False


def test_a_new_pin_and_configuration_update_the_addon(eks: Any) -> None:
    eks.stubber.add_response("describe_addon", {"addon": described()}, KEY)
    eks.stubber.add_response(
        "update_addon",
        {"update": {"id": "u1"}},
        {
            **KEY,
            "resolveConflicts": "OVERWRITE",
            "addonVersion": "v1.39.0-eksbuild.1",
            "configurationValues": '{"controller": {"replicaCount": 3}}',
        },
    )
    eks.stubber.add_response("describe_addon", {"addon": described(addonVersion="v1.39.0-eksbuild.1")}, KEY)
    result = run(eks, version="v1.39.0-eksbuild.1", configuration_values={"controller": {"replicaCount": 3}})
    assert result["changed"] is True


def test_a_failed_update_is_reported(eks: Any) -> None:
    eks.stubber.add_response("describe_addon", {"addon": described()}, KEY)
    eks.stubber.add_response(
        "update_addon", {"update": {"id": "u1"}}, {**KEY, "resolveConflicts": "OVERWRITE", "addonVersion": "v9"}
    )
    eks.stubber.add_response("describe_addon", {"addon": described(status="UPDATE_FAILED")}, KEY)
    with pytest.raises(strata_aws.WaitTimeout, match="UPDATE_FAILED"):
        run(eks, version="v9")


def test_check_mode_and_absent(eks: Any) -> None:
    eks.stubber.add_response("describe_addon", {"addon": described()}, KEY)
    assert run(eks, check_mode=True, state="absent")["changed"] is True  # no delete call was made
    eks.stubber.add_response("describe_addon", {"addon": described()}, KEY)
    eks.stubber.add_response("delete_addon", {"addon": described(status="DELETING")}, {**KEY, "preserve": False})
    not_found(eks, "describe_addon", KEY)
    assert run(eks, state="absent")["changed"] is True
