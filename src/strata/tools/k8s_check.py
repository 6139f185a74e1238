"""Offline checks of the rendered Kubernetes manifests (playbooks/kubernetes.yml -e kubernetes_render_dir=DIR).

Every object is validated against the Kubernetes OpenAPI schema of the cluster version (kubernetes-validate, strict:
an unknown field is an error). Custom resources (cert-manager, Prometheus operator) have no schema there: they are
listed as such, never counted as validated. checkov's Kubernetes checks then run over the folder, offline
(--skip-download), and every skip annotation must say why.

    python -m strata.tools.k8s_check DIR [DIR ...] [--kubernetes-version 1.N] [--checkov PATH]

The version defaults to the one the render recorded in DIR/cluster.json: the environment's strata_kubernetes_version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import yaml  # type: ignore[import-untyped]

# API groups of the custom resources the roles apply; their schemas ship with the charts' CRDs.
CRD_GROUPS = ("cert-manager.io/", "monitoring.coreos.com/", "velero.io/", "traefik.io/")
SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")
SKIP_VALUE = re.compile(r"^(CKV2?_K8S_\d+)=(.{10,})$")


def default_checkov() -> str:
    """checkov of `make checkov`: its own venv under ~/.cache/strata, keyed like the Makefile keys it."""
    if os.environ.get("STRATA_CHECKOV"):
        return os.environ["STRATA_CHECKOV"]
    requirements = Path(__file__).resolve().parents[3] / "requirements/checkov.txt"
    key = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    return str(Path.home() / ".cache/strata/venvs" / f"checkov-{key}" / "bin/checkov")


@dataclass
class Report:
    validated: list[str] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    checkov: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def manifests(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every object of the folder's YAML files (the role files, and charts/<release>/ when helm rendered them)."""
    found = []
    for path in sorted(folder.rglob("*.yaml")):
        if path.parent.name == "charts":  # the release records (chart, version, values), not objects
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((path, doc))
    return found


def name_of(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata", {})
    return f"{doc.get('kind')} {meta.get('namespace', '-')}/{meta.get('name')}"


def cluster_version(folder: Path) -> str:
    """The Kubernetes version the render of `folder` was made for (written by the k8s role in render mode)."""
    record = folder / "cluster.json"
    if not record.is_file():
        raise SystemExit(f"{record} is missing: render with playbooks/kubernetes.yml -e kubernetes_render_dir={folder}")
    return str(json.loads(record.read_text())["kubernetes_version"])


def validate(folder: Path, version: str | None, report: Report) -> None:
    """Every object of `folder` against the schemas of `version` (default: the version the render recorded)."""
    version = version or cluster_version(folder)
    for path, doc in manifests(folder):
        where = f"{path.relative_to(folder)}: {name_of(doc)}"
        if str(doc.get("apiVersion", "")).startswith(CRD_GROUPS):
            report.custom.append(where)
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            report.errors.append(f"{where}: {error.message} at {'.'.join(str(p) for p in error.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            report.errors.append(f"{where}: no schema for {doc.get('apiVersion')} {doc.get('kind')} in {version}")
        else:
            report.validated.append(where)
        for key, value in doc.get("metadata", {}).get("annotations", {}).items():
            if SKIP_ANNOTATION.match(key) and not SKIP_VALUE.match(str(value)):
                report.errors.append(f"{where}: {key} must read CKV_K8S_<n>=<why> (a reason of 10+ characters)")


def run_checkov(folders: list[Path], checkov: str, report: Report) -> None:
    """checkov's Kubernetes framework over the folders, offline; failed checks are errors."""
    args = [checkov, "--framework", "kubernetes", "--skip-download", "--compact", "-o", "json"]
    for folder in folders:
        args += ["-d", str(folder)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)  # noqa: S603
    runs, decoder, text = [], json.JSONDecoder(), result.stdout.strip()
    while text:  # one JSON document per folder, one after the other
        try:
            parsed, end = decoder.raw_decode(text)
        except json.JSONDecodeError:
            report.errors.append(f"checkov gave no JSON (exit {result.returncode}): {result.stderr[-2000:]}")
            return
        runs += parsed if isinstance(parsed, list) else [parsed]
        text = text[end:].lstrip()
    if len(runs) != len(folders):
        report.errors.append(f"checkov reported {len(runs)} runs for {len(folders)} folders: {result.stderr[-2000:]}")
    summary = {"passed": 0, "failed": 0, "skipped": 0}
    for run in runs:
        for key in summary:
            summary[key] += int(run.get("summary", {}).get(key, 0))
        for check in run.get("results", {}).get("failed_checks", []):
            report.errors.append(f"checkov {check['check_id']} ({check['check_name']}) fails: {check['resource']}")
    report.checkov = summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--kubernetes-version", help="default: the version each folder's render recorded")
    parser.add_argument("--checkov", default=default_checkov(), help="default: the venv of `make checkov`")
    parser.add_argument("--no-checkov", action="store_true", help="only the schema validation")
    args = parser.parse_args(argv)
    report = Report()
    for folder in args.folders:
        validate(folder, args.kubernetes_version, report)
    if not args.no_checkov:
        run_checkov(args.folders, args.checkov, report)
    versions = sorted({args.kubernetes_version or cluster_version(f) for f in args.folders})
    print(f"kubernetes-validate --strict ({', '.join(versions)}): {len(report.validated)} objects valid")
    print(f"custom resources (schema from their charts' CRDs, not validated offline): {len(report.custom)}")
    for where in report.custom:
        print(f"  {where}")
    if report.checkov:
        print(
            "checkov (kubernetes, offline): {passed} passed, {failed} failed, {skipped} skipped".format(
                **report.checkov
            )
        )
    for error in report.errors:
        print(f"ERROR {error}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
