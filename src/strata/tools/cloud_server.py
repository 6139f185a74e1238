"""Entry point of the embedded cloud: moto's server, with fidelity fixes where it differs from AWS.

Each fix makes the emulator answer as AWS does, so that the platform's code is exercised
exactly as against a real account. Keep this list short and documented
(docs/embedded-cloud.md):

- DescribeTags reports NAT gateways with resource type "natgateway" (AWS's value); moto
  says "nat-gateway", so a filter on resource-type=natgateway (amazon.aws does this to
  reconcile tags) finds nothing and every run would re-tag the NAT gateways.
- UpdateSecurityGroupRuleDescriptions{Ingress,Egress} answer <return>true</return> as in
  AWS; moto answers an empty body, and amazon.aws.ec2_security_group fails on the missing
  "Return" key whenever it changes a rule description.
- CreateLaunchTemplate keeps the template's own tags (TagSpecifications of type
  launch-template) out of the first version's LaunchTemplateData, as AWS does; moto copies
  them in, so amazon.aws.ec2_launch_template sees a difference and adds a version per run.
- Auto Scaling groups spread their instances over the subnets of VPCZoneIdentifier (AWS
  balances availability zones); moto launches them all in the first subnet.
- An Auto Scaling group's instance reports the launch template version it was launched
  from, as AWS does; moto reports the template's current default version for every
  instance, so an instance launched before a new version looks up to date and would never
  be rolled onto it (strata_asg_roll).
- CreateLaunchTemplateVersion keeps the new version's UserData as the base64 it was given,
  as CreateLaunchTemplate does; moto stores it raw, and the next instance an Auto Scaling
  group launches from that version fails (HTTP 500): a node group could never roll onto a
  new launch template version that carries a bootstrap script.
- DeleteLaunchTemplateVersions exists (moto answers HTTP 500, "not implemented"): a deleted
  version is no longer described or launched from, its number is not reused, and the
  default version cannot be deleted (an UnsuccessfullyDeleted item, as in AWS).
  amazon.aws.ec2_launch_template deletes a template's other versions before the template,
  so a node group whose template ever got a second version could not be destroyed.
- EKS UpdateClusterVersion, UpdateNodegroupVersion and DescribeUpdate exist, with the rules
  EKS enforces on an upgrade (one minor at a time, node groups never ahead of the control
  plane, the control plane never more than the node groups ahead): cloud_eks_updates.py.
- ScheduleKeyDeletion, CancelKeyDeletion, EnableKey and DisableKey accept a key ARN as AWS
  does (amazon.aws.kms_key passes one); moto fails with a KeyError (HTTP 500) unless given
  the bare key id.
- DescribeDBParameterGroups of a group that does not exist fails with
  DBParameterGroupNotFound as in AWS; moto returns an empty list, and
  amazon.aws.rds_instance_param_group fails with an IndexError instead of creating it.
- A gp3 DB instance reports its baseline Iops (3000) and StorageThroughput (125 MiB/s),
  and an instance with Performance Insights its PerformanceInsights* fields, as AWS does;
  moto reports none of them, and amazon.aws.rds_instance fails on every run after the first.
- A new Aurora PostgreSQL cluster parameter group lists its family's parameters with their
  engine defaults, as in AWS; moto's starts empty, and amazon.aws.rds_cluster_param_group
  refuses to set a parameter it cannot find. moto has no catalog of the family, so the
  parameters the platform sets are seeded (AURORA_POSTGRESQL_DEFAULTS, AWS's defaults).
  The same holds for a DB parameter group of a postgres family (POSTGRES_DEFAULTS), where
  amazon.aws.rds_instance_param_group would otherwise skip the parameters silently.
- An Aurora member instance reports its cluster's DBSubnetGroup, as in AWS; moto reports
  none, and amazon.aws.rds_instance fails with KeyError 'DBSubnetGroup' on a second run.
- DescribeBackupVault of a vault that does not exist fails with AccessDeniedException (403),
  AWS's (odd) answer, which amazon.aws.backup_vault relies on to create the vault; moto
  answers ResourceNotFoundException and the module fails.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState
from moto.backup.models import BackupBackend
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.core.types import Base64EncodedString
from moto.ec2 import utils as ec2_utils
from moto.ec2.exceptions import InvalidLaunchTemplateVersionNotFound
from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend, LaunchTemplateVersion
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.responses.security_groups import SecurityGroups
from moto.kms.models import KmsBackend
from moto.rds.exceptions import DBParameterGroupNotFoundError
from moto.rds.models import DBClusterParameterGroup, DBInstance, DBInstanceClustered, DBParameterGroup, RDSBackend
from moto.server import main as moto_main

from strata.tools import cloud_eks_updates

FIDELITY_FIXES = {"nat": "natgateway"}
# AWS's engine defaults of the aurora-postgresql families for the parameters the platform sets.
AURORA_POSTGRESQL_DEFAULTS = {
    "rds.force_ssl": "0",
    "log_min_duration_statement": "-1",
    "log_connections": "0",
    "log_disconnections": "0",
}


def _answer_return_true(
    action: Callable[[SecurityGroups], object],
) -> Callable[[SecurityGroups], ActionResult]:
    @functools.wraps(action)
    def wrapper(self: SecurityGroups) -> ActionResult:
        action(self)
        return ActionResult({"Return": True})

    return wrapper


def _template_tags_stay_on_the_template(
    action: Callable[[LaunchTemplates], ActionResult],
) -> Callable[[LaunchTemplates], ActionResult]:
    @functools.wraps(action)
    def wrapper(self: LaunchTemplates) -> ActionResult:
        result = action(self)
        template = self.ec2_backend.get_launch_template_by_name(self._get_param("LaunchTemplateName"))
        for version in template.versions:
            specs = version.data.get("TagSpecifications")
            if specs:
                version.data["TagSpecifications"] = [s for s in specs if s.get("ResourceType") != "launch-template"]
        return result

    return wrapper


def _balance_zones(
    replace: Callable[[FakeAutoScalingGroup, int, dict[str, str]], None],
) -> Callable[[FakeAutoScalingGroup, int, dict[str, str]], None]:
    @functools.wraps(replace)
    def wrapper(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]) -> None:
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        if len(subnets) < 2:
            replace(self, count_needed, propagated_tags)
            return
        try:
            for _ in range(count_needed):
                load = {s: 0 for s in subnets}
                for state in self.instance_states:
                    subnet = getattr(state.instance, "subnet_id", None)
                    if subnet in load:
                        load[subnet] += 1
                # One at a time, into the least-loaded subnet (first on ties): AWS's balancing.
                self.vpc_zone_identifier = min(subnets, key=lambda s: (load[s], subnets.index(s)))
                replace(self, 1, dict(propagated_tags))
        finally:
            self.vpc_zone_identifier = ",".join(subnets)

    return wrapper


LAUNCHED_VERSION = "_strata_launch_template_version"


def _remember_the_launched_version(
    replace: Callable[[FakeAutoScalingGroup, int, dict[str, str]], None],
) -> Callable[[FakeAutoScalingGroup, int, dict[str, str]], None]:
    @functools.wraps(replace)
    def wrapper(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]) -> None:
        replace(self, count_needed, propagated_tags)
        if self.ec2_launch_template is None:
            return
        number = str(self.ec2_launch_template.get_version(self.launch_template_version).number)
        for state in self.instance_states:
            if not hasattr(state.instance, LAUNCHED_VERSION):
                setattr(state.instance, LAUNCHED_VERSION, number)

    return wrapper


def _launch_template_as_launched(self: InstanceState) -> dict[str, Any] | None:
    template = self.auto_scaling_group.ec2_launch_template if self.auto_scaling_group is not None else None
    if template is None:
        return None
    version = getattr(self.instance, LAUNCHED_VERSION, None) or template.default_version_number
    return {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name, "Version": str(version)}


def _user_data_as_given(
    create_version: Callable[[LaunchTemplate, dict[str, Any], str], LaunchTemplateVersion],
) -> Callable[[LaunchTemplate, dict[str, Any], str], LaunchTemplateVersion]:
    @functools.wraps(create_version)
    def wrapper(self: LaunchTemplate, data: dict[str, Any], description: str) -> LaunchTemplateVersion:
        if data.get("UserData") is not None and not isinstance(data["UserData"], Base64EncodedString):
            data = {**data, "UserData": ec2_utils.parse_user_data(data["UserData"])}
        return create_version(self, data, description)

    return wrapper


DELETED_VERSIONS = "_strata_deleted_versions"


def _deleted(template: LaunchTemplate) -> set[int]:
    deleted: set[int] = template.__dict__.setdefault(DELETED_VERSIONS, set())
    return deleted


def _delete_launch_template_versions(self: LaunchTemplates) -> ActionResult:
    name, template_id = self._get_param("LaunchTemplateName"), self._get_param("LaunchTemplateId")
    self.error_on_dryrun()
    template = (
        self.ec2_backend.get_launch_template(template_id)
        if template_id
        else self.ec2_backend.get_launch_template_by_name(name)
    )
    done, refused = [], []
    for requested in self._get_param("Versions", []):
        item = {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name}
        number = int(requested) if str(requested).isdigit() else 0
        if not 0 < number <= len(template.versions) or number in _deleted(template):
            error = {"Code": "launchTemplateVersionDoesNotExist", "Message": "The specified version does not exist."}
            refused.append({**item, "VersionNumber": number, "ResponseError": error})
        elif number == template.default_version_number:
            message = "Cannot delete the default version of the launch template."
            refused.append(
                {**item, "VersionNumber": number, "ResponseError": {"Code": "unexpectedError", "Message": message}}
            )
        else:
            _deleted(template).add(number)
            done.append({**item, "VersionNumber": number})
    return ActionResult(
        {"SuccessfullyDeletedLaunchTemplateVersions": done, "UnsuccessfullyDeletedLaunchTemplateVersions": refused}
    )


def _deleted_versions_are_gone(
    get_version: Callable[[LaunchTemplate, Any], LaunchTemplateVersion],
) -> Callable[[LaunchTemplate, Any], LaunchTemplateVersion]:
    @functools.wraps(get_version)
    def wrapper(self: LaunchTemplate, num: Any) -> LaunchTemplateVersion:
        if str(num).lower() == "$latest":
            return max((v for v in self.versions if v.number not in _deleted(self)), key=lambda v: v.number)
        version = get_version(self, num)
        if version.number in _deleted(self):
            raise InvalidLaunchTemplateVersionNotFound(template_id=self.id, version=num)
        return version

    return wrapper


def _describe_existing_versions(describe: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(describe)
    def wrapper(self: LaunchTemplateBackend, *args: Any, **kwargs: Any) -> Any:
        return [(t, v) for t, v in describe(self, *args, **kwargs) if v.number not in _deleted(t)]

    return wrapper


def _any_key_id(action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(action)
    def wrapper(self: KmsBackend, key_id: str, *args: Any) -> Any:
        return action(self, self.any_id_to_key_id(key_id), *args)

    return wrapper


def _parameter_group_not_found(
    describe: Callable[[RDSBackend, dict[str, Any]], list[DBParameterGroup]],
) -> Callable[[RDSBackend, dict[str, Any]], list[DBParameterGroup]]:
    @functools.wraps(describe)
    def wrapper(self: RDSBackend, db_parameter_group_kwargs: dict[str, Any]) -> list[DBParameterGroup]:
        groups = describe(self, db_parameter_group_kwargs)
        name = db_parameter_group_kwargs.get("db_parameter_group_name")
        if name and not groups:
            raise DBParameterGroupNotFoundError(name)
        return groups

    return wrapper


def _instance_as_aws_reports_it(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: DBInstance, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        # Attributes moto's serializer turns into the response's PerformanceInsights* fields.
        if kwargs.get("enable_performance_insights"):
            setattr(self, "performance_insights_enabled", True)  # noqa: B010
            setattr(self, "performance_insights_kms_key_id", kwargs.get("performance_insights_kms_key_id"))  # noqa: B010
            retention = kwargs.get("performance_insights_retention_period") or 7
            setattr(self, "performance_insights_retention_period", retention)  # noqa: B010
        if self.storage_type == "gp3":
            setattr(self, "iops", self.iops or 3000)  # noqa: B010
            self._storage_throughput = self._storage_throughput or 125

    return wrapper


# AWS's engine defaults (value, data type) of the postgres families for the parameters the platform sets.
POSTGRES_DEFAULTS = {
    "rds.force_ssl": ("1", "boolean"),
    "log_min_duration_statement": ("-1", "integer"),
    "log_connections": ("0", "boolean"),
    "log_disconnections": ("0", "boolean"),
}


def _postgres_defaults(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: DBParameterGroup, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        family = str(getattr(self, "family", "") or "")
        if family.startswith("postgres"):
            for name, (value, data_type) in POSTGRES_DEFAULTS.items():
                self.parameters[name] = {
                    "ParameterName": name,
                    "ParameterValue": value,
                    "DataType": data_type,
                    "Source": "engine-default",
                    "ApplyType": "dynamic",
                    "IsModifiable": True,
                }

    return wrapper


def _engine_defaults(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: DBClusterParameterGroup, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if str(self.db_parameter_group_family).startswith("aurora-postgresql"):
            for name, value in AURORA_POSTGRESQL_DEFAULTS.items():
                self.parameters[name].update(
                    {"ParameterValue": value, "Source": "engine-default", "ApplyType": "dynamic", "IsModifiable": True}
                )

    return wrapper


class _AccessDenied(JsonRESTError):
    code = 403

    def __init__(self) -> None:
        super().__init__("AccessDeniedException", "Insufficient privileges to perform this action.")


def _missing_vault_is_access_denied(describe: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(describe)
    def wrapper(self: BackupBackend, backup_vault_name: str) -> Any:
        if backup_vault_name not in self.vaults:
            raise _AccessDenied()
        return describe(self, backup_vault_name)

    return wrapper


def _member_subnet_group(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: DBInstanceClustered, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        # db_subnet_group_name is a write-only property in moto; its value lives here.
        if getattr(self, "_db_subnet_group_name", None) is None and getattr(self.cluster, "db_subnet_group_name", None):
            self.db_subnet_group_name = self.cluster.db_subnet_group_name

    return wrapper


def apply_fidelity_fixes() -> None:
    cloud_eks_updates.apply()
    ec2_utils.EC2_PREFIX_TO_RESOURCE.update(FIDELITY_FIXES)
    for name in (
        "update_security_group_rule_descriptions_ingress",
        "update_security_group_rule_descriptions_egress",
    ):
        setattr(SecurityGroups, name, _answer_return_true(getattr(SecurityGroups, name)))
    FakeAutoScalingGroup.replace_autoscaling_group_instances = _balance_zones(  # type: ignore[method-assign,assignment]
        _remember_the_launched_version(FakeAutoScalingGroup.replace_autoscaling_group_instances)
    )
    InstanceState.launch_template = property(_launch_template_as_launched)  # type: ignore[method-assign,assignment]
    BackupBackend.describe_backup_vault = _missing_vault_is_access_denied(  # type: ignore[method-assign]
        BackupBackend.describe_backup_vault
    )
    DBParameterGroup.__init__ = _postgres_defaults(DBParameterGroup.__init__)  # type: ignore[method-assign]
    DBClusterParameterGroup.__init__ = _engine_defaults(DBClusterParameterGroup.__init__)  # type: ignore[method-assign]
    DBInstanceClustered.__init__ = _member_subnet_group(DBInstanceClustered.__init__)  # type: ignore[method-assign]
    DBInstance.__init__ = _instance_as_aws_reports_it(DBInstance.__init__)  # type: ignore[method-assign]
    RDSBackend.describe_db_parameter_groups = _parameter_group_not_found(  # type: ignore[method-assign,assignment]
        RDSBackend.describe_db_parameter_groups
    )
    for name in ("schedule_key_deletion", "cancel_key_deletion", "enable_key", "disable_key"):
        setattr(KmsBackend, name, _any_key_id(getattr(KmsBackend, name)))
    LaunchTemplate.create_version = _user_data_as_given(  # type: ignore[method-assign,assignment]
        LaunchTemplate.create_version
    )
    LaunchTemplates.delete_launch_template_versions = _delete_launch_template_versions  # type: ignore[attr-defined]
    LaunchTemplate.get_version = _deleted_versions_are_gone(LaunchTemplate.get_version)  # type: ignore[method-assign,assignment]
    LaunchTemplate.latest_version = lambda self: self.get_version("$Latest")  # type: ignore[method-assign]
    LaunchTemplateBackend.describe_launch_template_versions = _describe_existing_versions(  # type: ignore[method-assign]
        LaunchTemplateBackend.describe_launch_template_versions
    )
    LaunchTemplates.create_launch_template = _template_tags_stay_on_the_template(  # type: ignore[method-assign,assignment]
        LaunchTemplates.create_launch_template
    )


def main(argv: list[str] | None = None) -> None:
    apply_fidelity_fixes()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
