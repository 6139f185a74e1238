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
