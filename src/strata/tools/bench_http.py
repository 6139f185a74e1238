"""make bench, the HTTP part: the catalog service through Traefik (two instances) beside one instance hit directly.

One read endpoint (GET /api/v1/items?limit=20, over 200 seeded items) and one write endpoint (POST
/api/v1/items, a new SKU per request), each driven by wrk (Debian's, C, keep-alive connections) for the same
duration and connection count. Requests per second, p50 and p99 latency, and errors (socket errors and any
non-2xx answer) are reported; the ratio column compares each run with the same endpoint hit directly on one
instance, measured in the same invocation. Errors must be zero: the command exits 1 otherwise.

    python -m strata.tools.bench_http [--runtime DIR] [--seconds 10] [--connections 8] [--threads 2]

Without --runtime, a private runtime (playbooks/runtime.yml on free ports, in a temporary folder) is started and
removed afterwards; with --runtime, the one whose state folder is DIR is used (its data grow by the writes).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strata.tools import cloud

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# One SKU per request: wrk numbers its threads in setup(), each thread counts its own requests.
WRITE_SCRIPT = """
local made = 0
function setup(thread)
  made = made + 1
  thread:set("tid", made)
end
function init(args)
  prefix = args[1]
  n = 0
end
function request()
  n = n + 1
  local body = string.format(
    '{"sku":"%s-%d-%d","name":"bench item","price_cents":%d,"category_id":%d}', prefix, tid, n, n % 10000, category)
  return wrk.format("POST", "/api/v1/items", {["Content-Type"] = "application/json"}, body)
end
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def start_runtime(state: Path) -> None:
    ports = {
        "postgres_primary": cloud.free_port(),
        "postgres_standby": cloud.free_port(),
        "app": [cloud.free_port(), cloud.free_port()],
        "traefik_web": cloud.free_port(),
        "traefik_admin": cloud.free_port(),
        "prometheus": cloud.free_port(),
        "postgres_exporter": cloud.free_port(),
    }
    runtime(state, "-e", json.dumps({"runtime_ports": ports}))


def runtime(state: Path, *args: str) -> None:
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/runtime.yml", "-e", "env=local"]
    argv += ["-e", f"runtime_state_dir={state}", *args]
    proc = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise SystemExit(f"bench: playbooks/runtime.yml failed:\n{proc.stdout[-3000:]}")


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # nosec B310
        data: dict[str, Any] = json.load(response)
        return data


def seed(api: str, tag: str) -> int:
    """A category and 200 items to read; returns the category id the writes file their items under."""
    category = post(f"{api}/categories", {"slug": f"bench-{tag.lower()}", "name": "Bench"})
    for n in range(200):
        post(
            f"{api}/items",
            {"sku": f"SEED-{tag}-{n}", "name": f"seed {n}", "price_cents": n, "category_id": category["id"]},
        )
    return int(category["id"])


def milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse(name: str, output: str) -> Result:
    """wrk's report: Requests/sec, the --latency distribution, socket errors and non-2xx/3xx answers."""
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"^\s+(\d+) requests in", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p50 = milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Result(name, rps, p50, p99, requests, errors)


def wrk(name: str, url: str, args: argparse.Namespace, script: Path | None = None, *script_args: str) -> Result:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "--timeout", "5s"]
    if script is not None:
        argv += ["-s", str(script), url, "--", *script_args]
    else:
        argv.append(url)
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)  # noqa: S603
    return parse(name, proc.stdout)


def report(rows: list[tuple[Result, Result]]) -> str:
    lines = ["## The catalog service over HTTP (wrk)", ""]
    lines += ["| run | requests | req/s | p50 (ms) | p99 (ms) | errors | req/s ratio to direct |"]
    lines += ["| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for baseline, other in rows:
        for result in (baseline, other):
            ratio = result.rps / baseline.rps if baseline.rps else 0.0
            lines.append(
                f"| {result.name} | {result.requests} | {result.rps:.1f} | {result.p50_ms:.2f} | "
                f"{result.p99_ms:.2f} | {result.errors} | {ratio:.2f}x |"
            )
    return "\n".join(lines) + "\n"


def measure(state: Path, args: argparse.Namespace, work: Path) -> list[tuple[Result, Result]]:
    manifest = json.loads((state / "runtime.json").read_text())
    api, instance = manifest["api"], manifest["instances"][0]
    tag = secrets.token_hex(3).upper()  # unique keys in a database that may already hold a run's
    category = seed(api, tag)
    script = work / "write.lua"
    script.write_text(f"category = {category}\n{WRITE_SCRIPT}")
    read_path = "/api/v1/items?limit=20"
    reads = (
        wrk("read, one instance directly (baseline)", f"{instance}{read_path}", args),
        wrk("read, through Traefik, 2 instances", f"{api.removesuffix('/api/v1')}{read_path}", args),
    )
    writes = (
        wrk("write, one instance directly (baseline)", instance, args, script, f"D{tag}"),
        wrk("write, through Traefik, 2 instances", api.removesuffix("/api/v1"), args, script, f"T{tag}"),
    )
    return [reads, writes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strata-bench-http", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runtime", type=Path, help="state folder of a running runtime (default: a private one)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed: run `make host` (installs Debian's wrk)")
    work = Path(tempfile.mkdtemp(prefix="strata-bench-http-"))
    state = args.runtime or work / "runtime"
    try:
        if args.runtime is None:
            start_runtime(state)
        rows = measure(state, args, work)
    finally:
        if args.runtime is None and state.exists():
            runtime(state, "-e", "runtime_state=absent")
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrk: {args.threads} threads, {args.connections} connections, {args.seconds} s per run\n")
    print(report(rows))
    errors = sum(r.errors for pair in rows for r in pair)
    if errors:
        print(f"bench: {errors} error(s): every request must succeed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
