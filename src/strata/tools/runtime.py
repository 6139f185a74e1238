"""strata-runtime: what env=local's runtime (playbooks/runtime.yml) serves, and whether it answers.

    strata-runtime urls [--state DIR]     the URLs to open (the API through Traefik, OpenAPI, Prometheus)
    strata-runtime status [--state DIR]   each process of the runtime: pid alive, endpoint answering

The role writes DIR/runtime.json (default .state/runtime); this command only reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_STATE = Path(__file__).resolve().parents[3] / ".state" / "runtime"


def manifest(state: Path) -> dict[str, Any]:
    path = state / "runtime.json"
    if not path.is_file():
        raise SystemExit(f"strata-runtime: no runtime at {state} (run `make up` or `make runtime`)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback URLs of the runtime  # nosec B310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def urls(state: Path) -> int:
    m = manifest(state)
    print("Runtime (env=local):")
    print(f"  API through Traefik  {m['api']}/items")
    print(f"  OpenAPI page         {m['openapi']}")
    print(f"  Prometheus           {m['prometheus']}/targets")
    print(f"  Traefik metrics      {m['traefik_admin']}/metrics")
    print(f"  instances            {', '.join(m['instances'])}")
    primary, standby = m["postgres_primary"], m["postgres_standby"]
    print(f"  PostgreSQL           primary 127.0.0.1:{primary}, hot standby 127.0.0.1:{standby}")
    print(
        f"                       (database {m['database']}, user {m['database_user']}, password in {m['secrets_dir']})"
    )
    print(f"  logs                 {m['log_dir']}")
    return 0


def status(state: Path) -> int:
    m = manifest(state)
    checks = [(f"catalog {url}", f"{url}/readyz") for url in m["instances"]]
    checks += [("traefik", f"{m['traefik_admin']}/ping"), ("prometheus", f"{m['prometheus']}/-/ready")]
    checks += [("api through traefik", f"{m['api']}/items?limit=1")]
    bad = 0
    for pidfile in sorted(Path(m["run_dir"]).glob("*.pid")):
        alive = pid_alive(pidfile)
        bad += not alive
        print(f"  {pidfile.stem:28} {'running' if alive else 'NOT RUNNING'}")
    for name, url in checks:
        code = answers(url)
        bad += code != 200
        print(f"  {name:28} {code if code else 'no answer'}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strata-runtime", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["urls", "status"])
    parser.add_argument("--state", type=Path, default=Path(os.environ.get("STRATA_RUNTIME_STATE") or DEFAULT_STATE))
    args = parser.parse_args(argv)
    return urls(args.state) if args.command == "urls" else status(args.state)


if __name__ == "__main__":
    sys.exit(main())
