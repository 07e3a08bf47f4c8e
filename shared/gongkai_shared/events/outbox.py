"""Writing events: in the caller's transaction, never published directly."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_shared.events.envelope import Envelope, new_envelope
from gongkai_shared.events.tables import EventTables

__all__ = ["emit"]


async def emit(
    session: AsyncSession, tables: EventTables, event_type: str, data: BaseModel | dict, *, source: str | None = None
) -> Envelope:
    """Record an event in the outbox inside ``session``'s transaction.

    It becomes visible to the relay only when the state change it describes commits, and is lost
    with it if that transaction rolls back. A trigger on the table wakes the relay (NOTIFY).
    """
    envelope = new_envelope(event_type, data, source=source)
    await session.execute(
        tables.outbox.insert().values(
            id=envelope.id, subject=envelope.subject, envelope=envelope.model_dump(mode="json")
        )
    )
    return envelope
