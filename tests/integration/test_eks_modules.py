"""The EKS and OIDC modules through Ansible against the embedded cloud, which implements
clusters, managed node groups and IAM OIDC providers: create, a second run that changes
nothing, an in-place update, a refused deletion, removal."""

from __future__ import annotations

import json

import pytest

from tests.helpers import Cloud

pytestmark = pytest.mark.integration


def test_eks_modules_lifecycle(private_cloud: Cloud) -> None:
    ec2 = private_cloud.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.98.{i}.0/24", AvailabilityZone=f"eu-west-3{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in enumerate("abc", start=1)
    ]
    result = private_cloud.playbook(
        "tests/integration/playbooks/eks_modules.yml",
        "-e",
        json.dumps({"endpoint": private_cloud.endpoint, "subnet_ids": subnet_ids}),
    )
    assert result.returncode == 0, result.output[-4000:]
    assert result.recap["failed"] == 0
    assert private_cloud.client("eks").list_clusters()["clusters"] == []
    assert private_cloud.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
