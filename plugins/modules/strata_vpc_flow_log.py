#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: a VPC (or subnet / ENI) flow log, idempotent, with check and diff mode."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_vpc_flow_log
short_description: Manage one EC2 flow log (VPC, subnet or network interface)
description:
  - Creates, updates the tags of, or deletes one flow log, found again by its resource, traffic type and
    destination. Neither amazon.aws nor community.aws has a module for flow logs.
  - A flow log's settings are immutable in AWS; when they differ from the wanted ones the flow log is
    replaced (deleted, then created), and C(diff) mode shows the change.
  - Throttling and eventual-consistency errors are retried with jittered exponential backoff.
version_added: "0.1.0"
author: strata maintainers
options:
  state:
    description:
      - Whether the flow log should exist. With C(absent), the flow log of I(resource_id) with this traffic
        type and destination is deleted, whatever its other settings.
    type: str
    choices: [present, absent]
    default: present
  resource_id:
    description: The VPC, subnet or network interface id.
    type: str
    required: true
  resource_type:
    description: The kind of I(resource_id).
    type: str
    choices: [VPC, Subnet, NetworkInterface]
    default: VPC
  traffic_type:
    description: Which traffic to capture.
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  log_destination_type:
    description: Where the records go.
    type: str
    choices: [cloud-watch-logs, s3]
    default: cloud-watch-logs
  log_group_name:
    description: CloudWatch Logs group; required when I(log_destination_type=cloud-watch-logs).
    type: str
  deliver_logs_permission_arn:
    description:
      - IAM role that delivers to CloudWatch Logs; required when I(log_destination_type=cloud-watch-logs)
        and I(state=present).
    type: str
  log_destination:
    description: ARN of the S3 bucket (optionally with a prefix); required when I(log_destination_type=s3).
    type: str
  max_aggregation_interval:
    description: Seconds over which packets are aggregated into one record.
    type: int
    choices: [60, 600]
    default: 600
  log_format:
    description: Custom record format; AWS's default format when omitted.
    type: str
