#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: an EKS managed node group that converges on a second run."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_eks_nodegroup
short_description: Manage an EKS managed node group (labels, taints, scaling, update config)
description:
  - Creates, updates or deletes one EKS managed node group. It replaces community.aws.eks_nodegroup, which
    fails on a second run when DescribeNodegroup omits C(updateConfig) (KeyError), as the embedded cloud's
    does; here every optional key of the description has a default.
  - Labels, taints, the scaling bounds and the update config are changed in place (UpdateNodegroupConfig).
    The desired size is set at creation and afterwards only brought back inside I(min_size)..I(max_size),
    the Cluster Autoscaler owns it. Instance types, subnets, the node role, the AMI type, the capacity type,
    the disk size and the launch template are immutable in AWS; a difference fails with a clear message
    (create a new node group, move the workloads, delete the old one).
  - Throttling is retried with jittered exponential backoff; check and diff modes are supported.
version_added: "0.2.0"
author: strata maintainers
options:
  cluster_name:
    description: Name of the cluster.
    type: str
    required: true
  name:
    description: Name of the node group.
    type: str
    required: true
  state:
    description: Whether the node group should exist.
    type: str
    choices: [present, absent]
    default: present
  node_role_arn:
    description: IAM role of the nodes. Required with I(state=present).
    type: str
  subnet_ids:
    description: Subnets of the nodes (spread over the zones). Required with I(state=present).
    type: list
    elements: str
    default: []
  instance_types:
    description: Instance types; must not be empty with I(state=present).
    type: list
    elements: str
    default: []
  min_size:
    description: Minimum number of nodes.
    type: int
    default: 1
  max_size:
    description: Maximum number of nodes.
    type: int
    default: 3
  desired_size:
    description: Number of nodes at creation; defaults to I(min_size).
    type: int
  labels:
    description: Kubernetes labels of the nodes.
    type: dict
    default: {}
  taints:
    description: Kubernetes taints of the nodes.
    type: list
    elements: dict
    default: []
    suboptions:
      key:
        description: Taint key.
        type: str
        required: true
      value:
        description: Taint value.
        type: str
        default: ""
      effect:
        description: Taint effect.
        type: str
        required: true
        choices: [NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE]
  capacity_type:
    description: On-demand or spot capacity.
    type: str
    choices: [ON_DEMAND, SPOT]
    default: ON_DEMAND
  ami_type:
    description: AMI family of the nodes.
    type: str
    default: AL2023_x86_64_STANDARD
  disk_size:
    description: Root volume size in GiB (ignored by AWS when a launch template is given).
    type: int
  kubernetes_version:
    description:
      - Kubernetes version of the nodes, C(1.N). When the node group runs another one (after the control plane's
        upgrade), UpdateNodegroupVersion rolls its nodes, I(max_unavailable) at a time, respecting the pods'
        disruption budgets. Omitted, the nodes keep their version.
    type: str
  launch_template:
    description:
      - Launch template (C(id) or C(name), and C(version)) for IMDSv2 and encrypted volumes. A new I(version) rolls
        the nodes onto it (UpdateNodegroupVersion), as a new I(kubernetes_version) does.
    type: dict
  max_unavailable:
    description: Nodes replaced at once during an update.
    type: int
    default: 1
  wait_timeout:
    description: Seconds to wait for C(ACTIVE) (or the deletion).
    type: int
    default: 1800
