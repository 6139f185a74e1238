#!/usr/bin/env python3
"""Workflow inputs to ansible-playbook, as one JSON document of validated values.

    ansible-playbook playbooks/deploy.yml -e "$(python3 scripts/extra-vars.py env="$TARGET_ENV" app_version="$V")"

`-e "app_version=$V"` lets an input such as `1.0 env=production` set a second variable (Ansible splits key=value
pairs on spaces); JSON cannot be split, and each value must match its own pattern here first. Unknown names and
values that do not match are refused with exit status 2, before anything runs.
"""

from __future__ import annotations

import json
import re
import sys

PATTERNS = {
    "env": r"staging|production",
    "app_version": r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}",
    "app_image_digest": r"(sha256:[0-9a-f]{64})?",
    "rollback_to": r"([0-9A-Za-z][0-9A-Za-z.+_-]{0,63})?",
    "rollback_restore_snapshot": r"true|false",
}
BOOLEANS = {"rollback_restore_snapshot"}


def parse(arguments: list[str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for argument in arguments:
        name, sep, value = argument.partition("=")
        if not sep or name not in PATTERNS:
            raise ValueError(f"{argument!r}: expected NAME=VALUE with NAME one of {', '.join(PATTERNS)}")
        if name in values:
            raise ValueError(f"{name} is given twice")
        if not re.fullmatch(PATTERNS[name], value):
            raise ValueError(f"{name}={value!r} does not match {PATTERNS[name]}")
        values[name] = value == "true" if name in BOOLEANS else value
    return values


def main(argv: list[str]) -> int:
    try:
        print(json.dumps(parse(argv), sort_keys=True))
    except ValueError as error:
        print(f"extra-vars: refused: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
