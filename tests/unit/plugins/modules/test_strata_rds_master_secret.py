"""strata_rds_master_secret under botocore's Stubber: the password goes to Secrets Manager
once, with the database key, and only the secret's ARN ever comes back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import FakeModule, load_module, stubbed

secret_module = load_module("strata_rds_master_secret")

KEY = "arn:aws:kms:eu-west-3:123456789012:key/1111"
SECRET = {"SecretArn": "arn:aws:secretsmanager:eu-west-3:123456789012:secret:rds!db-1", "SecretStatus": "active"}


def params(**overrides: Any) -> dict[str, Any]:
    base = {"db_instance_identifier": "strata-test", "db_cluster_identifier": None, "kms_key_id": KEY}
    base.update(overrides)
    return base


@pytest.fixture
def rds() -> Iterator[Any]:
    with stubbed("rds") as client:
        yield client


def resolve(key: str) -> str:
    return {"alias/strata-test-database": KEY}.get(key, key)


def run(client: Any, check_mode: bool = False, **overrides: Any) -> dict[str, Any]:
    return secret_module.run(FakeModule(params(**overrides), check_mode), client, resolve)  # type: ignore[no-any-return]


def test_hands_the_password_to_secrets_manager_with_the_key(rds: Any) -> None:
    rds.stubber.add_response(
        "describe_db_instances",
        {"DBInstances": [{"DBInstanceIdentifier": "strata-test", "DbiResourceId": "db-ABC"}]},
        {"DBInstanceIdentifier": "strata-test"},
    )
    rds.stubber.add_response(
        "modify_db_instance",
        {"DBInstance": {"MasterUserSecret": {**SECRET, "KmsKeyId": KEY}}},
        {
            "DBInstanceIdentifier": "strata-test",
            "ManageMasterUserPassword": True,
            "ApplyImmediately": True,
            "MasterUserSecretKmsKeyId": KEY,
        },
    )
    result = run(rds)
    assert result["changed"] is True
    assert result["master_user_secret"] == {
        "secret_arn": SECRET["SecretArn"],
        "secret_status": "active",
        "kms_key_id": KEY,
    }
    assert result["resource_id"] == "db-ABC"  # what IAM database authentication's dbuser ARN names


def test_a_managed_password_with_the_same_key_by_alias_is_left_alone(rds: Any) -> None:
    rds.stubber.add_response(
        "describe_db_instances",
        {"DBInstances": [{"MasterUserSecret": {**SECRET, "KmsKeyId": KEY}}]},
        {"DBInstanceIdentifier": "strata-test"},
    )
    assert run(rds, kms_key_id="alias/strata-test-database")["changed"] is False


def test_aurora_clusters_and_check_mode(rds: Any) -> None:
    rds.stubber.add_response(
        "describe_db_clusters",
        {"DBClusters": [{"DBClusterIdentifier": "strata-test", "DbClusterResourceId": "cluster-XYZ"}]},
        {"DBClusterIdentifier": "strata-test"},
    )
    result = run(rds, check_mode=True, db_instance_identifier=None, db_cluster_identifier="strata-test")
    assert result["changed"] is True  # and the Stubber saw no ModifyDBCluster
    assert result["resource_id"] == "cluster-XYZ"
