#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: roll an Auto Scaling group's instances onto its launch template's current version."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_asg_roll
short_description: Roll an Auto Scaling group's instances onto the launch template version it launches
description:
  - A self-managed EKS node group is an Auto Scaling group launching C($Latest) of its launch template. A new version
    (the AMI of a new Kubernetes version, a new security group, new user data) only reaches the instances launched
    after it; the ones already running keep the old one until they are replaced. This module finds the instances
    that run another launch template or version than the one the group launches now and replaces them, at most
    I(max_unavailable) at a time, the group keeping its desired capacity.
  - I(method=refresh) starts an instance refresh (StartInstanceRefresh, strategy Rolling, C(SkipMatching) so that only
    outdated instances roll, C(MinHealthyPercentage) from I(max_unavailable)), or follows the one already running;
    a failed or cancelled refresh fails the task. amazon.aws.autoscaling_instance_refresh starts and cancels refreshes
    but cannot tell whether one is needed, so every run would roll the whole group.
  - I(method=replace) replaces outdated instances itself, I(max_unavailable) at a time
    (TerminateInstanceInAutoScalingGroup without decrementing the desired capacity, then waiting for the group to be
    back at capacity on the new version), for targets without instance refreshes (the embedded cloud).
  - Nothing outdated, nothing changes. Check mode reports what would roll; throttling is retried with jittered
    exponential backoff.
