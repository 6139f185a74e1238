"""Molecule's dependency step, offline: the collections requirements.yml pins are the ones Ansible loads.

No Galaxy here (the Ansible 12 bundle in .venv carries them); this fails, naming the collection, when a scenario would
run against another version than the one the platform pins."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

requirements = yaml.safe_load(Path(sys.argv[1]).read_text())["collections"]
wanted = {c["name"]: str(c["version"]) for c in requirements}
galaxy = shutil.which("ansible-galaxy") or sys.exit("ansible-galaxy is not on PATH (activate .venv)")
listing = json.loads(
    subprocess.run(  # noqa: S603 - fixed command line
        [galaxy, "collection", "list", "--format", "json"], check=True, capture_output=True, text=True
    ).stdout
)
# The first path listed wins, as for the loader (collections/ before the bundle).
found: dict[str, str] = {}
for path_collections in listing.values():
    for name, info in path_collections.items():
        found.setdefault(name, info["version"])
wrong = {n: (v, found.get(n)) for n, v in wanted.items() if found.get(n) != v}
for name, (want, have) in wrong.items():
    print(f"{name}: requirements.yml pins {want}, Ansible loads {have or 'nothing'}", file=sys.stderr)
print(f"{len(wanted) - len(wrong)}/{len(wanted)} collections at the pinned versions")
sys.exit(1 if wrong else 0)
