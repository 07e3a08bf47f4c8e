"""The publication clock (条例 art. 26): published within 20 working days of the 生成日期, counted on the
shared calendar (domain.md §6: the day itself not counted; holidays and 调休 as published for 2026)."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from gongkai_catalog import service
from gongkai_catalog.models import Item, calendar_table
from gongkai_shared.calendar import YearArrangement
from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.contracts.catalog import ITEM_DUE_SOON_V1, ITEM_OVERDUE_V1, ITEM_PUBLISHED_V1
from gongkai_shared.contracts.gateway import CALENDAR_UPDATED_V1, CalendarUpdatedV1
from gongkai_shared.events import new_envelope
from test_catalog_support import (
    client,
    db,
    draft,
    org_with_actors,
    outbox_events,
    publish_through_review,
    settings,
)

__all__ = ["client", "db", "settings"]  # fixtures


async def test_art26_deadline_counts_past_mid_autumn_and_national_day(client: httpx.AsyncClient) -> None:
    """条例 art. 26: 生成日期 2026-09-24 (Thu). 中秋 9-25..9-27 off; 9-28, 9-29, 9-30 are days 1-3; 国庆
    10-1..10-7 off; 10-8 day 4, 10-9 day 5, Saturday 10-10 is a swapped working day (day 6); then weekdays:
    10-12..10-16 days 7-11, 10-19..10-23 days 12-16, 10-26..10-29 days 17-20. Due 2026-10-29."""
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter, formed_on="2026-09-24")
    assert item["due_on"] == "2026-10-29" and item["due_provisional"] is False

    trace = (await client.get(f"/items/{item['id']}/deadline", headers=actors.drafter)).json()
    assert "第二十六条" in trace["basis"] and trace["working_days"] == 20
    assert trace["due_on"] == "2026-10-29"
    skipped = {s["day"]: s["reason"] for s in trace["skipped"]}
    assert skipped["2026-09-25"] == skipped["2026-09-27"] == "中秋节"
    assert all(skipped[f"2026-10-0{d}"] == "国庆节" for d in range(1, 8))
    counted = {c["day"]: c["number"] for c in trace["counted"]}
    assert counted["2026-09-28"] == 1 and counted["2026-10-10"] == 6 and counted["2026-10-29"] == 20

    # The 成文日期 stands in for a missing 生成日期.
    by_written = await draft(client, org, actors.drafter, written_on="2026-09-24")
    assert by_written["formed_on"] == "2026-09-24" and by_written["due_on"] == "2026-10-29"
    # Changing the 生成日期 of a draft moves its deadline: from 9-30, 10-8 is day 1, 10-10 day 3, 11-03 day 20.
    moved = await client.patch(f"/items/{item['id']}", json={"formed_on": "2026-09-30"}, headers=actors.drafter)
    assert moved.json()["due_on"] == "2026-11-03"


async def test_due_soon_and_overdue_are_announced_once_each(client: httpx.AsyncClient, db, settings) -> None:  # type: ignore[no-untyped-def]
    """条例 art. 26: warn 3 working days before the deadline (a setting), then once when it has passed."""
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter, formed_on="2026-09-24")  # due 2026-10-29 (Thursday)

    async def sweep(today: dt.date) -> None:
        async with db() as session, session.begin():
            await service.publication_clock_sweep(session, settings=settings, today=today)

    await sweep(dt.date(2026, 10, 23))  # Friday: 10-26, 10-27, 10-28 are the next 3 working days
    assert await outbox_events(db, ITEM_DUE_SOON_V1, item_id=item["id"]) == []
    await sweep(dt.date(2026, 10, 26))  # Monday: the deadline falls within the next 3 working days
    await sweep(dt.date(2026, 10, 27))
    await sweep(dt.date(2026, 10, 29))  # the last day: still not overdue
    (soon,) = await outbox_events(db, ITEM_DUE_SOON_V1, item_id=item["id"])
    assert soon["data"]["due_on"] == "2026-10-29" and soon["data"]["formed_on"] == "2026-09-24"
    assert await outbox_events(db, ITEM_OVERDUE_V1, item_id=item["id"]) == []
    await sweep(dt.date(2026, 10, 30))
    await sweep(dt.date(2026, 11, 2))
    (late,) = await outbox_events(db, ITEM_OVERDUE_V1, item_id=item["id"])
    assert late["data"]["item_id"] == item["id"]
    assert len(await outbox_events(db, ITEM_DUE_SOON_V1, item_id=item["id"])) == 1

    # Published after its deadline: recorded as late, on the item and in the event.
    published = await publish_through_review(client, item, actors)
    assert published["published_late"] is True
    (event,) = await outbox_events(db, ITEM_PUBLISHED_V1, item_id=item["id"])
    assert event["data"]["published_late"] is True
    on_time = await publish_through_review(client, await draft(client, org, actors.drafter), actors)
    assert on_time["published_late"] is False
    # Published items are no longer swept.
    await sweep(dt.date(2027, 12, 31))
    assert await outbox_events(db, ITEM_OVERDUE_V1, item_id=on_time["id"]) == []


# Test data, not the official 2027 arrangement: 元旦 2027-01-01 (Friday) to 01-04 (Monday) off.
TEST_2027 = YearArrangement.model_validate(
    {
        "year": 2027,
        "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-04"}],
        "workdays": [],
        "source": "test data (not the official arrangement)",
    }
)


async def test_loading_a_new_year_recomputes_provisional_publication_deadlines(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    """domain.md §6: a deadline that reaches into a year not yet loaded is provisional, and recomputed when the
    office loads that year (gateway.calendar.updated → the catalog worker's handler)."""
    org, actors = await org_with_actors(client)
    # 2026-12-04 (Fri) + 20 working days: December 7-31 holds 19 weekdays; the 20th falls in 2027.
    item = await draft(client, org, actors.drafter, formed_on="2026-12-04")
    # Provisionally only the fixed 元旦 (1-1) is off: 2027-01-04 (Monday) is day 20.
    assert item["due_on"] == "2027-01-04" and item["due_provisional"] is True

    handler = calendar_updated_handler(
        name="catalog-calendar-updated", table=calendar_table, recompute=service.recompute_due_dates
    )
    event = CalendarUpdatedV1(
        year=2027, arrangement=TEST_2027.model_dump(mode="json"), loaded_at=dt.datetime.now(dt.UTC)
    )
    try:
        async with db() as session, session.begin():
            await handler.handle(session, new_envelope(CALENDAR_UPDATED_V1, event))
        async with db() as session:
            stored = await session.get(Item, uuid.UUID(item["id"]))
        # With 2027 loaded, 01-04 is a holiday too: day 20 is 01-05, and final.
        assert stored is not None and stored.due_on == dt.date(2027, 1, 5) and stored.due_provisional is False
    finally:
        async with db() as session, session.begin():
            await session.execute(calendar_table.delete().where(calendar_table.c.year == 2027))
