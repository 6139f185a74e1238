"""Entry point of the embedded cloud: moto's server, with fidelity fixes where it differs from AWS.

Each fix makes the emulator answer as AWS does, so that the platform's code is exercised
exactly as against a real account. Keep this list short and documented
(docs/embedded-cloud.md):

- DescribeTags reports NAT gateways with resource type "natgateway" (AWS's value); moto
  says "nat-gateway", so a filter on resource-type=natgateway (amazon.aws does this to
  reconcile tags) finds nothing and every run would re-tag the NAT gateways.
- UpdateSecurityGroupRuleDescriptions{Ingress,Egress} answer <return>true</return> as in
  AWS; moto answers an empty body, and amazon.aws.ec2_security_group fails on the missing
  "Return" key whenever it changes a rule description.
- CreateLaunchTemplate keeps the template's own tags (TagSpecifications of type
  launch-template) out of the first version's LaunchTemplateData, as AWS does; moto copies
  them in, so amazon.aws.ec2_launch_template sees a difference and adds a version per run.
- Auto Scaling groups spread their instances over the subnets of VPCZoneIdentifier (AWS
  balances availability zones); moto launches them all in the first subnet.
- ScheduleKeyDeletion accepts a key ARN as AWS does (amazon.aws.kms_key passes one); moto
  fails with a KeyError (HTTP 500) unless given the bare key id.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from moto.autoscaling.models import FakeAutoScalingGroup
from moto.core.responses import ActionResult
from moto.ec2 import utils as ec2_utils
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.responses.security_groups import SecurityGroups
from moto.kms.models import KmsBackend
from moto.server import main as moto_main

FIDELITY_FIXES = {"nat": "natgateway"}


def _answer_return_true(
    action: Callable[[SecurityGroups], object],
) -> Callable[[SecurityGroups], ActionResult]:
    @functools.wraps(action)
    def wrapper(self: SecurityGroups) -> ActionResult:
        action(self)
        return ActionResult({"Return": True})

    return wrapper


def _template_tags_stay_on_the_template(
    action: Callable[[LaunchTemplates], ActionResult],
) -> Callable[[LaunchTemplates], ActionResult]:
    @functools.wraps(action)
    def wrapper(self: LaunchTemplates) -> ActionResult:
        result = action(self)
        template = self.ec2_backend.get_launch_template_by_name(self._get_param("LaunchTemplateName"))
        for version in template.versions:
            specs = version.data.get("TagSpecifications")
            if specs:
                version.data["TagSpecifications"] = [s for s in specs if s.get("ResourceType") != "launch-template"]
        return result

    return wrapper


def _balance_zones(
    replace: Callable[[FakeAutoScalingGroup, int, dict[str, str]], None],
) -> Callable[[FakeAutoScalingGroup, int, dict[str, str]], None]:
    @functools.wraps(replace)
    def wrapper(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]) -> None:
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        if len(subnets) < 2:
            replace(self, count_needed, propagated_tags)
            return
        try:
            for _ in range(count_needed):
                load = {s: 0 for s in subnets}
                for state in self.instance_states:
                    subnet = getattr(state.instance, "subnet_id", None)
                    if subnet in load:
                        load[subnet] += 1
                # One at a time, into the least-loaded subnet (first on ties): AWS's balancing.
                self.vpc_zone_identifier = min(subnets, key=lambda s: (load[s], subnets.index(s)))
                replace(self, 1, dict(propagated_tags))
        finally:
            self.vpc_zone_identifier = ",".join(subnets)

    return wrapper


def _any_key_id(schedule: Callable[[KmsBackend, str, int], float]) -> Callable[[KmsBackend, str, int], float]:
    @functools.wraps(schedule)
    def wrapper(self: KmsBackend, key_id: str, pending_window_in_days: int) -> float:
        return schedule(self, self.any_id_to_key_id(key_id), pending_window_in_days)

    return wrapper


def apply_fidelity_fixes() -> None:
    ec2_utils.EC2_PREFIX_TO_RESOURCE.update(FIDELITY_FIXES)
    for name in (
        "update_security_group_rule_descriptions_ingress",
        "update_security_group_rule_descriptions_egress",
    ):
        setattr(SecurityGroups, name, _answer_return_true(getattr(SecurityGroups, name)))
    FakeAutoScalingGroup.replace_autoscaling_group_instances = _balance_zones(  # type: ignore[method-assign,assignment]
        FakeAutoScalingGroup.replace_autoscaling_group_instances
    )
    KmsBackend.schedule_key_deletion = _any_key_id(KmsBackend.schedule_key_deletion)  # type: ignore[method-assign,assignment]
    LaunchTemplates.create_launch_template = _template_tags_stay_on_the_template(  # type: ignore[method-assign,assignment]
        LaunchTemplates.create_launch_template
    )


def main(argv: list[str] | None = None) -> None:
    apply_fidelity_fixes()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
