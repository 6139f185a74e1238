"""strata_eks_token against moto's in-process STS and EKS: the token is the one EKS expects (its URL is a real,
signed GetCallerIdentity call that moto answers), the kubeconfig carries it inline, errors name the fix."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from moto import mock_aws

from tests.helpers import ROOT

lookup_loader.add_directory(str(ROOT / "plugins" / "lookup"))
REGION = "eu-west-3"


@pytest.fixture
def cluster() -> Iterator[dict[str, Any]]:
    with mock_aws():
        eks = boto3.client("eks", region_name=REGION)
        created = eks.create_cluster(
            name="strata-test",
            roleArn="arn:aws:iam::123456789012:role/strata-test-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        )["cluster"]
        yield created


def lookup(*terms: str, **options: Any) -> list[dict[str, Any]]:
    plugin = lookup_loader.get("strata_eks_token", loader=DataLoader(), templar=None)
    result: list[dict[str, Any]] = plugin.run(list(terms), variables={}, region=REGION, **options)
    return result


def presigned_url(token: str) -> str:
    assert token.startswith("k8s-aws-v1.")
    encoded = token.removeprefix("k8s-aws-v1.")
    assert "=" not in encoded  # unpadded base64url, as aws-iam-authenticator expects
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def test_the_token_is_a_signed_get_caller_identity_for_the_cluster(cluster: dict[str, Any]) -> None:
    (result,) = lookup("strata-test")
    url = presigned_url(result["token"])
    parsed = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parsed.query))
    assert parsed.netloc == f"sts.{REGION}.amazonaws.com"
    assert query["Action"] == "GetCallerIdentity" and query["X-Amz-Expires"] == "60"
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"].split(";")
    assert query["X-Amz-Credential"].split("/")[2] == REGION
    # What EKS does with the token: call the URL with the cluster header. moto answers a real STS response.
    answer = requests.get(url, headers={"x-k8s-aws-id": "strata-test"}, timeout=5)
    assert answer.status_code == 200 and "GetCallerIdentityResponse" in answer.text


def test_the_kubeconfig_holds_the_token_endpoint_and_ca(cluster: dict[str, Any]) -> None:
    (result,) = lookup("strata-test")
    assert result["host"] == cluster["endpoint"]
    config = result["kubeconfig"]
    assert config["current-context"] == "strata-test"
    assert config["clusters"][0]["cluster"] == {
        "server": cluster["endpoint"],
        "certificate-authority-data": cluster["certificateAuthority"]["data"],
    }
    assert config["users"][0]["user"] == {"token": result["token"]}  # inline: no exec plugin
    assert result["expiration"].endswith("Z")


def test_token_only_without_describe(cluster: dict[str, Any]) -> None:
    (result,) = lookup("no-such-cluster", describe=False)
    assert set(result) == {"token", "expiration"}


def test_an_unknown_cluster_names_the_variables_to_check(cluster: dict[str, Any]) -> None:
    with pytest.raises(AnsibleError, match="no EKS cluster strata-nope in eu-west-3: check eks_cluster_name"):
        lookup("strata-nope")


def test_an_endpoint_is_used_for_both_services(cluster: dict[str, Any]) -> None:
    (result,) = lookup("strata-test", endpoint_url="http://127.0.0.1:5055", describe=False)
    assert presigned_url(result["token"]).startswith("http://127.0.0.1:5055/?")
