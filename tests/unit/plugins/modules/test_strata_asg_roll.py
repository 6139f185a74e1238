"""strata_asg_roll under botocore's Stubber: only instances on another launch template version roll, by AWS's
instance refresh (every request checked against the real Auto Scaling model: the embedded cloud has no
StartInstanceRefresh) or batch by batch; nothing outdated, no call that changes anything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import FakeModule, load_module, strata_aws, stubbed

roll = load_module("strata_asg_roll")

GROUP = "strata-staging-app"
TEMPLATE = "lt-0123456789abcdef0"


def instance(instance_id: str, version: str, state: str = "InService") -> dict[str, Any]:
    return {
        "InstanceId": instance_id, "AvailabilityZone": "eu-west-3a", "LifecycleState": state, "HealthStatus": "Healthy",
        "ProtectedFromScaleIn": False, "LaunchTemplate": {"LaunchTemplateId": TEMPLATE, "Version": version},
    }  # fmt: skip


def group(*instances: dict[str, Any], desired: int = 3) -> dict[str, Any]:
    return {"AutoScalingGroups": [{
        "AutoScalingGroupName": GROUP, "MinSize": 3, "MaxSize": 6, "DesiredCapacity": desired, "DefaultCooldown": 300,
        "AvailabilityZones": ["eu-west-3a"], "HealthCheckType": "EC2", "CreatedTime": "2026-12-05T00:00:00Z",
        "LaunchTemplate": {"LaunchTemplateId": TEMPLATE, "LaunchTemplateName": GROUP, "Version": "$Latest"},
        "Instances": list(instances),
    }]}  # fmt: skip


def params(**overrides: Any) -> dict[str, Any]:
    return {"name": GROUP, "max_unavailable": 1, "method": "refresh", "instance_warmup": 300, "wait": True,
            "wait_timeout": 60, "wait_delay": 0, **overrides}  # fmt: skip


@pytest.fixture
def clients() -> Iterator[tuple[Any, Any]]:
    with stubbed("autoscaling") as autoscaling, stubbed("ec2") as ec2:
        yield autoscaling, ec2


def expect_group(autoscaling: Any, *instances: dict[str, Any], desired: int = 3) -> None:
    autoscaling.stubber.add_response(
        "describe_auto_scaling_groups", group(*instances, desired=desired), {"AutoScalingGroupNames": [GROUP]}
    )


def expect_template(ec2: Any, latest: int = 2) -> None:
    ec2.stubber.add_response(
        "describe_launch_templates",
        {"LaunchTemplates": [{"LaunchTemplateId": TEMPLATE, "LatestVersionNumber": latest, "DefaultVersionNumber": 1}]},
        {"LaunchTemplateIds": [TEMPLATE]},
    )


def test_nothing_outdated_nothing_rolls(clients: tuple[Any, Any]) -> None:
    autoscaling, ec2 = clients
    expect_group(autoscaling, instance("i-a", "2"), instance("i-b", "2"), instance("i-c", "2"))
    expect_template(ec2)
    result = roll.run(FakeModule(params()), autoscaling, ec2)
    assert result == {"changed": False, "outdated": [], "version": "2"}  # and no StartInstanceRefresh


def test_outdated_instances_roll_by_an_instance_refresh_that_keeps_two_of_three(clients: tuple[Any, Any]) -> None:
    autoscaling, ec2 = clients
    expect_group(autoscaling, instance("i-a", "1"), instance("i-b", "2"), instance("i-c", "1"))
    expect_template(ec2)
    autoscaling.stubber.add_response("describe_instance_refreshes", {"InstanceRefreshes": []},
                                     {"AutoScalingGroupName": GROUP})  # fmt: skip
    autoscaling.stubber.add_response(
        "start_instance_refresh",
        {"InstanceRefreshId": "r-1"},
        {
            "AutoScalingGroupName": GROUP,
            "Strategy": "Rolling",
            "Preferences": {"MinHealthyPercentage": 66, "InstanceWarmup": 300, "SkipMatching": True},
        },
    )
    for status in ("InProgress", "Successful"):
        autoscaling.stubber.add_response(
            "describe_instance_refreshes",
            {"InstanceRefreshes": [{"InstanceRefreshId": "r-1", "AutoScalingGroupName": GROUP, "Status": status}]},
            {"AutoScalingGroupName": GROUP, "InstanceRefreshIds": ["r-1"]},
        )
    result = roll.run(FakeModule(params()), autoscaling, ec2)
    assert result == {"changed": True, "outdated": ["i-a", "i-c"], "version": "2", "instance_refresh_id": "r-1"}


def test_a_refresh_already_running_is_followed_not_doubled_and_its_failure_fails(clients: tuple[Any, Any]) -> None:
    autoscaling, ec2 = clients
    expect_group(autoscaling, instance("i-a", "1"))
    expect_template(ec2)
    running = {"InstanceRefreshId": "r-0", "AutoScalingGroupName": GROUP, "Status": "InProgress"}
    autoscaling.stubber.add_response("describe_instance_refreshes", {"InstanceRefreshes": [running]},
                                     {"AutoScalingGroupName": GROUP})  # fmt: skip
    autoscaling.stubber.add_response(
        "describe_instance_refreshes",
        {"InstanceRefreshes": [{**running, "Status": "Failed", "StatusReason": "instances failed health checks"}]},
        {"AutoScalingGroupName": GROUP, "InstanceRefreshIds": ["r-0"]},
    )
    with pytest.raises(strata_aws.Refused, match="r-0 of strata-staging-app ended Failed: instances failed health"):
        roll.run(FakeModule(params()), autoscaling, ec2)


def test_replace_rolls_one_batch_at_a_time_keeping_the_capacity(clients: tuple[Any, Any]) -> None:
    autoscaling, ec2 = clients
    expect_group(autoscaling, instance("i-a", "1"), instance("i-b", "1"), instance("i-c", "2"))
    expect_template(ec2)
    for leaving, after in (
        ("i-a", [instance("i-b", "1"), instance("i-c", "2"), instance("i-d", "2")]),
        ("i-b", [instance("i-c", "2"), instance("i-d", "2"), instance("i-e", "2")]),
    ):
        autoscaling.stubber.add_response(
            "terminate_instance_in_auto_scaling_group",
            {},
            {"InstanceId": leaving, "ShouldDecrementDesiredCapacity": False},
        )
        # While the replacement boots the group is short of one; then it is back at capacity.
        expect_group(autoscaling, *after[:2], instance(leaving, "1", "Terminating"))
        expect_group(autoscaling, *after)
    result = roll.run(FakeModule(params(method="replace")), autoscaling, ec2)
    assert result == {"changed": True, "outdated": ["i-a", "i-b"], "version": "2"}


def test_check_mode_reports_what_would_roll_and_changes_nothing(clients: tuple[Any, Any]) -> None:
    autoscaling, ec2 = clients
    expect_group(autoscaling, instance("i-a", "1"))
    expect_template(ec2)
    result = roll.run(FakeModule(params(), check_mode=True), autoscaling, ec2)
    assert result == {"changed": True, "outdated": ["i-a"], "version": "2"}


@pytest.mark.parametrize(("desired", "unavailable", "percentage"), [(3, 1, 66), (4, 1, 75), (2, 1, 50), (1, 1, 0),
                                                                     (6, 2, 66), (0, 1, 100)])  # fmt: skip
def test_min_healthy_lets_at_most_max_unavailable_go(desired: int, unavailable: int, percentage: int) -> None:
    assert roll.min_healthy(desired, unavailable) == percentage


def test_a_zero_batch_is_refused_before_any_call() -> None:
    assert "at least 1 instance" in roll.validate(params(max_unavailable=0))
