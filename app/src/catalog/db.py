"""Engines and sessions: writes to the primary, reads to the replica when one is configured.

Each engine has its own connection pool (SQLAlchemy's QueuePool); pool events feed the Prometheus metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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


def _engine(settings: Settings, target: str, replica: bool) -> Engine:
    options = f"-c statement_timeout={settings.db_statement_timeout_ms} -c application_name=catalog-{target}"
    engine = create_engine(
        settings.url(replica=replica),
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
