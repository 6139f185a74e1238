#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: an EKS cluster with the settings community.aws.eks_cluster cannot express."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_eks_cluster
short_description: Manage an EKS cluster with endpoint access, secrets encryption, logging and access config
description:
  - Creates, updates or deletes one EKS cluster. community.aws.eks_cluster only takes a name, version, role,
    subnets and security groups; this module also manages the API endpoint's access (private, public and the
    public allow-list), envelope encryption of Kubernetes secrets with a KMS key, control-plane logging,
    the authentication mode (access entries) and tags.
  - Updates follow AWS's rules. Endpoint access and logging are changed with UpdateClusterConfig, one update
    at a time, waiting for the cluster to be C(ACTIVE) again. The Kubernetes version moves by one minor
    version per run (UpdateClusterVersion). Secrets encryption can be added to a cluster that has none but
    never changed or removed; a different key fails with a clear message. Subnets and security groups are
    fixed at creation here; a difference fails rather than replace a cluster.
  - Deleting a cluster that still has node groups fails; remove them first (the node group module).
  - Throttling is retried with jittered exponential backoff; check and diff modes are supported.
version_added: "0.2.0"
author: strata maintainers
options:
  name:
    description: Name of the cluster.
    type: str
    required: true
  state:
    description: Whether the cluster should exist.
    type: str
    choices: [present, absent]
    default: present
  version:
    description: Kubernetes version, for instance C(1.35). Required with I(state=present).
    type: str
  role_arn:
    description: IAM role of the control plane. Required with I(state=present).
    type: str
  subnet_ids:
    description: Subnets of the control plane's network interfaces (at least two zones).
    type: list
    elements: str
    default: []
  security_group_ids:
    description: Additional security groups of the control plane's network interfaces.
    type: list
    elements: str
    default: []
  endpoint_private_access:
    description: Whether the API endpoint is reachable from inside the VPC.
    type: bool
    default: true
  endpoint_public_access:
    description: Whether the API endpoint is reachable from the internet (restricted by I(public_access_cidrs)).
    type: bool
    default: false
  public_access_cidrs:
    description: CIDRs allowed to reach the public endpoint. Required non-empty when the endpoint is public.
    type: list
    elements: str
    default: []
  encryption_key_arn:
    description: KMS key for envelope encryption of Kubernetes secrets; no encryption when omitted.
    type: str
  logging_types:
    description: Control-plane log types sent to CloudWatch Logs; the others are disabled.
    type: list
    elements: str
    choices: [api, audit, authenticator, controllerManager, scheduler]
    default: [api, audit, authenticator, controllerManager, scheduler]
  authentication_mode:
    description:
      - How the cluster authenticates IAM principals. C(API) uses access entries only (no aws-auth ConfigMap).
      - Compared only when AWS reports it (the embedded cloud does not).
    type: str
    choices: [API, API_AND_CONFIG_MAP, CONFIG_MAP]
    default: API
  service_ipv4_cidr:
    description: Range of Kubernetes service addresses; AWS picks one when omitted. Fixed at creation.
    type: str
  wait_timeout:
    description: Seconds to wait for the cluster to be C(ACTIVE) (or gone, with I(state=absent)).
    type: int
    default: 1800
