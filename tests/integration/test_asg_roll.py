"""strata_asg_roll through Ansible against the embedded cloud: a self-managed node group whose launch template gets a
new version (a new AMI after a Kubernetes upgrade, a new security group) rolls every instance onto it, at most
max_unavailable at a time, keeping its capacity; then nothing is left to roll."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.helpers import Cloud

pytestmark = pytest.mark.integration


def test_a_new_launch_template_version_rolls_the_group(private_cloud: Cloud, tmp_path: Path) -> None:
    ec2, autoscaling = private_cloud.client("ec2"), private_cloud.client("autoscaling")
    vpc_id = ec2.create_vpc(CidrBlock="10.97.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.97.{i}.0/24", AvailabilityZone=f"eu-west-3{z}")[
        "Subnet"]["SubnetId"] for i, z in enumerate("abc", start=1)]  # fmt: skip
    images = [i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"][:2]]
    template = ec2.create_launch_template(
        LaunchTemplateName="roll-test", LaunchTemplateData={"ImageId": images[0], "InstanceType": "t3.small"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="roll-test", MinSize=4, MaxSize=6, DesiredCapacity=4, VPCZoneIdentifier=",".join(subnets),
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
    )  # fmt: skip

    def members() -> dict[str, str]:
        (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["roll-test"])["AutoScalingGroups"]
        return {i["InstanceId"]: i["LaunchTemplate"]["Version"] for i in group["Instances"]
                if i["LifecycleState"] == "InService"}  # fmt: skip

    before = members()
    assert sorted(before.values()) == ["1"] * 4
    # The new AMI: version 2, which the group launches from now on ($Latest); the running four stay on 1. With a
    # bootstrap script, as the eks role's templates carry one (moto stored a new version's UserData raw and failed to
    # launch from it: the embedded cloud's fix).
    bootstrap = base64.b64encode(b"#!/bin/sh\necho joined\n").decode()
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": images[1], "UserData": bootstrap}
    )

    out = tmp_path / "results.json"
    result = private_cloud.playbook(
        "tests/integration/playbooks/asg_roll.yml",
        "-e", json.dumps({"endpoint": private_cloud.endpoint, "group": "roll-test", "out": str(out)}),
    )  # fmt: skip
    assert result.returncode == 0, result.output[-4000:]
    runs = json.loads(out.read_text())
    assert runs["checked"]["changed"] is True and runs["checked"]["outdated"] == sorted(before)
    assert runs["rolled"]["changed"] is True and runs["rolled"]["outdated"] == sorted(before)
    assert runs["rolled"]["version"] == "2"
    after = members()
    assert len(after) == 4 and set(after.values()) == {"2"} and not set(after) & set(before)
    for name in ("again", "checked_again"):
        assert runs[name]["changed"] is False and runs[name]["outdated"] == [], name
    instances = ec2.describe_instances(InstanceIds=sorted(after))["Reservations"]
    assert {i["ImageId"] for r in instances for i in r["Instances"]} == {images[1]}
