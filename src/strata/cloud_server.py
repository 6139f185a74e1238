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
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from moto.core.responses import ActionResult
from moto.ec2 import utils as ec2_utils
from moto.ec2.responses.security_groups import SecurityGroups
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


def apply_fidelity_fixes() -> None:
    ec2_utils.EC2_PREFIX_TO_RESOURCE.update(FIDELITY_FIXES)
    for name in (
        "update_security_group_rule_descriptions_ingress",
        "update_security_group_rule_descriptions_egress",
    ):
        setattr(SecurityGroups, name, _answer_return_true(getattr(SecurityGroups, name)))


def main(argv: list[str] | None = None) -> None:
    apply_fidelity_fixes()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
