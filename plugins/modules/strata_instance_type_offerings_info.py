#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: which of the zones an estate uses offer each instance type (read-only)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_instance_type_offerings_info
short_description: Tell which availability zones offer each EC2 instance type, before anything is created
description:
  - Reads C(DescribeInstanceTypeOfferings) for the given instance types in the zones an estate uses, so that a
    node group or a bastion whose type a zone does not offer is refused before the first write (AWS would
    otherwise fail half-way through, after the network and the cluster exist). Neither amazon.aws nor
    community.aws reads instance type offerings.
  - The zones are the region's available zones sorted by name, the first I(zone_count) of them - the rule the
    address plan uses to place the subnets (strata.domain.address_plan).
  - Changes nothing; check mode is the same run.
version_added: "0.3.0"
author: strata maintainers
options:
  instance_types:
    description: The instance types to look up.
    type: list
    elements: str
    required: true
  zone_count:
    description: How many zones the estate spans (the address plan's C(zones)); every available zone when omitted.
    type: int
extends_documentation_fragment: [amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: Refuse node group types a zone does not offer
  strata_instance_type_offerings_info:
    instance_types: [m6i.large, r6i.large]
    zone_count: 3
  register: offerings
  failed_when: offerings.missing | length > 0
"""

RETURN = r"""
zones:
  description: The zones looked at, sorted.
  returned: always
  type: list
  elements: str
  sample: [eu-west-3a, eu-west-3b, eu-west-3c]
offered:
  description: For each instance type, the zones that offer it.
  returned: always
  type: dict
  sample: {m6i.large: [eu-west-3a, eu-west-3b, eu-west-3c]}
missing:
  description: The instance types some zone does not offer, with those zones (empty when all are offered).
  returned: always
  type: dict
  sample: {x2iedn.metal: [eu-west-3c]}
"""

from typing import Any, Dict, List

from ansible.module_utils import strata_aws as kit


def zones_of(client: Any, count: Any) -> List[str]:
    """The region's available zones by name, the first `count` (all when count is None)."""
    response = kit.call(
        client,
        "describe_availability_zones",
        Filters=[{"Name": "state", "Values": ["available"]}, {"Name": "zone-type", "Values": ["availability-zone"]}],
    )
    zones = sorted(zone["ZoneName"] for zone in response["AvailabilityZones"])
    return zones if count is None else zones[:count]


def run(module: Any, client: Any) -> Dict[str, Any]:
    types: List[str] = sorted(set(module.params["instance_types"]))
    zones = zones_of(client, module.params["zone_count"])
    offered: Dict[str, List[str]] = {name: [] for name in types}
    request: Dict[str, Any] = {
        "LocationType": "availability-zone",
        "Filters": [{"Name": "instance-type", "Values": types}, {"Name": "location", "Values": zones}],
    }
    while True:
        page = kit.call(client, "describe_instance_type_offerings", **request)
        for offering in page["InstanceTypeOfferings"]:
            offered[offering["InstanceType"]].append(offering["Location"])
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    offered = {name: sorted(found) for name, found in offered.items()}
    missing = {name: [z for z in zones if z not in found] for name, found in offered.items() if set(zones) - set(found)}
    return {"changed": False, "zones": zones, "offered": offered, "missing": missing}


def main() -> None:
    argument_spec = dict(
        instance_types=dict(type="list", elements="str", required=True),
        zone_count=dict(type="int"),
    )
    kit.run_module(
        argument_spec,
        run,
        service="ec2",
        failure="Failed to read the instance type offerings",
        check=lambda params: (
            None
            if params["instance_types"] and (params["zone_count"] is None or params["zone_count"] > 0)
            else "instance_types must list at least one type and zone_count must be positive"
        ),
    )


if __name__ == "__main__":
    main()
