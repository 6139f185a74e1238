"""The embedded cloud's own fidelity fixes (src/strata/tools/cloud_server.py), where a role's test would only show
them as an HTTP 500: each answers as AWS does."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.helpers import Cloud

pytestmark = pytest.mark.integration


def _template(ec2, name: str) -> str:  # type: ignore[no-untyped-def]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image})
    template_id: str = template["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData={"InstanceType": "t3.small"})
    return template_id


def test_delete_launch_template_versions_as_aws_answers(private_cloud: Cloud) -> None:
    ec2 = private_cloud.client("ec2")
    template_id = _template(ec2, "versions")

    answer = ec2.delete_launch_template_versions(LaunchTemplateId=template_id, Versions=["1", "2", "7"])
    assert [v["VersionNumber"] for v in answer["SuccessfullyDeletedLaunchTemplateVersions"]] == [2]
    refused = {
        v["VersionNumber"]: v["ResponseError"]["Code"] for v in answer["UnsuccessfullyDeletedLaunchTemplateVersions"]
    }
    assert refused == {1: "unexpectedError", 7: "launchTemplateVersionDoesNotExist"}  # 1 is the default version

    listed = ec2.describe_launch_template_versions(LaunchTemplateId=template_id)["LaunchTemplateVersions"]
    assert [v["VersionNumber"] for v in listed] == [1]
    with pytest.raises(ClientError):
        ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["2"])
    again = ec2.delete_launch_template_versions(LaunchTemplateId=template_id, Versions=["2"])
    assert again["UnsuccessfullyDeletedLaunchTemplateVersions"][0]["ResponseError"]["Code"] == (
        "launchTemplateVersionDoesNotExist"
    )
    # A deleted number is not reused, and $Latest is the newest version that exists.
    created = ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData={})
    assert created["LaunchTemplateVersion"]["VersionNumber"] == 3
    latest = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])
    assert latest["LaunchTemplateVersions"][0]["VersionNumber"] == 3


def test_a_template_with_two_versions_is_removed_by_amazon_aws(private_cloud: Cloud) -> None:
    ec2 = private_cloud.client("ec2")
    _template(ec2, "two-versions")
    result = private_cloud.playbook(
        "tests/integration/playbooks/launch_template_absent.yml",
        "-e", json.dumps({"endpoint": private_cloud.endpoint, "template": "two-versions"}),
    )  # fmt: skip
    assert result.returncode == 0, result.output[-4000:]
    names = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]]
    assert "two-versions" not in names


def _cluster(private_cloud: Cloud, version: str):  # type: ignore[no-untyped-def]
    ec2, eks = private_cloud.client("ec2"), private_cloud.client("eks")
    vpc = ec2.create_vpc(CidrBlock="10.97.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.97.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    role = "arn:aws:iam::123456789012:role/upgrade"
    eks.create_cluster(name="upgrade", version=version, roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    template_id = _template(ec2, "upgrade-app")
    eks.create_nodegroup(
        clusterName="upgrade", nodegroupName="app", nodeRole=role, subnets=subnets, version=version,
        launchTemplate={"id": template_id, "version": "1"},
    )  # fmt: skip
    return eks


def test_eks_version_updates_follow_the_rules_eks_enforces(private_cloud: Cloud) -> None:
    """UpdateClusterVersion, UpdateNodegroupVersion and DescribeUpdate (moto has none: HTTP 404): one minor at a
    time, the node groups follow the control plane and never pass it, only the node group's own template moves."""
    eks = _cluster(private_cloud, "1.34")

    def refused(call, **kwargs):  # type: ignore[no-untyped-def]
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterException", caught.value
        return caught.value.response["Error"]["Message"]

    assert "from 1.34 to 1.36" in refused(eks.update_cluster_version, name="upgrade", version="1.36")
    assert "newer than the cluster" in refused(
        eks.update_nodegroup_version, clusterName="upgrade", nodegroupName="app", version="1.35"
    )
    update = eks.update_cluster_version(name="upgrade", version="1.35")["update"]
    assert update["status"] == "InProgress" and update["type"] == "VersionUpdate"
    assert eks.describe_update(name="upgrade", updateId=update["id"])["update"]["status"] == "Successful"
    assert eks.describe_cluster(name="upgrade")["cluster"]["version"] == "1.35"
    # The node group is behind: the control plane cannot move again before it follows.
    assert "must be updated to match" in refused(eks.update_cluster_version, name="upgrade", version="1.36")

    assert "only its version" in refused(
        eks.update_nodegroup_version, clusterName="upgrade", nodegroupName="app",
        launchTemplate={"name": "another", "version": "2"},
    )  # fmt: skip
    with pytest.raises(ClientError):  # a version the template does not have
        eks.update_nodegroup_version(
            clusterName="upgrade", nodegroupName="app", launchTemplate={"name": "upgrade-app", "version": "9"}
        )
    followed = eks.update_nodegroup_version(
        clusterName="upgrade",
        nodegroupName="app",
        version="1.35",
        launchTemplate={"name": "upgrade-app", "version": "2"},
    )["update"]
    described = eks.describe_update(name="upgrade", updateId=followed["id"], nodegroupName="app")["update"]
    assert described["status"] == "Successful"
    group = eks.describe_nodegroup(clusterName="upgrade", nodegroupName="app")["nodegroup"]
    assert group["version"] == "1.35" and group["launchTemplate"]["version"] == "2"
    eks.update_cluster_version(name="upgrade", version="1.36")