extends_documentation_fragment: [amazon.aws.tags, strata_aws.wait,
  amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: The database node group, tainted for database workloads only
  strata_eks_nodegroup:
    cluster_name: strata-staging
    name: db
    node_role_arn: "{{ node_role.arn }}"
    subnet_ids: "{{ app_subnet_ids }}"
    instance_types: [r6i.large]
    min_size: 3
    max_size: 6
    labels: {strata.io/nodegroup: db}
    taints: [{key: strata.io/nodegroup, value: db, effect: NO_SCHEDULE}]
    launch_template: {name: strata-staging-db, version: "1"}
    tags: {managed-by: strata, env: staging}
"""

RETURN = r"""
nodegroup:
  description: The node group as AWS describes it (snake_case keys, labels and tags as dicts); empty when absent.
  returned: always
  type: dict
  sample:
    nodegroup_name: db
    status: ACTIVE
    scaling_config: {min_size: 3, max_size: 6, desired_size: 3}
    resources: {auto_scaling_groups: [{name: eks-db-abcdef}]}
"""

from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible.module_utils import strata_aws as kit

Taint = Tuple[str, str, str]


def describe(client: Any, cluster: str, name: str) -> Optional[Dict[str, Any]]:
    found: Optional[Dict[str, Any]] = kit.describe_or_none(
        client, "describe_nodegroup", "nodegroup", clusterName=cluster, nodegroupName=name
    )
    return found


def taint_set(taints: Optional[List[Dict[str, Any]]]) -> List[Taint]:
    return sorted((t["key"], t.get("value") or "", t["effect"]) for t in taints or [])


def as_api_taints(taints: List[Taint]) -> List[Dict[str, str]]:
    return [{"key": k, "value": v, "effect": e} for k, v, e in taints]


def create_request(params: Dict[str, Any]) -> Dict[str, Any]:
    desired = params["desired_size"] if params["desired_size"] is not None else params["min_size"]
    request: Dict[str, Any] = {
        "clusterName": params["cluster_name"],
        "nodegroupName": params["name"],
        "nodeRole": params["node_role_arn"],
        "subnets": params["subnet_ids"],
        "instanceTypes": params["instance_types"],
        "scalingConfig": {"minSize": params["min_size"], "maxSize": params["max_size"], "desiredSize": desired},
        "labels": {k: str(v) for k, v in params["labels"].items()},
        "taints": as_api_taints(taint_set(params["taints"])),
        "capacityType": params["capacity_type"],
        "amiType": params["ami_type"],
        "updateConfig": {"maxUnavailable": params["max_unavailable"]},
    }
    if params["disk_size"] and not params["launch_template"]:
        request["diskSize"] = params["disk_size"]
    if params["launch_template"]:
        request["launchTemplate"] = {k: str(v) for k, v in params["launch_template"].items()}
    if params.get("kubernetes_version"):
        request["version"] = params["kubernetes_version"]
    if params["tags"]:
        request["tags"] = {k: str(v) for k, v in params["tags"].items()}
    return request


def immutable_differences(nodegroup: Dict[str, Any], params: Dict[str, Any]) -> List[str]:
    differences = []
    if sorted(nodegroup.get("instanceTypes") or []) != sorted(params["instance_types"]):
        differences.append(f"instance_types {nodegroup.get('instanceTypes')} -> {params['instance_types']}")
    if sorted(nodegroup.get("subnets") or []) != sorted(params["subnet_ids"]):
        differences.append(f"subnet_ids {nodegroup.get('subnets')} -> {params['subnet_ids']}")
    if nodegroup.get("nodeRole") != params["node_role_arn"]:
        differences.append(f"node_role_arn {nodegroup.get('nodeRole')} -> {params['node_role_arn']}")
    if nodegroup.get("capacityType", "ON_DEMAND") != params["capacity_type"]:
        differences.append(f"capacity_type {nodegroup.get('capacityType')} -> {params['capacity_type']}")
    return differences


def config_update(nodegroup: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    """The UpdateNodegroupConfig request that reconciles the node group (empty: nothing to do).
    Every optional key of the description is defaulted: the embedded cloud omits updateConfig."""
    update: Dict[str, Any] = {}
    current_labels = {k: str(v) for k, v in (nodegroup.get("labels") or {}).items()}
    wanted_labels = {k: str(v) for k, v in params["labels"].items()}
    add = {k: v for k, v in wanted_labels.items() if current_labels.get(k) != v}
    remove = sorted(k for k in current_labels if k not in wanted_labels)
    if add or remove:
        update["labels"] = {
            **({"addOrUpdateLabels": add} if add else {}),
            **({"removeLabels": remove} if remove else {}),
        }

    current_taints, wanted_taints = taint_set(nodegroup.get("taints")), taint_set(params["taints"])
    add_t = [t for t in wanted_taints if t not in current_taints]
    wanted_keys = {(k, e) for k, _, e in wanted_taints}
    remove_t = [t for t in current_taints if t not in wanted_taints and (t[0], t[2]) not in wanted_keys]
    if add_t or remove_t:
        update["taints"] = {
            **({"addOrUpdateTaints": as_api_taints(add_t)} if add_t else {}),
            **({"removeTaints": as_api_taints(remove_t)} if remove_t else {}),
        }

    scaling = nodegroup.get("scalingConfig") or {}
    desired = scaling.get("desiredSize", params["min_size"])
    desired = min(max(desired, params["min_size"]), params["max_size"])
    wanted_scaling = {"minSize": params["min_size"], "maxSize": params["max_size"], "desiredSize": desired}
    if {k: scaling.get(k) for k in wanted_scaling} != wanted_scaling:
        update["scalingConfig"] = wanted_scaling

    current_unavailable = (nodegroup.get("updateConfig") or {}).get("maxUnavailable")
    if current_unavailable is not None and current_unavailable != params["max_unavailable"]:
        update["updateConfig"] = {"maxUnavailable": params["max_unavailable"]}
    return update


def version_update(nodegroup: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    """The UpdateNodegroupVersion request that rolls the nodes onto the wanted Kubernetes version and launch template
    version (empty: nothing to do). EKS replaces the nodes max_unavailable at a time."""
    update: Dict[str, Any] = {}
    wanted = params.get("kubernetes_version")
    if wanted and nodegroup.get("version") and nodegroup["version"] != wanted:
        update["version"] = wanted
    template = params.get("launch_template") or {}
    current = nodegroup.get("launchTemplate") or {}
    if template.get("version") and current.get("version") and str(current["version"]) != str(template["version"]):
        update["launchTemplate"] = {k: str(v) for k, v in template.items()}
    return update


def render(nodegroup: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if not nodegroup:
        return {}
    result: Dict[str, Any] = camel_dict_to_snake_dict(nodegroup, ignore_list=["tags", "labels"])
    result["tags"] = dict(nodegroup.get("tags") or {})
    result["labels"] = dict(nodegroup.get("labels") or {})
    return result


class NodegroupManager:
    def __init__(self, client: Any, params: Dict[str, Any], check_mode: bool) -> None:
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.changed = False

    def _describe(self) -> Optional[Dict[str, Any]]:
        return describe(self.client, self.params["cluster_name"], self.params["name"])

    def wait_active(self) -> Dict[str, Any]:
        if not self.params["wait"]:
            return self._describe() or {}
        found: Dict[str, Any] = kit.wait_until(
            self._describe,
            lambda n: n is not None and n.get("status") in ("ACTIVE", "DEGRADED", "CREATE_FAILED"),
            timeout=self.params["wait_timeout"],
            what=f"node group {self.params['name']} to be ACTIVE",
        )
        if found.get("status") == "CREATE_FAILED":
            issues = (found.get("health") or {}).get("issues") or []
            raise kit.Refused(f"node group {self.params['name']} failed to create: {issues}")
        return found

    def update(self, nodegroup: Dict[str, Any], operation: str, request: Dict[str, Any]) -> Dict[str, Any]:
        """One Update* call (none when `request` is empty), then the wait for ACTIVE."""
        if not request:
            return nodegroup
        self.changed = True
        if self.check_mode:
            return nodegroup
        names = {"clusterName": self.params["cluster_name"], "nodegroupName": self.params["name"]}
        kit.call(self.client, operation, **names, **request)
        return self.wait_active()

    def present(self, nodegroup: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        params = self.params
        if nodegroup is None:
            self.changed = True
            request = create_request(params)
            if self.check_mode:
                return {**request, "status": "CREATING"}
            kit.call(self.client, "create_nodegroup", **request)
            return self.wait_active()
        differences = immutable_differences(nodegroup, params)
        if differences:
            raise kit.Refused(
                f"node group {params['name']} cannot change {'; '.join(differences)} in place: "
                "create a node group with a new name, move the workloads, then remove this one"
            )
        # Settings first (labels, taints, scaling, rolling policy), then the nodes' versions, which roll by that policy.
        for operation, request in (
            ("update_nodegroup_config", config_update(nodegroup, params)),
            ("update_nodegroup_version", version_update(nodegroup, params)),
        ):
            nodegroup = self.update(nodegroup, operation, request)
        if kit.sync_dict_tags(
            self.client,
            nodegroup["nodegroupArn"],
            nodegroup.get("tags") or {},
            params["tags"],
            purge=params["purge_tags"],
            check_mode=self.check_mode,
        ):
            self.changed = True
            if not self.check_mode:
                nodegroup = self._describe() or nodegroup
        return nodegroup

    def absent(self, nodegroup: Optional[Dict[str, Any]]) -> None:
        if nodegroup is None:
            return
        self.changed = True
        if self.check_mode:
            return
        if nodegroup.get("status") != "DELETING":
            kit.call(
                self.client,
                "delete_nodegroup",
                clusterName=self.params["cluster_name"],
                nodegroupName=self.params["name"],
            )
        if self.params["wait"]:
            kit.wait_until(
                self._describe,
                lambda n: n is None,
                timeout=self.params["wait_timeout"],
                what=f"node group {self.params['name']} to go",
            )


def validate(params: Dict[str, Any]) -> Optional[str]:
    if params["state"] != "present":
        return None
    if not params["instance_types"]:
        return f"instance_types of node group {params['name']} is empty: list at least one instance type"
    if not params["subnet_ids"]:
        return f"subnet_ids of node group {params['name']} is empty"
    if params["min_size"] > params["max_size"]:
        return (
            f"node group {params['name']}: min_size={params['min_size']} is greater than max_size={params['max_size']}"
        )
    desired = params["desired_size"]
    if desired is not None and not params["min_size"] <= desired <= params["max_size"]:
        return f"node group {params['name']}: desired_size={desired} is outside min_size..max_size"
    return None


def run(module: Any, client: Any) -> Dict[str, Any]:
    params = module.params
    manager = NodegroupManager(client, params, module.check_mode)
    existing = describe(client, params["cluster_name"], params["name"])
    before = render(existing)
    if params["state"] == "absent":
        manager.absent(existing)
        return {"changed": manager.changed, "nodegroup": {}, "diff": {"before": before, "after": {}}}
    result = render(manager.present(existing))
    return {"changed": manager.changed, "nodegroup": result, "diff": {"before": before, "after": result}}


def main() -> None:
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        node_role_arn=dict(type="str"),
        subnet_ids=dict(type="list", elements="str", default=[]),
        instance_types=dict(type="list", elements="str", default=[]),
        min_size=dict(type="int", default=1),
        max_size=dict(type="int", default=3),
        desired_size=dict(type="int"),
        labels=dict(type="dict", default={}),
        taints=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                key=dict(type="str", required=True, no_log=False),
                value=dict(type="str", default=""),
                effect=dict(type="str", required=True, choices=["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"]),
            ),
        ),
        capacity_type=dict(type="str", choices=["ON_DEMAND", "SPOT"], default="ON_DEMAND"),
        ami_type=dict(type="str", default="AL2023_x86_64_STANDARD"),
        disk_size=dict(type="int"),
        kubernetes_version=dict(type="str"),
        launch_template=dict(type="dict"),
        max_unavailable=dict(type="int", default=1),
        **kit.TAG_OPTIONS,
        **kit.wait_options(1800),
    )
    kit.run_module(
        argument_spec,
        run,
        service="eks",
        failure=lambda params: f"Failed to manage node group {params['name']}",
        check=validate,
        required_if=[("state", "present", ["node_role_arn"])],
    )


if __name__ == "__main__":
    main()
