"""索引号 (domain.md §1): ``<agency code>/<YYYY>-<5-digit serial>``, unique and never reused, also when many
items of one agency are published at the same moment."""

from __future__ import annotations

import asyncio
import re

import httpx
from gongkai_catalog import service
from gongkai_catalog.models import IndexCounter
from test_catalog_support import client, db, draft, org_with_actors, settings

__all__ = ["client", "db", "settings"]  # fixtures

CONCURRENT = 20


async def _approved(client: httpx.AsyncClient, org: dict, actors) -> str:  # type: ignore[no-untyped-def]
    item = await draft(client, org, actors.drafter, kind="work_news")
    assert (await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)).status_code == 200
    for _ in range(4):
        assert (await client.post(f"/items/{item['id']}/approve", headers=actors.reviewer)).status_code == 200
    return item["id"]


async def test_concurrent_publications_get_distinct_consecutive_serials(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    org, actors = await org_with_actors(client)
    ids = await asyncio.gather(*(_approved(client, org, actors) for _ in range(CONCURRENT)))
    responses = await asyncio.gather(*(client.post(f"/items/{i}/publish", headers=actors.drafter) for i in ids))
    assert [r.status_code for r in responses] == [200] * CONCURRENT, [r.text for r in responses if r.status_code != 200]
    numbers = [r.json()["index_number"] for r in responses]
    year = responses[0].json()["published_on"][:4]
    assert all(re.fullmatch(rf"{org['code']}/{year}-\d{{5}}", n) for n in numbers)
    assert len(set(numbers)) == CONCURRENT
    assert sorted(int(n[-5:]) for n in numbers) == list(range(1, CONCURRENT + 1))
    async with db() as session:
        counter = await session.get(IndexCounter, (org["code"], int(year)))
    assert counter is not None and counter.last_serial == CONCURRENT


async def test_a_rolled_back_publication_leaves_no_gap_and_numbers_are_never_reused(db) -> None:  # type: ignore[no-untyped-def]
    """A serial taken by a transaction that rolls back was never given; a committed one is never given again."""
    code = "000013338"  # 组织机构代码 of domain.md's example 索引号 000013338/2023-00079
    async with db() as session, session.begin():
        await session.execute(IndexCounter.__table__.delete().where(IndexCounter.agency_code == code))
    async with db() as session:
        async with session.begin():
            first = await service.next_index_number(session, agency_code=code, year=2031)
        assert first == "000013338/2031-00001"
        transaction = await session.begin()
        lost = await service.next_index_number(session, agency_code=code, year=2031)
        await transaction.rollback()
        assert lost == "000013338/2031-00002"
        async with session.begin():
            again = await service.next_index_number(session, agency_code=code, year=2031)
        assert again == "000013338/2031-00002"  # the rolled-back number was never assigned
        async with session.begin():
            other_year = await service.next_index_number(session, agency_code=code, year=2032)
            following = await service.next_index_number(session, agency_code=code, year=2031)
        assert other_year == "000013338/2032-00001" and following == "000013338/2031-00003"
