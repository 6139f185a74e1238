"""strata-cloud leftovers: one listing tells what destroy left behind from what it keeps on purpose."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from strata.domain import fleet
from strata.tools import summary

REGION = "eu-west-3"


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def test_kept_keys_are_retained_pending_ones_gone_and_the_rest_left(account: None) -> None:
    kms = boto3.client("kms", region_name=REGION)
    owned = fleet.tag_list(fleet.owned_tags("staging"))

    def key(*extra: dict[str, str]) -> str:
        tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in [*owned, *extra]]
        return str(kms.create_key(Description="strata-staging key", Tags=tags)["KeyMetadata"]["Arn"])

    kept = key({"Key": "retained", "Value": "data"})
    left = key()
    pending = key()
    kms.schedule_key_deletion(KeyId=pending.rsplit("/", 1)[1], PendingWindowInDays=30)  # moto takes the id only
    key_of_another_env = kms.create_key(Tags=[{"TagKey": "env", "TagValue": "production"}])["KeyMetadata"]["Arn"]

    remaining, retained = summary.left_and_retained(None, REGION, "staging")
    assert retained == [kept]
    assert left in remaining and kept not in remaining and pending not in remaining
    assert key_of_another_env not in remaining
    assert summary.leftovers(None, REGION, "staging") == remaining
    assert summary.retained(None, REGION, "staging") == retained
