#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: an EKS access entry and its access policies (no aws-auth ConfigMap)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_eks_access_entry
short_description: Manage an EKS access entry and its associated access policies
description:
  - Grants one IAM principal access to a cluster through the EKS access-entry API, with the access
    policies (for instance C(AmazonEKSClusterAdminPolicy)) associated at cluster or namespace scope.
    No aws-auth ConfigMap is edited. Neither amazon.aws nor community.aws has a module for access entries.
  - Policies not listed are disassociated (I(purge_policies)); the entry's Kubernetes groups and user name
    are updated in place; its type is fixed at creation.
  - Throttling is retried with jittered exponential backoff; check and diff modes are supported.
version_added: "0.2.0"
author: strata maintainers
options:
  cluster_name:
    description: Name of the cluster (its authentication mode must include C(API)).
    type: str
    required: true
  principal_arn:
    description: ARN of the IAM role or user.
    type: str
    required: true
  state:
    description: Whether the entry should exist.
    type: str
    choices: [present, absent]
    default: present
  type:
    description: Kind of entry; C(STANDARD) for people and automation.
    type: str
    choices: [STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX]
    default: STANDARD
  kubernetes_groups:
    description: Kubernetes groups of the principal (for RBAC bindings of your own).
    type: list
    elements: str
    default: []
  username:
    description: Kubernetes user name; AWS derives one when omitted.
    type: str
  access_policies:
    description: Access policies to associate.
    type: list
    elements: dict
    default: []
    suboptions:
      policy_arn:
        description: For instance C(arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy).
        type: str
        required: true
      namespaces:
        description: Namespaces of a namespace-scoped association; cluster scope when empty.
        type: list
        elements: str
        default: []
  purge_policies:
    description: Disassociate the policies that are not in I(access_policies).
    type: bool
    default: true
