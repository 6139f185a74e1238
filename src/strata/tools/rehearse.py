"""make rehearse ENV=staging|production: that environment's own inventory and code paths against a private embedded
cloud on loopback, through the whole lifecycle, each step asserted.

    python -m strata.tools.rehearse --env staging [--port N] [--keep]

Only the endpoint and the credentials differ from a real run: the one switch that allows it
(strata_rehearsal_endpoint) accepts a loopback address only, and the preflight refuses it for anything else. The
sequence: check mode on the empty cloud creates nothing; converge; a second converge changes nothing; check mode
changes nothing; the summary `make up` prints; destroy; a second destroy changes nothing; nothing tagged is left
(what destroy keeps on purpose, the final snapshot and its keys, is listed apart). The Kubernetes play renders the
environment's manifests offline (the embedded cloud's EKS has no API server). Exit status 0 only when every step
held.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from strata.tools import cloud, summary

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
ENVS = ("staging", "production")


@dataclass
class Step:
    name: str
    seconds: float
    changed: int | None
    ok: bool
    detail: str = ""


@dataclass
class Rehearsal:
    env: str
    endpoint: str
    work: Path
    steps: list[Step] = field(default_factory=list)
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def environment(self) -> dict[str, str]:
        """The controller's environment for a rehearsal: dummy credentials, no metadata probe, no ambient endpoint
        or profile that could send a call anywhere else."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "STRATA_CLOUD_PORT"}
        return {**keep, **cloud.DUMMY_CREDENTIALS, "ANSIBLE_FORCE_COLOR": "false", "ANSIBLE_NOCOLOR": "1"}

    def playbook(self, name: str, playbook: str, *extra: str, expect_changed: int | None = None) -> str:
        argv = [PLAYBOOK, playbook, "-e", f"env={self.env}", "-e", f"strata_rehearsal_endpoint={self.endpoint}"]
        argv += ["-e", f"kubernetes_render_dir={self.work / 'k8s'}", *extra]
        started = time.monotonic()
        proc = subprocess.run(  # noqa: S603 - the venv's ansible-playbook, arguments built here
            argv,
            cwd=ROOT,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        if self.log:
            with self.log.open("a") as log:
                log.write(f"\n===== {name}: {' '.join(argv[1:])}\n{proc.stdout}")
        changed = sum(int(m.group(2)) for m in RECAP.finditer(proc.stdout)) if RECAP.search(proc.stdout) else None
        ok = proc.returncode == 0 and (expect_changed is None or changed == expect_changed)
        detail = "" if ok else f"exit {proc.returncode}, changed={changed}, expected {expect_changed}"
        if proc.returncode != 0:
            errors = [line for line in proc.stdout.splitlines() if line.startswith(("[ERROR]", "fatal:"))]
            detail += ": " + " | ".join(errors[:3])[:600]
        self.steps.append(Step(name, seconds, changed, ok, detail))
        return proc.stdout

    def expect_empty(self, name: str) -> None:
        started = time.monotonic()
        remaining = summary.leftovers(self.endpoint, "eu-west-3", self.env)
        ok = remaining == []
        self.steps.append(Step(name, time.monotonic() - started, None, ok, ", ".join(remaining[:5])))


def deletion_protected(env: str) -> bool:
    """Whether the environment's inventory turns the database's deletion protection on (production does)."""
    path = ROOT / "inventories" / env / "group_vars/all/database.yml"
    return bool((yaml.safe_load(path.read_text()) or {}).get("database_deletion_protection", False))


def rehearse(
    env: str,
    port: int,
    work: Path,
    *,
    log: Path | None = None,
    out: Callable[[str], object] = print,
    inspect: Callable[[str], object] | None = None,
) -> Rehearsal:
    """The whole sequence against a cloud already listening on `port`; `inspect(endpoint)` runs on the converged
    estate, before destroy."""
    r = Rehearsal(env, cloud.endpoint_url(port), work, log=log)
    for key, value in cloud.DUMMY_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    r.playbook("check mode, empty cloud", "site.yml", "--check")
    r.expect_empty("check mode created nothing")
    r.playbook("converge", "site.yml")
    r.playbook("second converge", "site.yml", expect_changed=0)
    r.playbook("check mode, converged", "site.yml", "--check", expect_changed=0)
    out(summary.render(summary.collect(r.endpoint, "eu-west-3", env), r.endpoint))
    if inspect is not None:
        inspect(r.endpoint)
    if deletion_protected(env):
        # What an operator does, and only deliberately: destroy is refused while the database is protected; turn
        # the protection off through the role, then destroy.
        refused = r.playbook("destroy refused (protected)", "playbooks/destroy.yml", expect_changed=None)
        # ...before removing anything at all.
        refused_first = "has deletion protection on" in " ".join(refused.split()) and r.steps[-1].changed == 0
        r.steps[-1].ok = refused_first
        r.steps[-1].detail = "" if refused_first else "destroy was not refused, or not before removing anything"
        off = ("-e", "database_deletion_protection=false")
        r.playbook("protection off", "site.yml", "--tags", "database", *off)
        r.playbook("destroy", "playbooks/destroy.yml", *off)
        r.playbook("second destroy", "playbooks/destroy.yml", *off, expect_changed=0)
        r.expect_empty("nothing tagged left")
        return finish(r, out)
    r.playbook("destroy", "playbooks/destroy.yml")
    r.playbook("second destroy", "playbooks/destroy.yml", expect_changed=0)
    r.expect_empty("nothing tagged left")
    return finish(r, out)


def finish(r: Rehearsal, out: Callable[[str], object]) -> Rehearsal:
    kept = summary.retained(r.endpoint, "eu-west-3", r.env)
    if kept:
        out(f"retained on purpose (final snapshots and the keys that decrypt them): {len(kept)}")
    return r


def report(r: Rehearsal) -> str:
    lines = [f"Rehearsal of env={r.env} against {r.endpoint}", f"{'step':<28} {'seconds':>8} {'changed':>8}  result"]
    for step in r.steps:
        changed = "" if step.changed is None else str(step.changed)
        verdict = "ok" if step.ok else f"FAILED {step.detail}"
        lines.append(f"{step.name:<28} {step.seconds:>8.1f} {changed:>8}  {verdict}")
    lines.append(f"rehearsal of env={r.env}: {'PASSED' if r.ok else 'FAILED'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strata-rehearse", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--env", required=True, choices=ENVS)
    parser.add_argument("--port", type=int, default=0, help="the private cloud's port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the cloud running and its folder afterwards")
    args = parser.parse_args(argv)
    port = args.port or cloud.free_port()
    work = Path(tempfile.mkdtemp(prefix=f"strata-rehearse-{args.env}-"))
    log = work / "rehearsal.log"
    print(cloud.start(port, work / "cloud"))
    try:
        r = rehearse(args.env, port, work, log=log)
    finally:
        if not args.keep:
            print(cloud.stop(work / "cloud"))
    print(report(r))
    print(f"full log: {log}" if args.keep or not r.ok else "")
    if not args.keep and r.ok:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if r.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
