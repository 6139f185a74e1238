#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: hand an RDS instance's or Aurora cluster's master password to Secrets Manager."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_rds_master_secret
short_description: Let RDS manage the master password of a DB instance or Aurora cluster in Secrets Manager
description:
  - Turns on C(ManageMasterUserPassword) for one DB instance or Aurora cluster, with the secret encrypted by
    the given KMS key; RDS then generates the password, stores it in Secrets Manager and rotates it. Nobody,
    the playbook included, ever sees it. amazon.aws.rds_instance and amazon.aws.rds_cluster (10.x) have no
    option for it.
  - Idempotent - an instance whose secret already exists with this key is left alone. Changing the key
    re-encrypts the secret (ModifyDB* with the new key).
  - Only the secret's ARN, status and key are returned, never its value.
  - Throttling is retried with jittered exponential backoff; check and diff modes are supported.
version_added: "0.2.0"
author: strata maintainers
options:
  db_instance_identifier:
    description: The DB instance. Exactly one of I(db_instance_identifier) and I(db_cluster_identifier).
    type: str
  db_cluster_identifier:
    description: The Aurora cluster.
    type: str
  kms_key_id:
    description: KMS key (ARN, id or alias) that encrypts the secret; AWS's C(aws/secretsmanager) key when omitted.
    type: str
extends_documentation_fragment: [amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3]
"""

EXAMPLES = r"""
- name: The database's master password lives in Secrets Manager only
  strata_rds_master_secret:
    db_instance_identifier: strata-staging
    kms_key_id: "{{ database_key_arn }}"
"""

RETURN = r"""
master_user_secret:
  description: The secret that holds the master password (never its value).
  returned: always
  type: dict
  sample:
    secret_arn: "arn:aws:secretsmanager:eu-west-3:123456789012:secret:rds!db-0123-AbCdEf"
    secret_status: active
    kms_key_id: arn:aws:kms:eu-west-3:123456789012:key/1111
resource_id:
  description:
    - The database's resource id (C(DbiResourceId) of an instance, C(DbClusterResourceId) of a cluster), what IAM
      database authentication names in C(arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/LOGIN).
  returned: always
  type: str
  sample: db-ABCDEFGHIJKLMNOPQRSTUVWXY
"""

from typing import Any, Dict, Optional

from ansible.module_utils import strata_aws as kit


def describe(client: Any, params: Dict[str, Any]) -> Dict[str, Any]:
    if params["db_cluster_identifier"]:
        clusters = kit.call(client, "describe_db_clusters", DBClusterIdentifier=params["db_cluster_identifier"])
        found: Dict[str, Any] = clusters["DBClusters"][0]
    else:
        instances = kit.call(client, "describe_db_instances", DBInstanceIdentifier=params["db_instance_identifier"])
        found = instances["DBInstances"][0]
    return found


def key_matches(current: Optional[str], wanted: Optional[str], resolve: Any) -> bool:
    if not wanted:
        return True
    if not current:
        return False
    return bool(current == wanted or resolve(current) == resolve(wanted))


def render(secret: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    secret = secret or {}
    return {
        "secret_arn": secret.get("SecretArn"),
        "secret_status": secret.get("SecretStatus"),
        "kms_key_id": secret.get("KmsKeyId"),
    }


def run(module: Any, client: Any, resolve: Any) -> Dict[str, Any]:
    params = module.params
    resource = describe(client, params)
    found = {"resource_id": resource.get("DbClusterResourceId") or resource.get("DbiResourceId")}
    secret = resource.get("MasterUserSecret")
    before = render(secret)
    if secret and key_matches(secret.get("KmsKeyId"), params["kms_key_id"], resolve):
        return {"changed": False, "master_user_secret": before, "diff": {"before": before, "after": before}, **found}
    request: Dict[str, Any] = {"ManageMasterUserPassword": True, "ApplyImmediately": True}
    if params["kms_key_id"]:
        request["MasterUserSecretKmsKeyId"] = params["kms_key_id"]
    if module.check_mode:
        after = {**before, "kms_key_id": params["kms_key_id"] or before["kms_key_id"]}
        return {"changed": True, "master_user_secret": after, "diff": {"before": before, "after": after}, **found}
    if params["db_cluster_identifier"]:
        result = kit.call(client, "modify_db_cluster", DBClusterIdentifier=params["db_cluster_identifier"], **request)
        secret = result["DBCluster"].get("MasterUserSecret")
    else:
        result = kit.call(
            client, "modify_db_instance", DBInstanceIdentifier=params["db_instance_identifier"], **request
        )
        secret = result["DBInstance"].get("MasterUserSecret")
    after = render(secret)
    return {"changed": True, "master_user_secret": after, "diff": {"before": before, "after": after}, **found}


def with_key_resolver(module: Any, client: Any) -> Dict[str, Any]:
    """run() with a resolver of any KMS key id, ARN or alias to the key's ARN (RDS reports the ARN)."""
    kms = module.client("kms")

    def resolve(key: str) -> str:
        arn: str = kit.call(kms, "describe_key", KeyId=key)["KeyMetadata"]["Arn"]
        return arn

    return run(module, client, resolve)


def main() -> None:
    argument_spec = dict(
        db_instance_identifier=dict(type="str"),
        db_cluster_identifier=dict(type="str"),
        kms_key_id=dict(type="str", no_log=False),
    )
    kit.run_module(
        argument_spec,
        with_key_resolver,
        service="rds",
        failure="Failed to hand the master password to Secrets Manager",
        required_one_of=[("db_instance_identifier", "db_cluster_identifier")],
        mutually_exclusive=[("db_instance_identifier", "db_cluster_identifier")],
    )


if __name__ == "__main__":
    main()