extends_documentation_fragment: [amazon.aws.tags, strata_aws.wait,
  amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: A private cluster whose secrets are encrypted with the platform's key
  strata_eks_cluster:
    name: strata-staging
    version: "1.35"
    role_arn: "{{ cluster_role.arn }}"
    subnet_ids: "{{ app_subnet_ids }}"
    security_group_ids: ["{{ app_sg_id }}"]
    endpoint_private_access: true
    endpoint_public_access: true
    public_access_cidrs: [203.0.113.0/24]
    encryption_key_arn: "{{ eks_key.key_arn }}"
    tags: {managed-by: strata, env: staging}

- name: Remove it (its node groups first)
  strata_eks_cluster:
    name: strata-staging
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster as AWS describes it (snake_case keys, tags as a dict).
    - With I(state=absent), the cluster as it was before its deletion (empty if there was none), so that
      what hangs off it (its OIDC provider) can be removed after it.
  returned: always
  type: dict
  sample:
    name: strata-staging
    arn: arn:aws:eks:eu-west-3:123456789012:cluster/strata-staging
    version: "1.35"
    status: ACTIVE
    endpoint: https://ABCDEF.gr7.eu-west-3.eks.amazonaws.com
    identity: {oidc: {issuer: https://oidc.eks.eu-west-3.amazonaws.com/id/ABCDEF}}
    tags: {managed-by: strata}
"""

from typing import Any, Dict, List, Optional

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible.module_utils import strata_aws as kit

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def describe(client: Any, name: str) -> Optional[Dict[str, Any]]:
    found: Optional[Dict[str, Any]] = kit.describe_or_none(client, "describe_cluster", "cluster", name=name)
    return found


def endpoint_access(params: Dict[str, Any]) -> Dict[str, Any]:
    access: Dict[str, Any] = {
        "endpointPrivateAccess": params["endpoint_private_access"],
        "endpointPublicAccess": params["endpoint_public_access"],
    }
    if params["endpoint_public_access"]:
        access["publicAccessCidrs"] = sorted(params["public_access_cidrs"])
    return access


def current_access(cluster: Dict[str, Any]) -> Dict[str, Any]:
    vpc = cluster.get("resourcesVpcConfig") or {}
    access: Dict[str, Any] = {
        "endpointPrivateAccess": bool(vpc.get("endpointPrivateAccess")),
        "endpointPublicAccess": bool(vpc.get("endpointPublicAccess")),
    }
    if access["endpointPublicAccess"]:
        access["publicAccessCidrs"] = sorted(vpc.get("publicAccessCidrs") or ["0.0.0.0/0"])
    return access


def logging_config(types: List[str]) -> Dict[str, Any]:
    enabled = [t for t in LOG_TYPES if t in types]
    disabled = [t for t in LOG_TYPES if t not in types]
    config = [{"types": enabled, "enabled": True}]
    if disabled:
        config.append({"types": disabled, "enabled": False})
    return {"clusterLogging": config}


def enabled_log_types(cluster: Dict[str, Any]) -> List[str]:
    entries = (cluster.get("logging") or {}).get("clusterLogging") or []
    return sorted(t for e in entries if e.get("enabled") for t in e.get("types", []))


def encryption_key(cluster: Dict[str, Any]) -> Optional[str]:
    for config in cluster.get("encryptionConfig") or []:
        if "secrets" in config.get("resources", []):
            key: Optional[str] = (config.get("provider") or {}).get("keyArn")
            return key
    return None


def create_request(params: Dict[str, Any]) -> Dict[str, Any]:
    vpc_config: Dict[str, Any] = {"subnetIds": params["subnet_ids"], **endpoint_access(params)}
    if params["security_group_ids"]:
        vpc_config["securityGroupIds"] = params["security_group_ids"]
    request: Dict[str, Any] = {
        "name": params["name"],
        "version": params["version"],
        "roleArn": params["role_arn"],
        "resourcesVpcConfig": vpc_config,
        "logging": logging_config(params["logging_types"]),
        "accessConfig": {"authenticationMode": params["authentication_mode"]},
    }
    if params["encryption_key_arn"]:
        request["encryptionConfig"] = [{"resources": ["secrets"], "provider": {"keyArn": params["encryption_key_arn"]}}]
    if params["service_ipv4_cidr"]:
        request["kubernetesNetworkConfig"] = {"serviceIpv4Cidr": params["service_ipv4_cidr"]}
    if params["tags"]:
        request["tags"] = {k: str(v) for k, v in params["tags"].items()}
    return request


def next_minor(current: str, wanted: str) -> str:
    """EKS upgrades one minor version at a time; downgrades are impossible."""
    cur = tuple(int(x) for x in current.split(".")[:2])
    want = tuple(int(x) for x in wanted.split(".")[:2])
    if want < cur:
        raise kit.Refused(f"version {wanted} is older than the cluster's {current}: EKS cannot downgrade a cluster")
    if want[0] != cur[0]:
        raise kit.Refused(f"version {wanted}: EKS upgrades within one major version only (cluster is {current})")
    return f"{cur[0]}.{min(want[1], cur[1] + 1)}"


def planned_updates(cluster: Dict[str, Any], params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The update requests that take the cluster to the wanted settings, in the order they
    are applied. Raises kit.Refused for a change AWS cannot make in place."""
    vpc = cluster.get("resourcesVpcConfig") or {}
    if params["subnet_ids"] and sorted(vpc.get("subnetIds") or []) != sorted(params["subnet_ids"]):
        raise kit.Refused(
            f"subnet_ids differ from the cluster's {sorted(vpc.get('subnetIds') or [])}; "
            "this module does not move a cluster between subnets"
        )
    current_key = encryption_key(cluster)
    if current_key and params["encryption_key_arn"] and current_key != params["encryption_key_arn"]:
        raise kit.Refused(
            f"the cluster's secrets are encrypted with {current_key}; EKS cannot change the key "
            f"(encryption_key_arn={params['encryption_key_arn']})"
        )
    if current_key and not params["encryption_key_arn"]:
        raise kit.Refused(f"the cluster's secrets are encrypted with {current_key}; EKS cannot remove encryption")
    name = params["name"]
    updates: List[Dict[str, Any]] = []
    if current_access(cluster) != endpoint_access(params):
        updates.append(
            {"operation": "update_cluster_config", "name": name, "resourcesVpcConfig": endpoint_access(params)}
        )
    if enabled_log_types(cluster) != sorted(params["logging_types"]):
        updates.append(
            {"operation": "update_cluster_config", "name": name, "logging": logging_config(params["logging_types"])}
        )
    mode = (cluster.get("accessConfig") or {}).get("authenticationMode")
    if mode is not None and mode != params["authentication_mode"]:
        updates.append(
            {
                "operation": "update_cluster_config",
                "name": name,
                "accessConfig": {"authenticationMode": params["authentication_mode"]},
            }
        )
    if params["encryption_key_arn"] and not current_key:
        updates.append(
            {
                "operation": "associate_encryption_config",
                "clusterName": name,
                "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": params["encryption_key_arn"]}}],
            }
        )
    if params["version"] and cluster.get("version") != params["version"]:
        updates.append(
            {
                "operation": "update_cluster_version",
                "name": name,
                "version": next_minor(cluster["version"], params["version"]),
            }
        )
    return updates


