"""Alembic, per service: each service keeps its migrations in ``<package>/migrations``.

``upgrade(package, url)`` creates the service's database when missing and migrates it to head;
a service's ``env.py`` is three lines calling :func:`run_env`. Shared tables (outbox, inbox,
calendar years) are created by each service's first migration through the helpers below, so a
change to them is one helper here and one migration per service.
"""

from __future__ import annotations

import asyncio
import importlib.resources
from typing import Any

import asyncpg
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import async_engine_from_config

from gongkai_shared.events.tables import outbox_channel

__all__ = ["alembic_config", "create_database_if_missing", "create_shared_tables", "run_env", "upgrade"]


def alembic_config(package: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(importlib.resources.files(package) / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def create_database_if_missing(url: str) -> bool:
    """Create the database of ``url`` on its server (connecting to ``postgres``); True if created."""
    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database)
        if exists:
            return False
        try:
            await conn.execute(f"CREATE DATABASE \"{target.database}\" ENCODING 'UTF8' TEMPLATE template0")
        except asyncpg.DuplicateDatabaseError:
            return False  # another process won the race
        return True
    finally:
        await conn.close()


def upgrade(package: str, url: str, revision: str = "head") -> None:
    asyncio.run(create_database_if_missing(url))
    command.upgrade(alembic_config(package, url), revision)


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    config = context.config

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())


def create_shared_tables(service: str, metadata: MetaData, **_: Any) -> None:
    """Create outbox, inbox and calendar tables of ``metadata`` plus the outbox wake-up trigger."""
    bind = op.get_bind()
    names = [n for n in ("outbox", "inbox", "calendar_years") if n in metadata.tables]
    metadata.create_all(bind=bind, tables=[metadata.tables[n] for n in names])
    channel = outbox_channel(service)
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION gongkai_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{channel}', '');
            RETURN NULL;
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION gongkai_outbox_notify()"
    )
