"""When the office loads a year's arrangement, stored deadlines follow (issue 2 point 4; domain.md §6).

A policy published on 2026-12-30 has its interpretation due 3 working days later (domain.md §4):
that crosses into 2027, whose arrangement no package has yet, so the due date is provisional.
Loading 2027 through the ``gateway.calendar.updated`` event recomputes it in the same transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from conftest import migrate
from gongkai_interpretation import service
from gongkai_interpretation.models import InterpretationTask, calendar_table
from gongkai_shared.calendar import YearArrangement
from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.contracts.catalog import POLICY_PUBLISHED_V1, PolicyPublishedV1
from gongkai_shared.contracts.gateway import CALENDAR_UPDATED_V1, CalendarUpdatedV1
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events import new_envelope
from sqlalchemy import select

# Test data, not the official 2027 arrangement: 元旦 2027-01-01 (Friday) to 01-04 (Monday) off.
TEST_2027 = YearArrangement.model_validate(
    {
        "year": 2027,
        "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-04"}],
        "workdays": [],
        "source": "test data (not the official arrangement)",
    }
)


async def test_loading_a_new_year_recomputes_provisional_due_dates() -> None:
    url = await asyncio.to_thread(migrate, "interpretation")
    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    policy_id = uuid.uuid4()
    by_policy = select(InterpretationTask).where(InterpretationTask.policy_item_id == policy_id)
    try:
        policy = PolicyPublishedV1(
            item_id=policy_id,
            title="示范市年末政策",
            kind="normative_document",
            organization_id=uuid.uuid4(),
            body="第一条 为了……",
            published_on=dt.date(2026, 12, 30),
        )
        async with maker() as session, session.begin():
            await service.on_policy_published(session, new_envelope(POLICY_PUBLISHED_V1, policy), due_working_days=3)
        async with maker() as session:
            task = await session.scalar(by_policy)
        # 12-31 (Thu) is day 1; 2027-01-01 is a fixed holiday even provisionally; 01-04 (Mon) day 2,
        # 01-05 day 3 — but 2027 is not loaded, so the date is provisional.
        assert task is not None and task.due_provisional is True
        assert task.due_on == dt.date(2027, 1, 5)

        handler = calendar_updated_handler(
            name="interpretation-calendar-updated", table=calendar_table, recompute=service.recompute_due_dates
        )
        event = CalendarUpdatedV1(
            year=2027, arrangement=TEST_2027.model_dump(mode="json"), loaded_at=dt.datetime.now(dt.UTC)
        )
        async with maker() as session, session.begin():
            await handler.handle(session, new_envelope(CALENDAR_UPDATED_V1, event))
        async with maker() as session:
            task = await session.scalar(by_policy)
        # With 2027 loaded: 12-31 day 1; 01-01..01-04 off; 01-05 day 2; 01-06 day 3. Final, not provisional.
        assert task is not None and task.due_provisional is False
        assert task.due_on == dt.date(2027, 1, 6)
    finally:
        async with maker() as session, session.begin():
            await session.execute(calendar_table.delete().where(calendar_table.c.year == 2027))
        await engine.dispose()
