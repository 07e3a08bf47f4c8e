"""The tables every service's database holds for events: outbox and inbox.

Defined on the service's own MetaData (each service owns its database); created by the
service's first Alembic migration through :func:`gongkai_shared.migrations.create_event_tables`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, MetaData, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

__all__ = ["EventTables", "define_event_tables", "outbox_channel"]


@dataclass(frozen=True)
class EventTables:
    outbox: Table
    inbox: Table


def outbox_channel(service: str) -> str:
    """The LISTEN/NOTIFY channel that wakes the relay when rows are written."""
    return f"gongkai_outbox_{service}"


def define_event_tables(metadata: MetaData) -> EventTables:
    outbox = Table(
        "outbox",
        metadata,
        # seq orders publication (commit order within a relay batch follows insertion order).
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", BigInteger, nullable=False, server_default=text("0")),
        Column("last_error", String(500), nullable=True),
        Index("ix_outbox_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return EventTables(outbox=outbox, inbox=inbox)
