"""strata_eks_cluster under botocore's Stubber (requests checked against the EKS model)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import FakeModule, load_module, not_found, strata_aws

cluster_module = load_module("strata_eks_cluster")

NAME = "strata-test"
ROLE = "arn:aws:iam::123456789012:role/strata-test-cluster"
KEY = "arn:aws:kms:eu-west-3:123456789012:key/1111"
ARN = f"arn:aws:eks:eu-west-3:123456789012:cluster/{NAME}"
SUBNETS = ["subnet-a", "subnet-b", "subnet-c"]
ALL_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": NAME,
        "state": "present",
        "version": "1.31",
        "role_arn": ROLE,
        "subnet_ids": SUBNETS,
        "security_group_ids": ["sg-app"],
        "endpoint_private_access": True,
        "endpoint_public_access": False,
        "public_access_cidrs": [],
        "encryption_key_arn": KEY,
        "logging_types": ALL_LOGS,
        "authentication_mode": "API",
        "service_ipv4_cidr": None,
        "tags": {"managed-by": "strata"},
        "purge_tags": True,
        "wait": True,
        "wait_timeout": 60,
    }
    base.update(overrides)
    return base


def described(status: str = "ACTIVE", **changes: Any) -> dict[str, Any]:
    cluster = {
        "name": NAME,
        "arn": ARN,
        "version": "1.31",
        "status": status,
        "roleArn": ROLE,
        "resourcesVpcConfig": {
            "subnetIds": SUBNETS,
            "securityGroupIds": ["sg-app"],
            "endpointPrivateAccess": True,
            "endpointPublicAccess": False,
            "publicAccessCidrs": ["0.0.0.0/0"],
        },
        "logging": {"clusterLogging": [{"types": ALL_LOGS, "enabled": True}]},
        "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": KEY}}],
        "accessConfig": {"authenticationMode": "API"},
        "identity": {"oidc": {"issuer": "https://oidc.eks.eu-west-3.amazonaws.com/id/ABC"}},
        "tags": {"managed-by": "strata"},
    }
    cluster.update(changes)
    return cluster


pytestmark = pytest.mark.usefixtures("no_sleep")


def run(client: Any, check_mode: bool = False, **overrides: Any) -> dict[str, Any]:
    return cluster_module.run(FakeModule(params(**overrides), check_mode), client)  # type: ignore[no-any-return]


def test_creates_a_private_encrypted_cluster_with_all_logs_and_waits(eks: Any) -> None:
    not_found(eks, "describe_cluster", {"name": NAME})
    eks.stubber.add_response(
        "create_cluster",
        {"cluster": described("CREATING")},
        {
            "name": NAME,
            "version": "1.31",
            "roleArn": ROLE,
            "resourcesVpcConfig": {
                "subnetIds": SUBNETS,
                "securityGroupIds": ["sg-app"],
                "endpointPrivateAccess": True,
                "endpointPublicAccess": False,
            },
            "logging": {"clusterLogging": [{"types": ALL_LOGS, "enabled": True}]},
            "accessConfig": {"authenticationMode": "API"},
            "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": KEY}}],
            "tags": {"managed-by": "strata"},
        },
    )
    eks.stubber.add_response("describe_cluster", {"cluster": described("CREATING")}, {"name": NAME})
    eks.stubber.add_response("describe_cluster", {"cluster": described("ACTIVE")}, {"name": NAME})
    result = run(eks)
    assert result["changed"] is True
    assert result["cluster"]["status"] == "ACTIVE"
    assert result["cluster"]["identity"]["oidc"]["issuer"].startswith("https://oidc.eks.")


def test_a_converged_cluster_is_left_alone(eks: Any) -> None:
    eks.stubber.add_response("describe_cluster", {"cluster": described()}, {"name": NAME})
    result = run(eks)
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]


def test_the_public_endpoint_is_opened_to_the_allow_list_only(eks: Any) -> None:
    eks.stubber.add_response("describe_cluster", {"cluster": described()}, {"name": NAME})
    eks.stubber.add_response(
        "update_cluster_config",
        {"update": {"id": "u1", "status": "InProgress"}},
        {
            "name": NAME,
            "resourcesVpcConfig": {
                "endpointPrivateAccess": True,
                "endpointPublicAccess": True,
                "publicAccessCidrs": ["203.0.113.0/24"],
            },
        },
    )
    eks.stubber.add_response("describe_cluster", {"cluster": described("ACTIVE")}, {"name": NAME})
    result = run(eks, endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"])
    assert result["changed"] is True


def test_logging_drift_is_one_update_that_disables_the_rest(eks: Any) -> None:
    eks.stubber.add_response("describe_cluster", {"cluster": described()}, {"name": NAME})
    eks.stubber.add_response(
        "update_cluster_config",
        {"update": {"id": "u1"}},
        {
            "name": NAME,
            "logging": {
                "clusterLogging": [
                    {"types": ["api", "audit"], "enabled": True},
                    {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": False},
                ]
            },
        },
    )
    eks.stubber.add_response("describe_cluster", {"cluster": described()}, {"name": NAME})
    assert run(eks, logging_types=["audit", "api"])["changed"] is True


def test_check_mode_plans_without_writing(eks: Any) -> None:
    eks.stubber.add_response("describe_cluster", {"cluster": described(version="1.30")}, {"name": NAME})
    result = run(eks, check_mode=True)
    assert result["changed"] is True  # the upgrade would happen; the Stubber saw no write


def test_the_secrets_key_cannot_change(eks: Any) -> None:
    eks.stubber.add_response("describe_cluster", {"cluster": described()}, {"name": NAME})
    with pytest.raises(strata_aws.Refused, match="cannot change the key"):
        run(eks, encryption_key_arn="arn:aws:kms:eu-west-3:123456789012:key/2222")


def test_upgrades_go_one_minor_version_at_a_time() -> None:
    assert cluster_module.next_minor("1.29", "1.31") == "1.30"
    assert cluster_module.next_minor("1.30", "1.31") == "1.31"
    with pytest.raises(strata_aws.Refused, match="cannot downgrade"):
        cluster_module.next_minor("1.31", "1.30")


def test_a_cluster_with_node_groups_is_not_deleted(eks: Any) -> None:
    eks.stubber.add_response("describe_cluster", {"cluster": described()}, {"name": NAME})
    eks.stubber.add_response("list_nodegroups", {"nodegroups": ["app"]}, {"clusterName": NAME})
    with pytest.raises(strata_aws.Refused, match=r"node groups \['app'\]"):
        run(eks, state="absent")


def test_absent_deletes_waits_and_returns_the_cluster_it_was(eks: Any) -> None:
    eks.stubber.add_response("describe_cluster", {"cluster": described()}, {"name": NAME})
    eks.stubber.add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": NAME})
    eks.stubber.add_response("delete_cluster", {"cluster": described("DELETING")}, {"name": NAME})
    eks.stubber.add_response("describe_cluster", {"cluster": described("DELETING")}, {"name": NAME})
    not_found(eks, "describe_cluster", {"name": NAME})
    result = run(eks, state="absent")
    assert result["changed"] is True
    assert result["cluster"]["identity"]["oidc"]["issuer"].endswith("/id/ABC")


def test_wait_gives_up_with_a_clear_message() -> None:
    clock = iter(range(0, 1000, 10))
    with pytest.raises(strata_aws.WaitTimeout, match="timed out after 30s waiting for the thing"):
        strata_aws.wait_until(
            lambda: "CREATING",
            lambda s: s == "ACTIVE",
            timeout=30,
            what="the thing",
            sleep=lambda _: None,
            clock=lambda: next(clock),
        )