def render(cluster: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if not cluster:
        return {}
    result: Dict[str, Any] = camel_dict_to_snake_dict(cluster, ignore_list=["tags"])
    result["tags"] = dict(cluster.get("tags") or {})
    return result


class ClusterManager:
    def __init__(self, client: Any, params: Dict[str, Any], check_mode: bool) -> None:
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.changed = False

    def wait_active(self) -> Dict[str, Any]:
        if not self.params["wait"]:
            return describe(self.client, self.params["name"]) or {}
        cluster: Dict[str, Any] = kit.wait_until(
            lambda: describe(self.client, self.params["name"]),
            lambda c: c is not None and c.get("status") == "ACTIVE",
            timeout=self.params["wait_timeout"],
            what=f"cluster {self.params['name']} to be ACTIVE",
        )
        return cluster

    def present(self, cluster: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        params = self.params
        if cluster is None:
            self.changed = True
            request = create_request(params)
            if self.check_mode:
                return {**request, "status": "CREATING"}
            kit.call(self.client, "create_cluster", **request)
            return self.wait_active()
        if cluster.get("status") in ("CREATING", "UPDATING"):
            cluster = self.wait_active()
        for update in planned_updates(cluster, params):
            self.changed = True
            if self.check_mode:
                continue
            operation = update.pop("operation")
            kit.call(self.client, operation, **update)
            cluster = self.wait_active()
        if kit.sync_dict_tags(
            self.client,
            cluster["arn"],
            cluster.get("tags") or {},
            params["tags"],
            purge=params["purge_tags"],
            check_mode=self.check_mode,
        ):
            self.changed = True
            if not self.check_mode:
                cluster = describe(self.client, params["name"]) or cluster
        return cluster

    def absent(self, cluster: Optional[Dict[str, Any]]) -> None:
        if cluster is None:
            return
        self.changed = True
        if self.check_mode:
            return
        groups = kit.call(self.client, "list_nodegroups", clusterName=self.params["name"]).get("nodegroups") or []
        if groups:
            raise kit.Refused(
                f"cluster {self.params['name']} still has node groups {groups}; delete them first "
                "(strata_eks_nodegroup state=absent)"
            )
        if cluster.get("status") != "DELETING":
            kit.call(self.client, "delete_cluster", name=self.params["name"])
        if self.params["wait"]:
            kit.wait_until(
                lambda: describe(self.client, self.params["name"]),
                lambda c: c is None,
                timeout=self.params["wait_timeout"],
                what=f"cluster {self.params['name']} to be deleted",
            )


def run(module: Any, client: Any) -> Dict[str, Any]:
    params = module.params
    manager = ClusterManager(client, params, module.check_mode)
    existing = describe(client, params["name"])
    before = render(existing)
    if params["state"] == "absent":
        manager.absent(existing)
        # The cluster as it was: callers clean up what hangs off it (its OIDC provider).
        return {"changed": manager.changed, "cluster": before, "diff": {"before": before, "after": {}}}
    result = render(manager.present(existing))
    return {"changed": manager.changed, "cluster": result, "diff": {"before": before, "after": result}}


def check(params: Dict[str, Any]) -> Optional[str]:
    """What the argument spec cannot say; a message refuses the input before any kit.call."""
    if params["state"] != "present":
        return None
    if params["endpoint_public_access"] and not params["public_access_cidrs"]:
        return (
            "endpoint_public_access=true needs public_access_cidrs (an allow-list); "
            "AWS would otherwise open the API endpoint to 0.0.0.0/0"
        )
    if not params["endpoint_private_access"] and not params["endpoint_public_access"]:
        return "endpoint_private_access and endpoint_public_access cannot both be false"
    return None


def main() -> None:
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        version=dict(type="str"),
        role_arn=dict(type="str"),
        subnet_ids=dict(type="list", elements="str", default=[]),
        security_group_ids=dict(type="list", elements="str", default=[]),
        endpoint_private_access=dict(type="bool", default=True),
        endpoint_public_access=dict(type="bool", default=False),
        public_access_cidrs=dict(type="list", elements="str", default=[]),
        encryption_key_arn=dict(type="str", no_log=False),
        logging_types=dict(type="list", elements="str", choices=LOG_TYPES, default=list(LOG_TYPES)),
        authentication_mode=dict(type="str", choices=["API", "API_AND_CONFIG_MAP", "CONFIG_MAP"], default="API"),
        service_ipv4_cidr=dict(type="str"),
        **kit.TAG_OPTIONS,
        **kit.wait_options(1800),
    )
    kit.run_module(
        argument_spec,
        run,
        service="eks",
        failure=lambda params: f"Failed to manage EKS cluster {params['name']}",
        check=check,
        required_if=[("state", "present", ["version", "role_arn"])],
    )


if __name__ == "__main__":
    main()
