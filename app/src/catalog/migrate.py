"""Migrations (Alembic), run as their own step before the service starts: `catalog-migrate upgrade`.

Prints one JSON line: {"before": rev, "after": rev, "changed": bool}, so that Ansible can report change.

Migrations run as the schema's owner (on AWS the master user, its password read from Secrets Manager at run time:
CATALOG_DB_AUTH=secret). With CATALOG_DB_APP_ROLE set, they then make that login role the service's own: it may
read and write the tables and use their sequences, nothing more (no DDL, no role, no other database), and on RDS
it is a member of rds_iam, so it logs in with IAM tokens and has no password at all. With CATALOG_DB_MONITOR_ROLE
set, they make the monitoring login too (pg_monitor, the password of its own secret)."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from catalog.db import make_engine, schema_revision, secret_password, secrets_client
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


def _grants(conn: Connection, role: str) -> list[str]:
    """What `role` holds of what the service needs (a stable, comparable list)."""
    rows = conn.execute(
        text(
            "SELECT 'member of ' || r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :role "
            "UNION ALL SELECT privilege_type || ' on ' || table_name FROM information_schema.role_table_grants "
            "WHERE grantee = :role AND table_schema = 'public' "
            "UNION ALL SELECT 'usage on ' || sequencename FROM pg_sequences WHERE schemaname = 'public' "
            "AND has_sequence_privilege(:role, format('%I.%I', schemaname, sequencename), 'USAGE')"
        ),
        {"role": role},
    )
    return sorted(str(row[0]) for row in rows)


def ensure_app_role(conn: Connection, role: str, database: str) -> bool:
    """The service's own login role: data in, data out, nothing else. True when something changed."""
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}).scalar()
    before = _grants(conn, role) if exists else None
    # `role` and `database` are checked names (Settings: ROLE_NAME; the database is the one connected to).
    if not exists:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'))
    conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"'))
    conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
    conn.execute(text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'))
    conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
    if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'")).scalar():
        conn.execute(text(f'GRANT rds_iam TO "{role}"'))  # RDS: IAM tokens, not a password
    return before != _grants(conn, role)


def ensure_monitor_role(conn: Connection, role: str, password: str) -> bool:
    """The monitoring login: pg_monitor (statistics, settings, no table data) and the secret's password. The password
    travels as a SCRAM verifier computed here, never in clear in a statement the server could log."""
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}).scalar()
    before = _grants(conn, role) if exists else None
    if not exists:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'))
    conn.execute(text(f'GRANT pg_monitor TO "{role}"'))
    pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
    verifier = pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    # Straight to the driver (SQLAlchemy's text() would read the verifier's ":" as bind parameters); a verifier is
    # made of [A-Za-z0-9+/=:$-] only.
    conn.exec_driver_sql(f"ALTER ROLE \"{role}\" PASSWORD '{verifier}'")
    return before != _grants(conn, role)


def run(action: str, revision: str, settings: Settings) -> dict[str, object]:
    engine = make_engine(settings, connect_args={"options": "-c lock_timeout=10000"})
    role_changed = False
    try:
        before = schema_revision(engine)
        if action != "current":
            config = alembic_config()
            with engine.begin() as conn:
                config.attributes["connection"] = conn
                (command.upgrade if action == "upgrade" else command.downgrade)(config, revision)
        if action == "upgrade" and settings.db_app_role:
            with engine.begin() as conn:
                role_changed = ensure_app_role(conn, settings.db_app_role, settings.db_name)
        if action == "upgrade" and settings.db_monitor_role and settings.db_monitor_password_secret:
            password = secret_password(secrets_client(settings), settings.db_monitor_password_secret)
            with engine.begin() as conn:
                role_changed = ensure_monitor_role(conn, settings.db_monitor_role, password) or role_changed
        after = schema_revision(engine)
    finally:
        engine.dispose()
    result: dict[str, object] = {"before": before, "after": after, "head": head_revision()}
    if settings.db_app_role or settings.db_monitor_role:
        result["roles"] = {"app": settings.db_app_role, "monitor": settings.db_monitor_role, "changed": role_changed}
    return {**result, "changed": before != after or role_changed}


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
