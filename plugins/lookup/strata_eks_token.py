# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Lookup plugin: a short-lived EKS token built in Python, and a kubeconfig kubernetes.core can use as it is."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: strata_eks_token
short_description: An EKS authentication token and a ready kubeconfig, without an exec plugin
description:
  - Builds the token C(aws eks get-token) builds, in Python, with the controller's AWS credentials - a presigned
    STS GetCallerIdentity URL that carries the cluster's name in the C(x-k8s-aws-id) header, prefixed with
    C(k8s-aws-v1.) - and reads the cluster's endpoint and certificate authority with DescribeCluster.
  - Returns one dictionary per cluster - C(token), C(expiration) (UTC, ISO 8601), C(host), C(ca_data), and
    C(kubeconfig), a kubeconfig as a dictionary with the token inline. kubernetes.core's modules take it as their
    C(kubeconfig) option, so no C(exec) credential plugin is involved (kubernetes.core issue 461 - kubeconfigs
    whose user runs an exec plugin fail there).
  - The token is valid for 15 minutes after signing; look it up again for longer runs (lookups run each time a
    templated value is used, so a play-level variable is renewed per task).
version_added: "0.1.0"
author: strata maintainers
options:
  _terms:
    description: Names of the EKS clusters.
    required: true
    type: list
    elements: str
  region:
    description: AWS region of the clusters.
    type: str
    required: true
  endpoint_url:
    description:
      - An AWS endpoint for both STS and EKS (env=local's embedded cloud). Leave unset for AWS, where STS is
        called at its regional endpoint.
    type: str
  access_key:
    description: AWS access key; the standard credential chain when unset.
    type: str
  secret_key:
    description: AWS secret key; the standard credential chain when unset.
    type: str
  session_token:
    description: AWS session token.
    type: str
  profile:
    description: Named AWS profile.
    type: str
  describe:
    description: Read the endpoint and CA with DescribeCluster (false - only the token; C(host) and C(kubeconfig)
      are then absent).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Apply a manifest to the environment's cluster
  kubernetes.core.k8s:
    kubeconfig: "{{ eks_access.kubeconfig }}"
    state: present
    src: namespace.yml
  vars:
    eks_access: "{{ lookup('strata_eks_token', eks_cluster_name, region=aws_region) }}"

- name: Only the token (for the API's bearer header)
  ansible.builtin.set_fact:
    eks_token: "{{ lookup('strata_eks_token', 'strata-staging', region='eu-west-3', describe=false).token }}"
"""

RETURN = r"""
_raw:
  description: One dictionary per cluster.
  type: list
  elements: dict
  contains:
    token:
      description: The bearer token (C(k8s-aws-v1.) and the base64url of the presigned URL, unpadded).
      type: str
    expiration:
      description: When EKS stops accepting the token (signing time + 15 minutes), UTC.
      type: str
    host:
      description: The cluster's API endpoint.
      type: str
    ca_data:
      description: The cluster's certificate authority, base64 PEM as EKS returns it.
      type: str
    kubeconfig:
      description: A kubeconfig (dictionary) with one cluster, one user holding the token, one current context.
      type: dict
"""

import base64
import datetime
from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

try:
    import boto3
    import botocore.exceptions
except ImportError:  # pragma: no cover - reported when the lookup runs
    boto3 = None

TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105 - the format's prefix, not a secret
CLUSTER_HEADER = "x-k8s-aws-id"
# The presigned URL's own lifetime; EKS accepts a token for 15 minutes from signing whatever this says.
PRESIGN_SECONDS = 60
TOKEN_LIFETIME = datetime.timedelta(minutes=15)


def session(options: Dict[str, Any]) -> Any:
    return boto3.session.Session(
        aws_access_key_id=options.get("access_key"),
        aws_secret_access_key=options.get("secret_key"),
        aws_session_token=options.get("session_token"),
        profile_name=options.get("profile"),
        region_name=options["region"],
    )


def token_for(sts: Any, cluster: str) -> str:
    """The token: the presigned GetCallerIdentity URL, its x-k8s-aws-id header signed in."""

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_HEADER] = cluster

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    try:
        url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=PRESIGN_SECONDS, HttpMethod="GET")
    finally:
        sts.meta.events.unregister("before-sign.sts.GetCallerIdentity", add_cluster_header)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def kubeconfig(cluster: str, host: str, ca_data: str, token: str) -> Dict[str, Any]:
    user = f"strata-{cluster}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": host, "certificate-authority-data": ca_data}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
    }


def access(options: Dict[str, Any], cluster: str, endpoint: Optional[str]) -> Dict[str, Any]:
    aws = session(options)
    # STS at its regional endpoint (the global one is not what EKS expects in every partition).
    sts_endpoint = endpoint or f"https://sts.{options['region']}.amazonaws.com"
    sts = aws.client("sts", endpoint_url=sts_endpoint)
    signed_at = datetime.datetime.now(datetime.timezone.utc)
    result: Dict[str, Any] = {
        "token": token_for(sts, cluster),
        "expiration": (signed_at + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if options["describe"]:
        eks = aws.client("eks", endpoint_url=endpoint)
        try:
            described = eks.describe_cluster(name=cluster)["cluster"]
        except eks.exceptions.ResourceNotFoundException:
            raise AnsibleError(
                f"strata_eks_token: no EKS cluster {cluster} in {options['region']}: check eks_cluster_name and "
                "aws_region (site.yml creates the cluster), or pass describe=false for the token alone"
            ) from None
        host = described.get("endpoint") or ""
        ca_data = (described.get("certificateAuthority") or {}).get("data") or ""
        if not host:
            raise AnsibleError(
                f"strata_eks_token: the cluster {cluster} has no endpoint yet (status {described.get('status')})"
            )
        result.update(host=host, ca_data=ca_data, kubeconfig=kubeconfig(cluster, host, ca_data, result["token"]))
    return result


class LookupModule(LookupBase):  # type: ignore[misc]
    def run(self, terms: List[str], variables: Optional[Dict[str, Any]] = None, **kwargs: Any) -> List[Dict[str, Any]]:
        if boto3 is None:
            raise AnsibleError("strata_eks_token needs boto3 in the controller's Python (pip install boto3)")
        self.set_options(var_options=variables, direct=kwargs)
        options = {
            name: self.get_option(name)
            for name in ("region", "endpoint_url", "access_key", "secret_key", "session_token", "profile", "describe")
        }
        if not options["region"]:
            raise AnsibleError("strata_eks_token: region is required (aws_region of the environment)")
        try:
            return [access(options, str(cluster), options["endpoint_url"]) for cluster in terms]
        except botocore.exceptions.NoCredentialsError:
            raise AnsibleError(
                "strata_eks_token: no AWS credentials: set AWS_PROFILE (or the standard variables) for the account "
                "of the cluster"
            ) from None
        except botocore.exceptions.ClientError as exc:
            raise AnsibleError(f"strata_eks_token: {exc}") from None
