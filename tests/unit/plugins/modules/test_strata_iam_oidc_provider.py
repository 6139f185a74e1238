"""strata_iam_oidc_provider under botocore's Stubber (IAM's real service model)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import FakeModule, load_module, stubbed

oidc_module = load_module("strata_iam_oidc_provider")

ISSUER = "https://oidc.eks.eu-west-3.amazonaws.com/id/ABC"
ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-3.amazonaws.com/id/ABC"
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "url": ISSUER,
        "state": "present",
        "client_ids": ["sts.amazonaws.com"],
        "thumbprints": [THUMB],
        "tags": {"managed-by": "strata"},
        "purge_tags": True,
    }
    base.update(overrides)
    return base


@pytest.fixture
def iam() -> Iterator[Any]:
    with stubbed("iam") as client:
        yield client


def existing(client: Any, clients: list[str], thumbprints: list[str], tags: dict[str, str]) -> None:
    client.stubber.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": ARN}]}, {})
    client.stubber.add_response(
        "get_open_id_connect_provider",
        {
            "Url": ISSUER.removeprefix("https://"),
            "ClientIDList": clients,
            "ThumbprintList": thumbprints,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        },
        {"OpenIDConnectProviderArn": ARN},
    )


def run(client: Any, check_mode: bool = False, **overrides: Any) -> dict[str, Any]:
    return oidc_module.run(FakeModule(params(**overrides), check_mode), client)  # type: ignore[no-any-return]


def test_creates_the_provider_of_the_issuer(iam: Any) -> None:
    iam.stubber.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": []}, {})
    iam.stubber.add_response(
        "create_open_id_connect_provider",
        {"OpenIDConnectProviderArn": ARN},
        {
            "Url": ISSUER,
            "ClientIDList": ["sts.amazonaws.com"],
            "ThumbprintList": [THUMB],
            "Tags": [{"Key": "managed-by", "Value": "strata"}],
        },
    )
    result = run(iam)
    assert result["changed"] is True
    assert result["provider"]["arn"] == ARN


def test_a_matching_provider_is_left_alone(iam: Any) -> None:
    existing(iam, ["sts.amazonaws.com"], [THUMB.upper()], {"managed-by": "strata"})
    assert run(iam)["changed"] is False


def test_audiences_thumbprints_and_tags_are_reconciled(iam: Any) -> None:
    existing(iam, ["other"], ["0" * 40], {"managed-by": "strata", "old": "1"})
    iam.stubber.add_response(
        "add_client_id_to_open_id_connect_provider",
        {},
        {"OpenIDConnectProviderArn": ARN, "ClientID": "sts.amazonaws.com"},
    )
    iam.stubber.add_response(
        "remove_client_id_from_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "ClientID": "other"}
    )
    iam.stubber.add_response(
        "update_open_id_connect_provider_thumbprint", {}, {"OpenIDConnectProviderArn": ARN, "ThumbprintList": [THUMB]}
    )
    iam.stubber.add_response(
        "untag_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "TagKeys": ["old"]}
    )
    result = run(iam)
    assert result["changed"] is True
    assert result["provider"]["tags"] == {"managed-by": "strata"}


def test_absent_deletes_and_check_mode_does_not(iam: Any) -> None:
    existing(iam, ["sts.amazonaws.com"], [THUMB], {})
    assert run(iam, check_mode=True, state="absent")["changed"] is True
    existing(iam, ["sts.amazonaws.com"], [THUMB], {})
    iam.stubber.add_response("delete_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN})
    assert run(iam, state="absent")["changed"] is True