extends_documentation_fragment: [amazon.aws.tags,
  amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: Flow log of the VPC to CloudWatch Logs
  strata_vpc_flow_log:
    resource_id: "{{ vpc_id }}"
    traffic_type: ALL
    log_group_name: /strata/staging/vpc-flow-logs
    deliver_logs_permission_arn: "{{ flow_logs_role_arn }}"
    max_aggregation_interval: 60
    tags: {managed-by: strata, env: staging}

- name: Rejected traffic only, to S3
  strata_vpc_flow_log:
    resource_id: "{{ vpc_id }}"
    traffic_type: REJECT
    log_destination_type: s3
    log_destination: "arn:aws:s3:::strata-staging-logs/flow-logs/"

- name: Remove it
  strata_vpc_flow_log:
    resource_id: "{{ vpc_id }}"
    traffic_type: REJECT
    log_destination_type: s3
    log_destination: "arn:aws:s3:::strata-staging-logs/flow-logs/"
    state: absent
"""

RETURN = r"""
flow_log:
  description: The flow log as AWS describes it (snake_case), empty when absent.
  returned: always
  type: dict
  sample:
    flow_log_id: fl-0123456789abcdef0
    resource_id: vpc-0123456789abcdef0
    traffic_type: ALL
    log_destination_type: cloud-watch-logs
    log_group_name: /strata/staging/vpc-flow-logs
    max_aggregation_interval: 60
    tags: {managed-by: strata}
"""

from typing import Any, Dict, List, Optional

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible.module_utils import strata_aws as kit

# Settings that identify a flow log and cannot change without replacing it.
IMMUTABLE = (
    "TrafficType",
    "LogDestinationType",
    "LogGroupName",
    "DeliverLogsPermissionArn",
    "LogDestination",
    "MaxAggregationInterval",
    "LogFormat",
)


def wanted_settings(params: Dict[str, Any]) -> Dict[str, Any]:
    """The API's field names and values for the module's parameters (None: AWS decides)."""
    settings: Dict[str, Any] = {
        "TrafficType": params["traffic_type"],
        "LogDestinationType": params["log_destination_type"],
        "MaxAggregationInterval": params["max_aggregation_interval"],
        "LogFormat": params.get("log_format"),
    }
    if params["log_destination_type"] == "cloud-watch-logs":
        settings["LogGroupName"] = params["log_group_name"]
        settings["DeliverLogsPermissionArn"] = params["deliver_logs_permission_arn"]
    else:
        settings["LogDestination"] = params["log_destination"]
    return settings


def destination_only(settings: Dict[str, Any]) -> Dict[str, Any]:
    return {
        k: v
        for k, v in settings.items()
        if k in ("TrafficType", "LogDestinationType", "LogGroupName", "LogDestination")
    }


def differences(current: Dict[str, Any], wanted: Dict[str, Any]) -> List[str]:
    return sorted(k for k in IMMUTABLE if wanted.get(k) is not None and current.get(k) != wanted[k])


class FlowLogManager:
    """Reconciles one flow log; returns before any write in check mode."""

    def __init__(self, client: Any, check_mode: bool) -> None:
        self.client = client
        self.check_mode = check_mode
        self.changed = False

    def find(self, resource_id: str, settings: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The resource's flow log for this traffic type and destination type, if any."""
        filters = [
            {"Name": "resource-id", "Values": [resource_id]},
            {"Name": "traffic-type", "Values": [settings["TrafficType"]]},
            {"Name": "log-destination-type", "Values": [settings["LogDestinationType"]]},
        ]
        flow_logs = kit.call(self.client, "describe_flow_logs", Filters=filters)["FlowLogs"]
        if not flow_logs:
            return None
        # Prefer the one that already matches the destination; any other is a replacement candidate.
        exact = [f for f in flow_logs if not differences(f, settings)]
        found: Dict[str, Any] = (exact or flow_logs)[0]
        return found

    def create(
        self, resource_id: str, resource_type: str, settings: Dict[str, Any], tags: Optional[Dict[str, str]]
    ) -> Dict[str, Any]:
        self.changed = True
        if self.check_mode:
            return {"ResourceId": resource_id, **{k: v for k, v in settings.items() if v is not None}, "Tags": []}
        request = {"ResourceIds": [resource_id], "ResourceType": resource_type}
        request.update({k: v for k, v in settings.items() if v is not None})
        specs = kit.tag_specifications("vpc-flow-log", tags)
        if specs:
            request["TagSpecifications"] = specs
        response = kit.call(self.client, "create_flow_logs", **request)
        if response.get("Unsuccessful"):
            error = response["Unsuccessful"][0]["Error"]
            raise kit.Refused(f"CreateFlowLogs refused {resource_id}: {error.get('Code')}: {error.get('Message')}")
        flow_log_id = response["FlowLogIds"][0]
        described = kit.call(self.client, "describe_flow_logs", FlowLogIds=[flow_log_id])["FlowLogs"]
        return described[0] if described else {"FlowLogId": flow_log_id, "ResourceId": resource_id}

    def delete(self, flow_log: Dict[str, Any]) -> None:
        self.changed = True
        if not self.check_mode:
            kit.call(self.client, "delete_flow_logs", FlowLogIds=[flow_log["FlowLogId"]])

    def ensure_tags(self, flow_log: Dict[str, Any], wanted: Optional[Dict[str, str]], purge: bool) -> Dict[str, Any]:
        current = kit.tags_to_dict(flow_log.get("Tags"))
        to_set, to_remove = kit.tag_changes(current, wanted, purge)
        if not to_set and not to_remove:
            return flow_log
        self.changed = True
        if not self.check_mode:
            if to_set:
                kit.call(
                    self.client,
                    "create_tags",
                    Resources=[flow_log["FlowLogId"]],
                    Tags=kit.tag_list(to_set),
                )
            if to_remove:
                kit.call(
                    self.client, "delete_tags", Resources=[flow_log["FlowLogId"]], Tags=[{"Key": k} for k in to_remove]
                )
        merged = {k: v for k, v in {**current, **to_set}.items() if k not in to_remove}
        return {**flow_log, "Tags": kit.tag_list(merged)}


def render(flow_log: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if not flow_log:
        return {}
    result: Dict[str, Any] = camel_dict_to_snake_dict(flow_log, ignore_list=["Tags"])
    result["tags"] = kit.tags_to_dict(flow_log.get("Tags"))
    return result


def run(module: Any, client: Any) -> Dict[str, Any]:
    params = module.params
    manager = FlowLogManager(client, module.check_mode)
    settings = wanted_settings(params)
    existing = manager.find(params["resource_id"], settings)
    before = render(existing)

    if params["state"] == "absent":
        # Only the destination identifies the flow log to delete; other settings may have
        # changed since it was created (an operator changing the interval, say).
        if existing and not differences(existing, destination_only(settings)):
            manager.delete(existing)
            return {"changed": manager.changed, "flow_log": {}, "diff": {"before": before, "after": {}}}
        return {"changed": False, "flow_log": {}, "diff": {"before": before, "after": before}}

    if existing and differences(existing, settings):
        manager.delete(existing)
        existing = None
    if existing:
        result = manager.ensure_tags(existing, params["tags"], params["purge_tags"])
    else:
        result = manager.create(params["resource_id"], params["resource_type"], settings, params["tags"])
    return {"changed": manager.changed, "flow_log": render(result), "diff": {"before": before, "after": render(result)}}


def check(params: Dict[str, Any]) -> Optional[str]:
    """What the argument spec cannot say; a message refuses the input before any kit.call."""
    if (
        params["state"] == "present"
        and params["log_destination_type"] == "cloud-watch-logs"
        and not params["deliver_logs_permission_arn"]
    ):
        return "deliver_logs_permission_arn is required to deliver flow logs to CloudWatch Logs"
    return None


def main() -> None:
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        resource_id=dict(type="str", required=True),
        resource_type=dict(type="str", choices=["VPC", "Subnet", "NetworkInterface"], default="VPC"),
        traffic_type=dict(type="str", choices=["ACCEPT", "REJECT", "ALL"], default="ALL"),
        log_destination_type=dict(type="str", choices=["cloud-watch-logs", "s3"], default="cloud-watch-logs"),
        log_group_name=dict(type="str"),
        deliver_logs_permission_arn=dict(type="str"),
        log_destination=dict(type="str"),
        max_aggregation_interval=dict(type="int", choices=[60, 600], default=600),
        log_format=dict(type="str"),
        **kit.TAG_OPTIONS,
    )
    kit.run_module(
        argument_spec,
        run,
        service="ec2",
        failure="Failed to manage the flow log",
        check=check,
        required_if=[
            ("log_destination_type", "cloud-watch-logs", ["log_group_name"]),
            ("log_destination_type", "s3", ["log_destination"]),
        ],
        mutually_exclusive=[("log_group_name", "log_destination")],
    )


if __name__ == "__main__":
    main()
