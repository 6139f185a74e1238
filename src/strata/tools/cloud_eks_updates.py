"""EKS version upgrades in the embedded cloud: UpdateClusterVersion, UpdateNodegroupVersion and DescribeUpdate.

moto has none of them (its router does not know the paths: HTTP 404), so a cluster upgrade could only be checked
against the service model. These answer as EKS does, with the rules EKS enforces, so that an upgrade of the platform
is rehearsed against something that can refuse it:

- the control plane moves one minor version at a time ("Unsupported Kubernetes minor version update from 1.34 to
  1.36"), and not while a managed node group is still behind it (its nodes must follow first);
- a managed node group cannot run a newer Kubernetes version than its control plane;
- a node group keeps the launch template it was created with (only its version moves), and that version must exist.

The change is applied at once (EKS takes minutes, the module's wait for ACTIVE covers both); the answer is EKS's
InProgress, and DescribeUpdate then reports the update Successful.
"""

from __future__ import annotations

from typing import Any

import moto.eks.urls as eks_urls
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.models import ec2_backends
from moto.eks.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.eks.models import Cluster, Nodegroup
from moto.eks.responses import EKSResponse
from moto.moto_api._internal import mock_random as random

UPDATES = "_strata_updates"
PATHS = (
    "{0}/clusters/(?P<name>[^/]+)/updates$",
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$",
    "{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)/update-version$",
)


def minor(version: str) -> tuple[int, int]:
    major, _, rest = str(version).partition(".")
    return int(major), int(rest.split(".")[0])


def _refuse(message: str, cluster: str | None = None, nodegroup: str | None = None) -> InvalidParameterException:
    return InvalidParameterException(
        clusterName=cluster, nodegroupName=nodegroup, fargateProfileName=None, addonName=None, message=message
    )


def _record(owner: Cluster | Nodegroup, params: list[dict[str, str]]) -> dict[str, Any]:
    """Keep the update for DescribeUpdate (Successful: it is applied) and answer what EKS answers (InProgress)."""
    update = {"id": str(random.uuid4()), "type": "VersionUpdate", "params": params, "createdAt": utcnow(), "errors": []}
    owner.__dict__.setdefault(UPDATES, {})[update["id"]] = {**update, "status": "Successful"}
    return {**update, "status": "InProgress"}


def _update_cluster_version(self: EKSResponse) -> ActionResult:
    name, version = self._get_param("name"), str(self._get_param("version"))
    cluster = self.eks_backend.describe_cluster(name)
    current = minor(cluster.version)
    if minor(version) != (current[0], current[1] + 1):
        raise _refuse(f"Unsupported Kubernetes minor version update from {cluster.version} to {version}", name)
    behind = sorted(n for n, group in cluster.nodegroups.items() if minor(group.version) < current)
    if behind:
        raise _refuse(
            f"Nodegroups {behind} must be updated to match cluster version {cluster.version} before updating cluster "
            "version",
            name,
        )
    cluster.version = version
    params = [{"type": "Version", "value": version}, {"type": "PlatformVersion", "value": cluster.platformVersion}]
    return ActionResult({"update": _record(cluster, params)})


def _template_version_exists(self: EKSResponse, group: Nodegroup, wanted: dict[str, Any]) -> None:
    current = group.launch_template or {}
    if not current:
        raise _refuse(
            "A launch template can only be updated on a node group created with one", nodegroup=group.nodegroup_name
        )
    if any(wanted.get(k) and wanted[k] != current.get(k) for k in ("name", "id")):
        raise _refuse(
            f"The node group uses launch template {current.get('name') or current.get('id')}; only its version can "
            "change",
            nodegroup=group.nodegroup_name,
        )
    # moto's node group resolves its template's id at creation, whichever of name or id it was given.
    template = ec2_backends[self.current_account][self.region].get_launch_template(current["id"])
    template.get_version(str(wanted["version"]))  # InvalidLaunchTemplateVersion.NotFound, as EKS reports it


def _update_nodegroup_version(self: EKSResponse) -> ActionResult:
    cluster_name, name = self._get_param("name"), self._get_param("nodegroupName")
    cluster = self.eks_backend.describe_cluster(cluster_name)
    group = self.eks_backend.describe_nodegroup(cluster_name, name)
    version, template, release = (self._get_param(k) for k in ("version", "launchTemplate", "releaseVersion"))
    if version and minor(version) > minor(cluster.version):
        raise _refuse(
            f"Requested Nodegroup Kubernetes version {version} is newer than the cluster's {cluster.version}",
            cluster_name,
            name,
        )
    params = []
    if template and template.get("version"):
        _template_version_exists(self, group, template)
        group.launch_template["version"] = str(template["version"])  # type: ignore[index]
        params.append({"type": "LaunchTemplateVersion", "value": str(template["version"])})
    if version:
        group.version = str(version)
        params.append({"type": "Version", "value": str(version)})
    if release:
        group.release_version = str(release)
        params.append({"type": "ReleaseVersion", "value": str(release)})
    group.modified_at = utcnow()
    return ActionResult({"update": _record(group, params)})


def _describe_update(self: EKSResponse) -> ActionResult:
    cluster_name, update_id = self._get_param("name"), self._get_param("updateId")
    nodegroup = self._get_param("nodegroupName")
    owner = (
        self.eks_backend.describe_nodegroup(cluster_name, nodegroup)
        if nodegroup
        else self.eks_backend.describe_cluster(cluster_name)
    )
    update = owner.__dict__.get(UPDATES, {}).get(update_id)
    if update is None:
        raise ResourceNotFoundException(
            clusterName=cluster_name,
            nodegroupName=nodegroup,
            fargateProfileName=None,
            addonName=None,
            message=f"No update found for ID: {update_id}",
        )
    return ActionResult({"update": update})


def apply() -> None:
    for path in PATHS:
        eks_urls.url_paths.setdefault(path, eks_urls.response.dispatch)
    EKSResponse.update_cluster_version = _update_cluster_version  # type: ignore[attr-defined]
    EKSResponse.update_nodegroup_version = _update_nodegroup_version  # type: ignore[attr-defined]
    EKSResponse.describe_update = _describe_update  # type: ignore[attr-defined]
