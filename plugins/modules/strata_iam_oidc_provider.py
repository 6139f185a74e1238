#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: an IAM OpenID Connect provider (for EKS service-account roles)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_iam_oidc_provider
short_description: Manage an IAM OpenID Connect identity provider, such as an EKS cluster's issuer
description:
  - Creates, updates (client ids, thumbprints, tags) or deletes the IAM OIDC provider of one issuer URL,
    so that Kubernetes service accounts can assume IAM roles (IRSA). Neither amazon.aws nor community.aws
    has a module for OIDC providers.
  - Throttling is retried with jittered exponential backoff; check and diff modes are supported.
version_added: "0.2.0"
author: strata maintainers
options:
  url:
    description: Issuer URL, for instance the EKS cluster's C(identity.oidc.issuer) (C(https://) optional).
    type: str
    required: true
  state:
    description: Whether the provider should exist.
    type: str
    choices: [present, absent]
    default: present
  client_ids:
    description: Audiences; EKS service-account tokens use C(sts.amazonaws.com).
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description:
      - SHA-1 thumbprints of the issuer's certificate chain. IAM now trusts well-known issuers such as EKS
        through its own CA store, but the API still accepts (and older SDKs require) a list; the default
        is the root CA of EKS's OIDC endpoints.
    type: list
    elements: str
    default: [9e99a48a9960b14926bb7f3b02e22da2b0ab7280]
extends_documentation_fragment: [amazon.aws.tags,
  amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: Service-account roles for the cluster
  strata_iam_oidc_provider:
    url: "{{ cluster.identity.oidc.issuer }}"
    tags: {managed-by: strata, env: staging}
"""

RETURN = r"""
provider:
  description: The provider (arn, url, client_id_list, thumbprint_list, tags); empty when absent.
  returned: always
  type: dict
  sample:
    arn: arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-3.amazonaws.com/id/ABCDEF
    url: oidc.eks.eu-west-3.amazonaws.com/id/ABCDEF
    client_id_list: [sts.amazonaws.com]
"""

from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils import strata_aws as kit


def bare(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def find(client: Any, url: str) -> Optional[Dict[str, Any]]:
    for item in kit.call(client, "list_open_id_connect_providers").get("OpenIDConnectProviderList") or []:
        arn = item["Arn"]
        if arn.split(":oidc-provider/", 1)[-1] == bare(url):
            provider = kit.call(client, "get_open_id_connect_provider", OpenIDConnectProviderArn=arn)
            return {
                "arn": arn,
                "url": bare(provider.get("Url", url)),
                "client_id_list": sorted(provider.get("ClientIDList") or []),
                "thumbprint_list": sorted(t.lower() for t in provider.get("ThumbprintList") or []),
                "tags": kit.tags_to_dict(provider.get("Tags")),
            }
    return None


def update(
    client: Any,
    existing: Dict[str, Any],
    module: Any,
    *,
    clients: List[str],
    thumbprints: List[str],
    tags: Optional[Dict[str, str]],
) -> Tuple[bool, Dict[str, str], List[str]]:
    """Bring an existing provider to the wanted audiences, thumbprints and tags."""
    params, check = module.params, module.check_mode
    arn = existing["arn"]
    changed = False
    for client_id in sorted(set(clients) - set(existing["client_id_list"])):
        changed = True
        if not check:
            kit.call(
                client, "add_client_id_to_open_id_connect_provider", OpenIDConnectProviderArn=arn, ClientID=client_id
            )
    for client_id in sorted(set(existing["client_id_list"]) - set(clients)):
        changed = True
        if not check:
            kit.call(
                client,
                "remove_client_id_from_open_id_connect_provider",
                OpenIDConnectProviderArn=arn,
                ClientID=client_id,
            )
    if existing["thumbprint_list"] != thumbprints:
        changed = True
        if not check:
            kit.call(
                client,
                "update_open_id_connect_provider_thumbprint",
                OpenIDConnectProviderArn=arn,
                ThumbprintList=thumbprints,
            )
    to_set, to_remove = kit.tag_changes(existing["tags"], tags, params["purge_tags"])
    if to_set or to_remove:
        changed = True
        if not check and to_set:
            kit.call(
                client,
                "tag_open_id_connect_provider",
                OpenIDConnectProviderArn=arn,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(to_set.items())],
            )
        if not check and to_remove:
            kit.call(client, "untag_open_id_connect_provider", OpenIDConnectProviderArn=arn, TagKeys=to_remove)
    return changed, to_set, to_remove


def run(module: Any, client: Any) -> Dict[str, Any]:
    params = module.params
    existing = find(client, params["url"])
    before = existing or {}
    check = module.check_mode
    if params["state"] == "absent":
        if existing and not check:
            kit.call(client, "delete_open_id_connect_provider", OpenIDConnectProviderArn=existing["arn"])
        return {"changed": existing is not None, "provider": {}, "diff": {"before": before, "after": {}}}

    clients = sorted(set(params["client_ids"]))
    thumbprints = sorted({t.lower() for t in params["thumbprints"]})
    tags = None if params["tags"] is None else {k: str(v) for k, v in params["tags"].items()}
    if existing is None:
        after = {
            "url": bare(params["url"]),
            "client_id_list": clients,
            "thumbprint_list": thumbprints,
            "tags": tags or {},
        }
        if not check:
            request: Dict[str, Any] = {"Url": "https://" + bare(params["url"]), "ClientIDList": clients}
            request["ThumbprintList"] = thumbprints
            if tags:
                request["Tags"] = kit.tag_list(tags)
            after["arn"] = kit.call(client, "create_open_id_connect_provider", **request)["OpenIDConnectProviderArn"]
        return {"changed": True, "provider": after, "diff": {"before": {}, "after": after}}

    changed, to_set, to_remove = update(client, existing, module, clients=clients, thumbprints=thumbprints, tags=tags)
    merged = {k: v for k, v in {**existing["tags"], **to_set}.items() if k not in to_remove}
    after = {**existing, "client_id_list": clients, "thumbprint_list": thumbprints, "tags": merged}
    return {"changed": changed, "provider": after, "diff": {"before": before, "after": after}}


def main() -> None:
    argument_spec = dict(
        url=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        client_ids=dict(type="list", elements="str", default=["sts.amazonaws.com"]),
        thumbprints=dict(type="list", elements="str", default=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]),
        **kit.TAG_OPTIONS,
    )
    kit.run_module(
        argument_spec,
        run,
        service="iam",
        failure=lambda params: f"Failed to manage the OIDC provider of {params['url']}",
    )


if __name__ == "__main__":
    main()
