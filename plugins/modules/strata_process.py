#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Ansible module: one long-running local process (a server of env=local's runtime), idempotent, check mode."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: strata_process
short_description: Keep one local server process running (or stopped), restarted when its inputs change
description:
  - Starts a program detached from Ansible (own session, output appended to a log file), records its pid and a
    digest of what it was started with (command line, environment, the content of the I(watch) files), and waits
    until it is ready (an HTTP URL answering 2xx, or a TCP port accepting).
  - A second run with the same inputs and a live process reports no change. A changed command line,
    environment or watched file restarts the process (stop, then start) and reports a change.
  - Made for the servers of C(env=local)'s runtime (PostgreSQL, gunicorn, Traefik, Prometheus), where no init
    system may be assumed. Real environments run these as Kubernetes workloads or managed services.
  - With I(unprivileged=true) and Ansible running as root, the program runs in a user namespace of its own where
    root is an ordinary uid (C(unshare --user --map-user=1000)), because PostgreSQL refuses to run as root.
version_added: "0.1.0"
author: strata maintainers
options:
  name:
    description: Name of the process, for messages.
    type: str
    required: true
  state:
    description: C(started) keeps it running (starting or restarting as needed); C(stopped) stops it.
    type: str
    choices: [started, stopped]
    default: started
  argv:
    description: The program and its arguments (no shell). Required when I(state=started).
    type: list
    elements: str
  pidfile:
    description: Where the pid and the start digest are recorded (C(PIDFILE) and C(PIDFILE.json)).
    type: path
    required: true
  log:
    description: File the program's standard output and error are appended to. Required when I(state=started).
    type: path
  chdir:
    description: Working directory of the program.
    type: path
  env:
    description:
      - Variables added to the program's environment, shown like any other option. Never put a secret here;
        give the program a file to read it from (the runtime's services all take one).
    type: dict
    default: {}
  watch:
    description: Files whose content is part of the start digest (configuration files).
    type: list
    elements: path
    default: []
  unprivileged:
    description: As root, run the program as an ordinary uid in a user namespace of its own.
    type: bool
    default: false
  ready_url:
    description: HTTP URL that answers 2xx once the program is ready.
    type: str
  ready_port:
    description: TCP port on 127.0.0.1 that accepts once the program is ready (when there is no I(ready_url)).
    type: int
  ready_timeout:
    description: Seconds to wait for readiness (and for a stop) before failing.
    type: int
    default: 60
  stop_signal:
    description:
      - Signal that stops the program gracefully (PostgreSQL's fast shutdown is INT). It is recorded at start;
        I(state=stopped) uses the recorded one.
    type: str
    choices: [TERM, INT, QUIT]
    default: TERM
"""

EXAMPLES = r"""
- name: Traefik in front of the catalog instances
  strata_process:
    name: traefik
    argv: [/opt/venv/bin/traefik, --configFile=/srv/state/traefik/traefik.yml]
    pidfile: /srv/state/run/traefik.pid
    log: /srv/state/log/traefik.log
    watch: [/srv/state/traefik/traefik.yml]
    ready_url: http://127.0.0.1:8181/ping

- name: PostgreSQL (refuses root; runs in a user namespace when Ansible is root)
  strata_process:
    name: postgres-primary
    argv: [/usr/lib/postgresql/15/bin/postgres, -D, /srv/state/postgres/primary]
    unprivileged: true
    stop_signal: INT
    pidfile: /srv/state/run/postgres-primary.pid
    log: /srv/state/log/postgres-primary.log
    ready_port: 25432

- name: Stop it
  strata_process:
    name: traefik
    state: stopped
    pidfile: /srv/state/run/traefik.pid
"""

RETURN = r"""
pid:
  description: Pid of the running process (absent when stopped).
  returned: when state=started
  type: int
action:
  description: What was done; one of C(none), C(started), C(restarted), C(stopped).
  returned: always
  type: str
reason:
  description: Why a restart happened (C(not running), C(inputs changed)).
  returned: when the process was (re)started
  type: str
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule

USERNS = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def recorded(pidfile: str) -> Dict[str, Any]:
    try:
        with open(pidfile + ".json") as handle:
            state: Dict[str, Any] = json.load(handle)
    except (OSError, ValueError):
        return {}
    pid = state.get("pid")
    return state if isinstance(pid, int) and alive(pid) else {}


def digest(argv: List[str], env: Dict[str, str], watch: List[str]) -> str:
    sha = hashlib.sha256(json.dumps([argv, sorted(env.items())]).encode())
    for path in watch:
        with open(path, "rb") as handle:
            sha.update(path.encode() + b"\0" + handle.read())
    return sha.hexdigest()


def ready(url: Optional[str], port: Optional[int]) -> bool:
    try:
        if url:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URLs  # nosec B310
                return bool(200 <= response.status < 300)
        if port:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return True
    except (OSError, urllib.error.URLError):
        return False
    return True


def stop(pid: int, sig: str, timeout: int) -> bool:
    """Stop gracefully, then SIGKILL after the timeout; True when it had to be killed."""
    try:
        os.kill(pid, getattr(signal, "SIG" + sig))
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return False
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def start(module: Any, params: Dict[str, Any], argv: List[str], wanted: str) -> int:
    env = dict(os.environ)
    env.update({k: str(v) for k, v in params["env"].items()})
    for path in (params["pidfile"], params["log"]):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(params["log"], "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(  # noqa: S603 - argv from the role, no shell
            argv,
            cwd=params["chdir"],
            env=env,
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    with open(params["pidfile"], "w") as handle:
        handle.write(f"{proc.pid}\n")
    with open(params["pidfile"] + ".json", "w") as handle:
        json.dump(
            {"pid": proc.pid, "digest": wanted, "name": params["name"], "stop_signal": params["stop_signal"]}, handle
        )
    deadline = time.monotonic() + params["ready_timeout"]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            module.fail_json(
                msg=f"{params['name']} exited with status {proc.returncode} while starting; see {params['log']}",
                log_tail=tail(params["log"]),
            )
        if ready(params["ready_url"], params["ready_port"]):
            return proc.pid
        time.sleep(0.2)
    module.fail_json(
        msg=f"{params['name']} did not become ready within {params['ready_timeout']} s "
        f"({params['ready_url'] or params['ready_port']}); see {params['log']}",
        log_tail=tail(params["log"]),
    )
    return proc.pid


def tail(path: str, lines: int = 15) -> List[str]:
    try:
        with open(path, errors="replace") as handle:
            return handle.read().splitlines()[-lines:]
    except OSError:
        return []


def forget(pidfile: str) -> None:
    for path in (pidfile, pidfile + ".json"):
        if os.path.exists(path):
            os.unlink(path)


def stopped(module: Any, current: Dict[str, Any]) -> Dict[str, Any]:
    params = module.params
    if not current:
        if not module.check_mode:
            forget(params["pidfile"])
        return {"changed": False, "action": "none"}
    if not module.check_mode:
        # The signal it was started with wins: a sweep over pidfiles need not know each program.
        sig = current.get("stop_signal", params["stop_signal"])
        if stop(current["pid"], sig, params["ready_timeout"]):
            module.warn(f"{params['name']} ignored SIG{sig}; killed")
        forget(params["pidfile"])
    return {"changed": True, "action": "stopped"}


def run(module: Any) -> Dict[str, Any]:
    params = module.params
    current = recorded(params["pidfile"])
    if params["state"] == "stopped":
        return stopped(module, current)

    for key in ("argv", "log"):
        if not params[key]:
            module.fail_json(msg=f"{key} is required when state=started ({params['name']})")
    argv = [str(a) for a in params["argv"]]
    if params["unprivileged"] and os.geteuid() == 0:
        argv = USERNS + argv
    missing = [path for path in params["watch"] if not os.path.exists(path)]
    if missing:
        if module.check_mode:  # a watched file an earlier task would have written
            return {"changed": True, "action": "started", "reason": "not running"}
        module.fail_json(msg=f"{params['name']}: watched files missing: {', '.join(missing)}")
    wanted = digest(argv, {k: str(v) for k, v in params["env"].items()}, params["watch"])
    if current and current.get("digest") == wanted:
        return {"changed": False, "action": "none", "pid": current["pid"]}
    reason = "inputs changed" if current else "not running"
    action = "restarted" if current else "started"
    if module.check_mode:
        return {"changed": True, "action": action, "reason": reason}
    if current:
        stop(current["pid"], params["stop_signal"], params["ready_timeout"])
    pid = start(module, params, argv, wanted)
    return {"changed": True, "action": action, "reason": reason, "pid": pid}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["started", "stopped"], "default": "started"},
            "argv": {"type": "list", "elements": "str"},
            "pidfile": {"type": "path", "required": True},
            "log": {"type": "path"},
            "chdir": {"type": "path"},
            "env": {"type": "dict", "default": {}},
            "watch": {"type": "list", "elements": "path", "default": []},
            "unprivileged": {"type": "bool", "default": False},
            "ready_url": {"type": "str"},
            "ready_port": {"type": "int"},
            "ready_timeout": {"type": "int", "default": 60},
            "stop_signal": {"type": "str", "choices": ["TERM", "INT", "QUIT"], "default": "TERM"},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
