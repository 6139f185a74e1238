#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: an EKS add-on at a pinned version."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_eks_addon
short_description: Manage an EKS add-on (vpc-cni, coredns, kube-proxy, aws-ebs-csi-driver, ...) at a pinned version
description:
  - Creates, updates (version, service-account role, configuration values) or deletes one EKS add-on.
    Neither amazon.aws nor community.aws has a module for add-ons.
  - The version is pinned, never "latest"; an upgrade is a reviewed change of a variable.
  - Throttling is retried with jittered exponential backoff; check and diff modes are supported.
version_added: "0.2.0"
author: strata maintainers
options:
  cluster_name:
    description: Name of the cluster.
    type: str
    required: true
  name:
    description: Name of the add-on, for instance C(vpc-cni).
    type: str
    required: true
  state:
    description: Whether the add-on should be installed.
    type: str
    choices: [present, absent]
    default: present
  version:
    description: Pinned add-on version, for instance C(v1.19.0-eksbuild.1). Required with I(state=present).
    type: str
  service_account_role_arn:
    description: IAM role of the add-on's service account (IRSA), for instance for the EBS CSI driver.
    type: str
  configuration_values:
    description: Add-on configuration (the add-on's JSON schema), as a dict.
    type: dict
  resolve_conflicts:
    description: What to do with fields that someone changed in the cluster.
    type: str
    choices: [OVERWRITE, PRESERVE, NONE]
    default: OVERWRITE
  preserve_on_delete:
    description: Leave the add-on's Kubernetes objects in the cluster when deleting it.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for C(ACTIVE) (or the deletion).
    type: int
    default: 900
extends_documentation_fragment: [amazon.aws.tags, strata_aws.wait,
  amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: The EBS CSI driver with its IRSA role
  strata_eks_addon:
    cluster_name: strata-staging
    name: aws-ebs-csi-driver
    version: v1.37.0-eksbuild.1
    service_account_role_arn: "{{ ebs_csi_role.arn }}"
    tags: {managed-by: strata, env: staging}
"""

RETURN = r"""
addon:
  description: The add-on as AWS describes it (snake_case keys, tags as a dict); empty when absent.
  returned: always
  type: dict
  sample:
    addon_name: vpc-cni
    addon_version: v1.19.0-eksbuild.1
    status: ACTIVE
"""

import json
from typing import Any, Dict, Optional

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible.module_utils import strata_aws as kit


def describe(client: Any, cluster: str, name: str) -> Optional[Dict[str, Any]]:
    found: Optional[Dict[str, Any]] = kit.describe_or_none(
        client, "describe_addon", "addon", clusterName=cluster, addonName=name
    )
    return found


def configuration(value: Optional[Dict[str, Any]]) -> Optional[str]:
    return json.dumps(value, sort_keys=True) if value else None


def current_configuration(addon: Dict[str, Any]) -> Optional[str]:
    raw = addon.get("configurationValues")
    if not raw:
        return None
    try:
        return json.dumps(json.loads(raw), sort_keys=True)
    except ValueError:
        return str(raw)  # YAML configuration set by someone else: compared as text


def update_request(addon: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    """The UpdateAddon fields that differ (empty: nothing to do)."""
    update: Dict[str, Any] = {}
    if addon.get("addonVersion") != params["version"]:
        update["addonVersion"] = params["version"]
    role = params["service_account_role_arn"]
    if (addon.get("serviceAccountRoleArn") or None) != (role or None):
        update["serviceAccountRoleArn"] = role or ""
    wanted = configuration(params["configuration_values"])
    if current_configuration(addon) != wanted:
        update["configurationValues"] = wanted or ""
    return update


def render(addon: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if not addon:
        return {}
    result: Dict[str, Any] = camel_dict_to_snake_dict(addon, ignore_list=["tags"])
    result["tags"] = dict(addon.get("tags") or {})
    return result


def run(module: Any, client: Any) -> Dict[str, Any]:
    params = module.params
    cluster, name = params["cluster_name"], params["name"]
    existing = describe(client, cluster, name)
    before = render(existing)
    changed = False

    def settle(gone: bool = False) -> Optional[Dict[str, Any]]:
        if not params["wait"]:
            return describe(client, cluster, name)
        result: Optional[Dict[str, Any]] = kit.wait_until(
            lambda: describe(client, cluster, name),
            (lambda a: a is None)
            if gone
            else (
                lambda a: a is not None and a.get("status") in ("ACTIVE", "DEGRADED", "CREATE_FAILED", "UPDATE_FAILED")
            ),
            timeout=params["wait_timeout"],
            what=f"add-on {name} to be {'deleted' if gone else 'ACTIVE'}",
        )
        if result and result.get("status") in ("CREATE_FAILED", "UPDATE_FAILED"):
            raise kit.WaitTimeout(f"add-on {name} is {result['status']}: {(result.get('health') or {}).get('issues')}")
        return result

    if params["state"] == "absent":
        if existing:
            changed = True
            if not module.check_mode:
                kit.call(
                    client, "delete_addon", clusterName=cluster, addonName=name, preserve=params["preserve_on_delete"]
                )
                settle(gone=True)
        return {"changed": changed, "addon": {}, "diff": {"before": before, "after": {}}}

    if existing is None:
        changed = True
        request: Dict[str, Any] = {
            "clusterName": cluster,
            "addonName": name,
            "addonVersion": params["version"],
            "resolveConflicts": params["resolve_conflicts"],
        }
        if params["service_account_role_arn"]:
            request["serviceAccountRoleArn"] = params["service_account_role_arn"]
        if params["configuration_values"]:
            request["configurationValues"] = configuration(params["configuration_values"])
        if params["tags"]:
            request["tags"] = {k: str(v) for k, v in params["tags"].items()}
        if module.check_mode:
            return {"changed": True, "addon": render(request), "diff": {"before": before, "after": render(request)}}
        kit.call(client, "create_addon", **request)
        after = settle() or {}
        return {"changed": True, "addon": render(after), "diff": {"before": before, "after": render(after)}}

    addon = existing
    update = update_request(existing, params)
    if update:
        changed = True
        if not module.check_mode:
            kit.call(
                client,
                "update_addon",
                clusterName=cluster,
                addonName=name,
                resolveConflicts=params["resolve_conflicts"],
                **update,
            )
            addon = settle() or addon
    if kit.sync_dict_tags(
        client,
        addon["addonArn"],
        addon.get("tags") or {},
        params["tags"],
        purge=params["purge_tags"],
        check_mode=module.check_mode,
    ):
        changed = True
        if not module.check_mode:
            addon = describe(client, cluster, name) or addon
    return {"changed": changed, "addon": render(addon), "diff": {"before": before, "after": render(addon)}}


def main() -> None:
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        version=dict(type="str"),
        service_account_role_arn=dict(type="str"),
        configuration_values=dict(type="dict"),
        resolve_conflicts=dict(type="str", choices=["OVERWRITE", "PRESERVE", "NONE"], default="OVERWRITE"),
        preserve_on_delete=dict(type="bool", default=False),
        **kit.TAG_OPTIONS,
        **kit.wait_options(900),
    )
    kit.run_module(
        argument_spec,
        run,
        service="eks",
        failure=lambda params: f"Failed to manage add-on {params['name']}",
        required_if=[("state", "present", ["version"])],
    )


if __name__ == "__main__":
    main()