version_added: "0.3.0"
author: strata maintainers
options:
  name:
    description: The Auto Scaling group.
    type: str
    required: true
  max_unavailable:
    description: Instances replaced at once (at least 1).
    type: int
    default: 1
  method:
    description: C(refresh) (AWS's instance refresh) or C(replace) (one batch after another, by this module).
    type: str
    choices: [refresh, replace]
    default: refresh
  instance_warmup:
    description: Seconds a new instance is given before it counts as healthy (refresh).
    type: int
    default: 300
extends_documentation_fragment: [strata_aws.wait, amazon.aws.common.modules, amazon.aws.region.modules,
  amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: The app nodes follow their launch template (a new AMI after a Kubernetes upgrade)
  strata_asg_roll:
    name: strata-staging-app
    max_unavailable: 1
"""

RETURN = r"""
outdated:
  description: Instances that ran another launch template version than the group's (before the roll).
  returned: always
  type: list
  elements: str
  sample: [i-0123456789abcdef0]
version:
  description: The launch template version the group launches (C($Latest) and C($Default) resolved).
  returned: always
  type: str
  sample: "3"
instance_refresh_id:
  description: The instance refresh started or followed (I(method=refresh)).
  returned: when a refresh ran
  type: str
"""

import math
from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils import strata_aws as kit

ACTIVE_REFRESH = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


def describe_group(autoscaling: Any, name: str) -> Dict[str, Any]:
    groups = kit.call(autoscaling, "describe_auto_scaling_groups", AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        raise kit.Refused(f"Auto Scaling group {name} does not exist: converge the node groups first")
    group: Dict[str, Any] = groups[0]
    return group


def wanted_template(ec2: Any, group: Dict[str, Any]) -> Tuple[str, str]:
    """The launch template id and the version number the group launches now."""
    spec = group.get("LaunchTemplate")
    if not spec:
        raise kit.Refused(f"Auto Scaling group {group['AutoScalingGroupName']} has no launch template to roll onto")
    selector = {"LaunchTemplateIds": [spec["LaunchTemplateId"]]} if spec.get("LaunchTemplateId") else {
        "LaunchTemplateNames": [spec["LaunchTemplateName"]]}  # fmt: skip
    template = kit.call(ec2, "describe_launch_templates", **selector)["LaunchTemplates"][0]
    version = str(spec.get("Version") or "$Default")
    if version == "$Latest":
        version = str(template["LatestVersionNumber"])
    elif version == "$Default":
        version = str(template["DefaultVersionNumber"])
    return template["LaunchTemplateId"], version


def outdated(group: Dict[str, Any], template_id: str, version: str) -> List[str]:
    """Instances (not leaving) that run another template or version."""
    stale = []
    for instance in group.get("Instances", []):
        if instance.get("LifecycleState", "").startswith(("Terminat", "Detach")):
            continue
        spec = instance.get("LaunchTemplate") or {}
        if spec.get("LaunchTemplateId") != template_id or str(spec.get("Version")) != version:
            stale.append(instance["InstanceId"])
    return sorted(stale)


def min_healthy(desired: int, max_unavailable: int) -> int:
    """MinHealthyPercentage that lets at most max_unavailable of desired instances go at once."""
    if desired <= 0:
        return 100
    return max(0, math.floor(100 * (desired - max_unavailable) / desired))


class Roller:
    def __init__(self, module: Any, autoscaling: Any, ec2: Any) -> None:
        self.module = module
        self.params = module.params
        self.autoscaling = autoscaling
        self.ec2 = ec2

    def wait(self, done: Any, what: str) -> Any:
        return kit.wait_until(
            lambda: describe_group(self.autoscaling, self.params["name"]),
            done,
            timeout=self.params["wait_timeout"],
            what=what,
            delay=self.params.get("wait_delay", 10.0),
        )

    def refresh(self, group: Dict[str, Any]) -> str:
        name = self.params["name"]
        running = kit.call(self.autoscaling, "describe_instance_refreshes", AutoScalingGroupName=name)
        active = [r for r in running.get("InstanceRefreshes", []) if r["Status"] in ACTIVE_REFRESH]
        if active:
            refresh_id = str(active[0]["InstanceRefreshId"])
        else:
            started = kit.call(
                self.autoscaling,
                "start_instance_refresh",
                AutoScalingGroupName=name,
                Strategy="Rolling",
                Preferences={
                    "MinHealthyPercentage": min_healthy(group["DesiredCapacity"], self.params["max_unavailable"]),
                    "InstanceWarmup": self.params["instance_warmup"],
                    "SkipMatching": True,
                },
            )
            refresh_id = str(started["InstanceRefreshId"])
        if self.params["wait"]:
            final = kit.wait_until(
                lambda: kit.call(
                    self.autoscaling,
                    "describe_instance_refreshes",
                    AutoScalingGroupName=name,
                    InstanceRefreshIds=[refresh_id],
                )["InstanceRefreshes"][0],
                lambda r: r["Status"] not in ACTIVE_REFRESH,
                timeout=self.params["wait_timeout"],
                what=f"the instance refresh {refresh_id} of {name}",
                delay=self.params.get("wait_delay", 30.0),
            )
            if final["Status"] != "Successful":
                raise kit.Refused(
                    f"the instance refresh {refresh_id} of {name} ended {final['Status']}: "
                    f"{final.get('StatusReason', 'no reason given')} (aws autoscaling describe-instance-refreshes)"
                )
        return refresh_id

    def replace(self, group: Dict[str, Any], template_id: str, version: str, stale: List[str]) -> None:
        name, size = self.params["name"], group["DesiredCapacity"]
        batch = max(1, self.params["max_unavailable"])
        for start in range(0, len(stale), batch):
            leaving = stale[start : start + batch]
            for instance_id in leaving:
                kit.call(
                    self.autoscaling,
                    "terminate_instance_in_auto_scaling_group",
                    InstanceId=instance_id,
                    ShouldDecrementDesiredCapacity=False,
                )

            def back(current: Dict[str, Any], leaving: List[str] = leaving) -> bool:
                # Replacements come from the group's launch template as it is now: the new version.
                serving = [
                    i["InstanceId"] for i in current.get("Instances", []) if i.get("LifecycleState") == "InService"
                ]
                return len(serving) >= size and not set(serving) & set(leaving)

            self.wait(back, f"{name} back at {size} instances after replacing {', '.join(leaving)}")


def run(module: Any, autoscaling: Any, ec2: Any) -> Dict[str, Any]:
    params = module.params
    group = describe_group(autoscaling, params["name"])
    template_id, version = wanted_template(ec2, group)
    stale = outdated(group, template_id, version)
    result: Dict[str, Any] = {"changed": bool(stale), "outdated": stale, "version": version}
    if not stale or module.check_mode:
        return result
    roller = Roller(module, autoscaling, ec2)
    if params["method"] == "refresh":
        result["instance_refresh_id"] = roller.refresh(group)
    else:
        roller.replace(group, template_id, version, stale)
    return result


def validate(params: Dict[str, Any]) -> Optional[str]:
    if params["max_unavailable"] < 1:
        return (
            f"max_unavailable={params['max_unavailable']} for {params['name']}: at least 1 instance must roll at a time"
        )
    return None


def main() -> None:
    argument_spec = dict(
        name=dict(type="str", required=True),
        max_unavailable=dict(type="int", default=1),
        method=dict(type="str", choices=["refresh", "replace"], default="refresh"),
        instance_warmup=dict(type="int", default=300),
        **kit.wait_options(3600),
    )
    kit.run_module(
        argument_spec,
        lambda module, client: run(module, client, module.client("ec2")),
        service="autoscaling",
        failure=lambda params: f"Failed to roll the instances of {params['name']}",
        check=validate,
    )


if __name__ == "__main__":
    main()
