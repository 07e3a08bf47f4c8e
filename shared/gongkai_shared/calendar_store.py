"""The calendar in a service's own database, and how it follows the office's changes.

The gateway keeps the canonical list of loaded years (the office loads a new year there before the
chinesecalendar package ships it) and announces each change as ``gateway.calendar.updated``. Every
service stores the arrangement in its own ``calendar_years`` table (a service never reads another's
tables) and, in the same transaction, recomputes the open deadlines it stores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_shared.calendar import WorkingDayCalendar, YearArrangement
from gongkai_shared.contracts.gateway import CalendarUpdatedV1
from gongkai_shared.events import Envelope, Handler

__all__ = [
    "Recompute",
    "RecomputeYear",
    "calendar_updated_handler",
    "define_calendar_table",
    "load_calendar",
    "store_arrangement",
]

log = structlog.get_logger("gongkai.calendar")

Recompute = Callable[[AsyncSession, WorkingDayCalendar], Awaitable[object]]
#: ``(session, calendar, year)``: recompute only what the changed ``year`` can touch.
RecomputeYear = Callable[[AsyncSession, WorkingDayCalendar, int], Awaitable[object]]


def define_calendar_table(metadata: MetaData) -> Table:
    return Table(
        "calendar_years",
        metadata,
        Column("year", Integer, primary_key=True),
        Column("arrangement", JSONB, nullable=False),
        Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def load_calendar(session: AsyncSession, table: Table) -> WorkingDayCalendar:
    """The package's calendar with the years loaded into this database on top."""
    rows = (await session.execute(select(table.c.arrangement))).scalars().all()
    if not rows:
        return WorkingDayCalendar.default()
    return WorkingDayCalendar.default().with_overrides(YearArrangement.model_validate(r) for r in rows)


async def store_arrangement(session: AsyncSession, table: Table, arrangement: YearArrangement) -> None:
    data = arrangement.model_dump(mode="json")
    await session.execute(
        insert(table)
        .values(year=arrangement.year, arrangement=data)
        .on_conflict_do_update(index_elements=["year"], set_={"arrangement": data, "loaded_at": func.now()})
    )


def calendar_updated_handler(
    *,
    name: str,
    table: Table,
    recompute: Recompute | None = None,
    recompute_year: RecomputeYear | None = None,
) -> Handler:
    """The consumer of ``gateway.calendar.updated`` for one service.

    ``recompute(session, calendar)`` recomputes everything a calendar change may move; a service that can
    narrow the work to the changed year passes ``recompute_year(session, calendar, year)`` instead (if both
    are given, ``recompute_year`` is used).
    """

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        event = CalendarUpdatedV1.model_validate(envelope.data)
        arrangement = YearArrangement.model_validate(event.arrangement)
        await store_arrangement(session, table, arrangement)
        if recompute_year is not None or recompute is not None:
            calendar = await load_calendar(session, table)
            if recompute_year is not None:
                moved = await recompute_year(session, calendar, arrangement.year)
            else:
                assert recompute is not None
                moved = await recompute(session, calendar)
            log.info("calendar_recomputed", year=arrangement.year, changed=moved)

    return Handler(name=name, subject="gateway.calendar.updated", handle=handle)