extends_documentation_fragment: [amazon.aws.tags,
  amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: The platform team administers the cluster
  strata_eks_access_entry:
    cluster_name: strata-staging
    principal_arn: arn:aws:iam::123456789012:role/platform-admins
    access_policies:
      - policy_arn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy

- name: Developers view one namespace
  strata_eks_access_entry:
    cluster_name: strata-staging
    principal_arn: arn:aws:iam::123456789012:role/developers
    access_policies:
      - policy_arn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
        namespaces: [staging]
"""

RETURN = r"""
access_entry:
  description: The entry as AWS describes it (snake_case keys) with its C(access_policies); empty when absent.
  returned: always
  type: dict
  sample:
    principal_arn: arn:aws:iam::123456789012:role/platform-admins
    type: STANDARD
    access_policies:
      - {policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", namespaces: []}
"""

from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible.module_utils import strata_aws as kit

Policy = Tuple[str, Tuple[str, ...]]


def describe(client: Any, cluster: str, principal: str) -> Optional[Dict[str, Any]]:
    found: Optional[Dict[str, Any]] = kit.describe_or_none(
        client, "describe_access_entry", "accessEntry", clusterName=cluster, principalArn=principal
    )
    return found


def associated(client: Any, cluster: str, principal: str) -> Dict[str, Tuple[str, ...]]:
    """policy ARN -> namespaces (empty: cluster scope) of the entry's associations."""
    policies: Dict[str, Tuple[str, ...]] = {}
    request: Dict[str, Any] = {"clusterName": cluster, "principalArn": principal}
    while True:
        page = kit.call(client, "list_associated_access_policies", **request)
        for item in page.get("associatedAccessPolicies") or []:
            scope = item.get("accessScope") or {}
            policies[item["policyArn"]] = tuple(sorted(scope.get("namespaces") or []))
        if not page.get("nextToken"):
            return policies
        request["nextToken"] = page["nextToken"]


def scope(namespaces: Tuple[str, ...]) -> Dict[str, Any]:
    return {"type": "namespace", "namespaces": list(namespaces)} if namespaces else {"type": "cluster"}


def policy_changes(
    current: Dict[str, Tuple[str, ...]], wanted: Dict[str, Tuple[str, ...]], purge: bool
) -> Tuple[List[Policy], List[str]]:
    """(policies to associate or re-scope, policies to disassociate)."""
    associate = [(arn, ns) for arn, ns in sorted(wanted.items()) if current.get(arn) != ns]
    disassociate = sorted(arn for arn in current if arn not in wanted) if purge else []
    return associate, disassociate


def render(entry: Optional[Dict[str, Any]], policies: Dict[str, Tuple[str, ...]]) -> Dict[str, Any]:
    if not entry:
        return {}
    result: Dict[str, Any] = camel_dict_to_snake_dict(entry, ignore_list=["tags"])
    result["tags"] = dict(entry.get("tags") or {})
    result["access_policies"] = [{"policy_arn": arn, "namespaces": list(ns)} for arn, ns in sorted(policies.items())]
    return result


def create_entry(module: Any, client: Any) -> Dict[str, Any]:
    params = module.params
    request: Dict[str, Any] = {
        "clusterName": params["cluster_name"],
        "principalArn": params["principal_arn"],
        "type": params["type"],
        "kubernetesGroups": sorted(params["kubernetes_groups"]),
    }
    if params["username"]:
        request["username"] = params["username"]
    if params["tags"]:
        request["tags"] = {k: str(v) for k, v in params["tags"].items()}
    if module.check_mode:
        return {k: v for k, v in request.items() if k != "clusterName"}
    created: Dict[str, Any] = kit.call(client, "create_access_entry", **request)["accessEntry"]
    return created


def update_entry(module: Any, client: Any, entry: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
    """Update the groups, user name and tags of an existing entry; (entry, changed)."""
    params = module.params
    if entry.get("type", "STANDARD") != params["type"]:
        module.fail_json(
            msg=f"access entry of {params['principal_arn']} is of type {entry.get('type')}, not {params['type']}: "
            "the type is fixed at creation (remove the entry first)"
        )
    update: Dict[str, Any] = {}
    groups = sorted(params["kubernetes_groups"])
    if sorted(entry.get("kubernetesGroups") or []) != groups:
        update["kubernetesGroups"] = groups
    if params["username"] and entry.get("username") != params["username"]:
        update["username"] = params["username"]
    changed = bool(update)
    if update and module.check_mode:
        entry = {**entry, **update}
    elif update:
        entry = kit.call(
            client,
            "update_access_entry",
            clusterName=params["cluster_name"],
            principalArn=params["principal_arn"],
            **update,
        )["accessEntry"]
    tags_changed = kit.sync_dict_tags(
        client,
        entry["accessEntryArn"],
        entry.get("tags") or {},
        params["tags"],
        purge=params["purge_tags"],
        check_mode=module.check_mode,
    )
    return entry, changed or tags_changed


def run(module: Any, client: Any) -> Dict[str, Any]:
    params = module.params
    cluster, principal = params["cluster_name"], params["principal_arn"]
    entry = describe(client, cluster, principal)
    current = associated(client, cluster, principal) if entry else {}
    before = render(entry, current)
    changed = False

    if params["state"] == "absent":
        if entry:
            changed = True
            if not module.check_mode:
                kit.call(client, "delete_access_entry", clusterName=cluster, principalArn=principal)
        return {"changed": changed, "access_entry": {}, "diff": {"before": before, "after": {}}}

    if entry is None:
        entry, changed = create_entry(module, client), True
    else:
        entry, changed = update_entry(module, client, entry)
    wanted = {p["policy_arn"]: tuple(sorted(p["namespaces"] or [])) for p in params["access_policies"]}
    associate, disassociate = policy_changes(current, wanted, params["purge_policies"])
    if associate or disassociate:
        changed = True
        if not module.check_mode:
            for arn, namespaces in associate:
                kit.call(
                    client,
                    "associate_access_policy",
                    clusterName=cluster,
                    principalArn=principal,
                    policyArn=arn,
                    accessScope=scope(namespaces),
                )
            for arn in disassociate:
                kit.call(
                    client, "disassociate_access_policy", clusterName=cluster, principalArn=principal, policyArn=arn
                )
    final = {**{k: v for k, v in current.items() if k not in disassociate}, **dict(associate)}
    after = render(entry, final)
    return {"changed": changed, "access_entry": after, "diff": {"before": before, "after": after}}


def main() -> None:
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        principal_arn=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        type=dict(type="str", choices=["STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX"], default="STANDARD"),
        kubernetes_groups=dict(type="list", elements="str", default=[]),
        username=dict(type="str"),
        access_policies=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                policy_arn=dict(type="str", required=True),
                namespaces=dict(type="list", elements="str", default=[]),
            ),
        ),
        purge_policies=dict(type="bool", default=True),
        **kit.TAG_OPTIONS,
    )
    kit.run_module(
        argument_spec,
        run,
        service="eks",
        failure=lambda params: f"Failed to manage the access entry of {params['principal_arn']}",
    )


if __name__ == "__main__":
    main()
