"""The database: one async engine per process, a declarative base per service, and the request's
session that commits **before** the response is sent.

The session dependency is declared with ``Depends(..., scope="function")`` (FastAPI >= 0.121): its
exit runs when the endpoint returns, before the response starts, so a commit that fails becomes an
error answer instead of a 2xx for work that was lost. Services never commit; the request (or the
event handler) owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event, exc, func
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from gongkai_shared.ids import uuid7

__all__ = [
    "NAMING_CONVENTION",
    "IdMixin",
    "SessionDep",
    "TimestampMixin",
    "create_engine",
    "get_session",
    "make_metadata",
    "make_sessionmaker",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    """A fresh MetaData with the project's naming convention (one per service)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class IdMixin:
    """A UUIDv7 primary key, generated in Python so it is known before the flush."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, nullable=False
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow, nullable=False
    )


#: A pooled connection idle longer than this (seconds) is pinged before it is handed out again.
IDLE_PING_SECONDS = 5.0


def create_engine(url: str, *, idle_ping_seconds: float | None = IDLE_PING_SECONDS, **kwargs: Any) -> AsyncEngine:
    """The process's engine.

    Stale connections (PostgreSQL restarted, a firewall dropped an idle socket) are caught by a ping
    on checkout, but only of a connection that sat idle in the pool for ``idle_ping_seconds``.
    SQLAlchemy's ``pool_pre_ping`` pings on every checkout, and with asyncpg a ping is three round
    trips (BEGIN, ``;``, ROLLBACK): measured as most of a short read's database time (bench/README.md,
    catalog_search). A connection in steady use is not pinged; if PostgreSQL goes away under it, the
    statement fails, SQLAlchemy recognises the disconnect and recycles the whole pool, so one request
    per process sees the error (a 503 problem) and the next gets a fresh connection. ``None``: no ping.
    """
    options: dict[str, Any] = {"pool_size": 10, "max_overflow": 10}
    options.update(kwargs)
    engine = create_async_engine(url, **options)
    if idle_ping_seconds is not None and not options.get("pool_pre_ping"):
        _ping_when_idle(engine, idle_ping_seconds)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle: float) -> None:
    pool, dialect = engine.sync_engine.pool, engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["gk_idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("gk_idle_since", None)
        if since is None or time.monotonic() - since < idle:
            return  # new, or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and hands out another (a new one if need be).
            raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit when the endpoint returns normally, roll back otherwise."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
