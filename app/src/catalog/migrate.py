"""Migrations (Alembic), run as their own step before the service starts: `catalog-migrate upgrade`.

Prints one JSON line: {"before": rev, "after": rev, "changed": bool}, so that Ansible can report change."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from catalog.db import schema_revision
from catalog.settings import Settings, load_settings


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("catalog") / "migrations"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("catalog: the migrations folder has no head revision")
    return head


def run(action: str, revision: str, settings: Settings) -> dict[str, object]:
    engine = create_engine(settings.url(), connect_args={"options": "-c lock_timeout=10000"})
    try:
        before = schema_revision(engine)
        if action != "current":
            config = alembic_config()
            with engine.begin() as conn:
                config.attributes["connection"] = conn
                (command.upgrade if action == "upgrade" else command.downgrade)(config, revision)
        after = schema_revision(engine)
    finally:
        engine.dispose()
    return {"before": before, "after": after, "head": head_revision(), "changed": before != after}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="catalog-migrate", description=__doc__)
    parser.add_argument("action", choices=["upgrade", "downgrade", "current"])
    parser.add_argument("revision", nargs="?", help="target revision (upgrade: head; downgrade: required, e.g. base)")
    args = parser.parse_args(argv)
    if args.action == "downgrade" and not args.revision:
        parser.error("downgrade needs a target revision (for example: base, or a revision id)")
    try:
        result = run(args.action, args.revision or "head", load_settings())
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
