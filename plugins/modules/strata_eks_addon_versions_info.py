#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: which pinned EKS add-on versions a Kubernetes version supports (read-only)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_eks_addon_versions_info
short_description: Tell which pinned EKS add-on versions are published for a Kubernetes version, before anything changes
description:
  - Reads C(DescribeAddonVersions) for each add-on at the cluster's Kubernetes version, so that an add-on pinned to a
    version EKS does not publish for that Kubernetes version (a typo, a version withdrawn, or one left behind by a
    cluster upgrade) is refused by the preflight, not by C(CreateAddon) half-way through a converge.
  - Neither amazon.aws nor community.aws reads add-on versions.
  - Changes nothing; check mode is the same run.
version_added: "0.3.0"
author: strata maintainers
options:
  kubernetes_version:
    description: The cluster's Kubernetes version, for example C(1.35).
    type: str
    required: true
  addons:
    description: The add-ons and their pinned versions (the eks role's C(eks_addons) entries; other keys are ignored).
    type: list
    elements: dict
    required: true
extends_documentation_fragment: [amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: Refuse add-on versions EKS does not publish for the cluster's version
  strata_eks_addon_versions_info:
    kubernetes_version: "1.35"
    addons: "{{ eks_addons }}"
  register: addon_versions
  failed_when: addon_versions.unsupported | length > 0
"""

RETURN = r"""
published:
  description: For each add-on, the versions EKS publishes for the Kubernetes version, newest first.
  returned: always
  type: dict
  sample: {coredns: [v1.12.4-eksbuild.1, v1.12.3-eksbuild.1]}
unsupported:
  description: The add-ons whose pinned version is not published for the Kubernetes version, with the newest three
    that are (empty when every pin is published).
  returned: always
  type: dict
  sample: {coredns: {pinned: v1.11.1-eksbuild.9, published: [v1.12.4-eksbuild.1]}}
"""

from typing import Any, Dict, List

from ansible.module_utils import strata_aws as kit


def published_versions(client: Any, name: str, kubernetes_version: str) -> List[str]:
    """Every version of add-on `name` EKS publishes for `kubernetes_version`, newest first (the API's order)."""
    request: Dict[str, Any] = {"addonName": name, "kubernetesVersion": kubernetes_version}
    versions: List[str] = []
    while True:
        page = kit.call(client, "describe_addon_versions", **request)
        for addon in page.get("addons", []):
            if addon.get("addonName") == name:
                versions += [v["addonVersion"] for v in addon.get("addonVersions", [])]
        if not page.get("nextToken"):
            return versions
        request["nextToken"] = page["nextToken"]


def run(module: Any, client: Any) -> Dict[str, Any]:
    kubernetes_version = module.params["kubernetes_version"]
    published: Dict[str, List[str]] = {}
    unsupported: Dict[str, Dict[str, Any]] = {}
    for addon in module.params["addons"]:
        name, pinned = addon["name"], addon.get("version") or ""
        published[name] = published_versions(client, name, kubernetes_version)
        if pinned and pinned not in published[name]:
            unsupported[name] = {"pinned": pinned, "published": published[name][:3]}
    return {"changed": False, "published": published, "unsupported": unsupported}


def main() -> None:
    argument_spec = dict(
        kubernetes_version=dict(type="str", required=True),
        addons=dict(type="list", elements="dict", required=True),
    )
    kit.run_module(
        argument_spec,
        run,
        service="eks",
        failure="Failed to read the EKS add-on versions",
        check=lambda params: (
            None
            if all(isinstance(a, dict) and a.get("name") for a in params["addons"])
            else "every entry of addons needs a name"
        ),
    )


if __name__ == "__main__":
    main()
