"""The fleet over SSH: the inventory through the bastion, the hardened sshd, the day-2 playbooks."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port, run, venv_env
from tests.integration.lifecycle.support import Lab

pytestmark = pytest.mark.integration


def test_ansible_reaches_the_bastion_directly_and_every_node_through_it(lab: Lab) -> None:
    inventory = [str(ROOT / ".venv/bin/ansible-inventory"), "-i", "inventories/local", "--graph"]
    graph = run(inventory, venv_env(**lab.extra))
    assert graph.returncode == 0, graph.output[-3000:]
    for group in ("@bastion:", "@nodes:", "@nodegroup_app:", "@nodegroup_metrics:", "@zone_eu_west_3c:", "@tier_app:"):
        assert group in graph.output
    ping = lab.ansible("all", "-m", "ansible.builtin.ping", "-o")
    assert ping.returncode == 0, ping.output[-3000:]
    hosts = lab.lab_hosts()
    assert len(hosts) == 13 and [h["role"] for h in hosts].count("bastion") == 1
    for host in hosts:
        assert f"{host['role']}-{host['id']} | SUCCESS" in ping.output
    # Each node answered from its own container at its own address.
    names = lab.ansible("nodes", "-m", "ansible.builtin.command", "-a", "hostname -I", "-o")
    assert names.returncode == 0, names.output[-3000:]
    for host in hosts[1:]:
        assert f"{host['role']}-{host['id']} | CHANGED | rc=0 | (stdout) {host['address']}" in names.output


def test_a_node_is_unreachable_from_the_controller_except_through_the_bastion(lab: Lab) -> None:
    bastion, node = lab.lab_hosts()[0], lab.lab_hosts()[1]
    assert lab.ssh(bastion["address"]).returncode == 0
    direct = lab.ssh(node["address"])
    assert direct.returncode == 255 and "port 22" in direct.output, direct.output
    with pytest.raises(OSError):  # the host's blackhole route: not even a SYN leaves
        socket.create_connection((node["address"], 22), timeout=3)
    key, known = lab.lab_state / "id_ed25519", lab.lab_state / "known_hosts"
    hop = f"ssh -W %h:%p -o BatchMode=yes -o UserKnownHostsFile={known} -i {key} ec2-user@{bastion['address']}"
    through = lab.ssh(node["address"], "-o", f"ProxyCommand={hop}")
    assert through.returncode == 0, through.output


def test_the_bastion_refuses_root_and_passwords_and_its_role_is_idempotent(lab: Lab) -> None:
    bastion = lab.lab_hosts()[0]["address"]
    root = lab.ssh(bastion, user="root")
    assert root.returncode == 255 and "Permission denied (publickey)" in root.output
    password = lab.ssh(bastion, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password")
    assert password.returncode == 255 and "Permission denied (publickey)" in password.output
    again = lab.playbook("-i", "inventories/local", "playbooks/hosts.yml", "-e", "env=local")
    assert again.returncode == 0, again.output[-3000:]
    assert re.search(r"bastion-i-\w+\s+:\s+ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", again.output), again.output


def test_patch_stops_at_the_batch_of_an_unhealthy_node_and_leaves_the_rest(lab: Lab) -> None:
    apps = sorted((h for h in lab.lab_hosts() if h["role"] == "app"), key=lambda h: f"app-{h['id']}")
    assert len(apps) == 3
    first, sick, last = apps
    podman = ["podman", "exec", sick["container"], "sh", "-c"]
    env = venv_env(CONTAINERS_CONF=str(ROOT / "lab/containers.conf"))
    assert run([*podman, "kill $(cat /run/kubelet-standin.pid)"], env).returncode == 0
    patch = lab.ops("patch", "-e", "target=nodegroup_app", "-e", "patch_health_retries=1", "-e", "patch_health_delay=1")
    assert patch.returncode != 0
    assert f"patch stopped at the batch app-{sick['id']}: app-{sick['id']} failed" in patch.output
    assert "Check the host's health before the next batch" in patch.output
    patched = {}
    for host in apps:
        log = run(["podman", "exec", host["container"], "cat", "/var/log/strata-patch.log"], env)
        patched[host["id"]] = log.returncode == 0 and "patched by strata" in log.output
    assert patched == {first["id"]: True, sick["id"]: True, last["id"]: False}
    assert f"app-{last['id']}" not in patch.output  # never even started


def test_run_collect_ssh_config_and_db_tunnel(lab: Lab, tmp_path: Path) -> None:
    bastion, node = lab.lab_hosts()[0], lab.lab_hosts()[1]
    ran = lab.ops("run", "-e", "target=nodes", "-e", "cmd='cat /etc/hostname'")
    assert ran.returncode == 0, ran.output[-3000:]
    assert len(re.findall(r"changed=1\s+unreachable=0\s+failed=0", ran.output)) == 12
    stat = '{"module_args": {"path": "/etc/ssh"}}'
    module = lab.ops("run", "-e", "target=bastion", "-e", "module=ansible.builtin.stat", "-e", stat)
    assert module.returncode == 0, module.output[-3000:]
    refused = lab.ops("run", "-e", "target=bastion")
    assert refused.returncode != 0 and "give exactly one of -e cmd" in refused.output

    collected = lab.ops("collect", "-e", "target=bastion", "-e", f"collect_dest={tmp_path / 'collect'}")
    assert collected.returncode == 0, collected.output[-3000:]
    facts = json.loads((tmp_path / "collect" / f"bastion-{bastion['id']}" / "facts.json").read_text())
    assert facts["hostname"] == "ip-" + bastion["address"].replace(".", "-")  # the bastion container itself
    assert (tmp_path / "collect" / f"bastion-{bastion['id']}" / "var/log/dpkg.log").is_file()

    config = tmp_path / "ssh" / "config"
    written = lab.ops("ssh-config", "-e", "env=local", "-e", f"ssh_config_dest={config}")
    assert written.returncode == 0, written.output[-3000:]
    hostname = run(["ssh", "-F", str(config), f"{node['role']}-{node['id']}", "cat", "/etc/hostname"], venv_env())
    assert hostname.returncode == 0 and "ip-" + node["address"].replace(".", "-") in hostname.output

    port = free_port()
    tunnel = ["-e", "env=local", "-e", f"db_tunnel_local_port={port}", "-e", f"db_tunnel_control={tmp_path / 'ctl'}"]
    opened = lab.ops("db-tunnel", *tunnel, "-e", f"db_tunnel_host={node['address']}", "-e", "db_tunnel_port=22")
    assert opened.returncode == 0, opened.output[-3000:]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            assert conn.recv(8) == b"SSH-2.0-"  # the node's sshd, through the bastion
    finally:
        closed = lab.ops("db-tunnel", *tunnel, "-e", "db_tunnel_state=absent")
    assert closed.returncode == 0 and not (tmp_path / "ctl").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
