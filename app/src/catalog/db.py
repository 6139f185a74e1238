"""Engines and sessions: writes to the primary, reads to the replica when one is configured.

Each engine has its own connection pool (SQLAlchemy's QueuePool); pool events feed the Prometheus metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from catalog import metrics
from catalog.settings import Settings


@dataclass
class Database:
    primary: Engine
    replica: Engine
    write_sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]

    def dispose(self) -> None:
        self.primary.dispose()
        if self.replica is not self.primary:
            self.replica.dispose()


def password_source(settings: Settings) -> Callable[[str, int], str] | None:
    """What gives each new connection its password (None: the URL's own, CATALOG_DB_AUTH=password).

    iam: an RDS IAM token for this host, port and user, made locally by botocore (no API call) with the credentials
    of the process - on EKS the pod's service-account role (IRSA). A token lives 15 minutes; an open connection
    outlives it, so only new connections need one. secret: the `password` of the secret, read at each new connection,
    so that a rotation in Secrets Manager is followed without a restart."""
    if settings.db_auth == "password":
        return None
    # A session of its own (boto3's default one is shared, not thread-safe, and caches the first credentials it saw).
    session = boto3.session.Session(region_name=settings.db_region)
    if settings.db_auth == "iam":
        rds = session.client("rds")

        def token(host: str, port: int) -> str:
            return str(rds.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=settings.db_user))

        return token
    secrets = session.client("secretsmanager")

    def secret(_host: str, _port: int) -> str:
        return secret_password(secrets, str(settings.db_password_secret))

    return secret


def secret_password(client: Any, secret_id: str) -> str:
    """The `password` of a secret whose value is JSON (an RDS-managed secret's, the monitoring login's)."""
    return str(json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])["password"])


def secrets_client(settings: Settings) -> Any:
    return boto3.session.Session(region_name=settings.db_region).client("secretsmanager")


def make_engine(settings: Settings, replica: bool = False, **options: Any) -> Engine:
    """An engine for the primary (or the replica) that authenticates as CATALOG_DB_AUTH says."""
    engine = create_engine(settings.url(replica=replica), **options)
    source = password_source(settings)
    if source is not None:

        @event.listens_for(engine, "do_connect")
        def _password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            cparams["password"] = source(cparams["host"], int(cparams.get("port") or 5432))

    return engine


def _engine(settings: Settings, target: str, replica: bool) -> Engine:
    options = f"-c statement_timeout={settings.db_statement_timeout_ms} -c application_name=catalog-{target}"
    engine = make_engine(
        settings,
        replica,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=True,
        connect_args={"options": options},
    )
    metrics.DB_POOL_SIZE.labels(target).set(settings.db_pool_size)

    @event.listens_for(engine, "checkout")
    def _checkout(*_: Any) -> None:
        metrics.DB_CHECKOUTS.labels(target).inc()
        metrics.DB_CHECKED_OUT.labels(target).inc()

    @event.listens_for(engine, "checkin")
    def _checkin(*_: Any) -> None:
        metrics.DB_CHECKED_OUT.labels(target).dec()

    return engine


def connect(settings: Settings) -> Database:
    primary = _engine(settings, "primary", replica=False)
    replica = _engine(settings, "replica", replica=True) if settings.has_replica else primary
    return Database(
        primary=primary,
        replica=replica,
        write_sessions=sessionmaker(primary, expire_on_commit=False),
        read_sessions=sessionmaker(replica, expire_on_commit=False),
    )


def sessions(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        yield session


def schema_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration); raises when it is unreachable."""
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('public.alembic_version') IS NOT NULL")).scalar_one()
        if not exists:
            return None
        value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
        return str(value) if value is not None else None
