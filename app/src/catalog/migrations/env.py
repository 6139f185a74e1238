"""Alembic environment: online migrations only, on the connection catalog.migrate hands over (or one of its own
built from the service's settings)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from catalog.models import Base
from catalog.settings import load_settings

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=Base.metadata, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(load_settings().url())
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
