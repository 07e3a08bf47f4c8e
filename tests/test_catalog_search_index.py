"""The catalog's embedded search index (tantivy) on real PostgreSQL: it follows item_search, never changes answers.

条例 art. 24: the platform must support retrieval (检索); only published information is public (art. 17
先审查后公开). The index is a speed path: a search is answered from it only when it has applied exactly the
change number PostgreSQL shows (migration 0008), otherwise from PostgreSQL, with the same result. The
worker's follower (``SearchIndexFollower``) runs here as the catalog worker runs it, on its own directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gongkai_catalog.search as search_module
import httpx
import pytest
import tantivy
from conftest import ROOT, migrate
from gongkai_catalog.models import Category, Item, ItemKind, ItemStatus, Organization, Validity
from gongkai_catalog.search import SearchFilters, SearchOrder, SearchResult, index_item, search, unindex_item
from gongkai_catalog.search_api import router as search_router
from gongkai_catalog.search_index import STATE_DOC, SearchIndexReader, read_state_file, sort_key, state_document
from gongkai_catalog.search_index_writer import SearchIndexFollower, plain_dsn
from gongkai_catalog.settings import CatalogSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.pagination import encode_cursor
from gongkai_shared.service import create_service_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

WORDS = ["秸秆禁烧", "扬尘治理", "河长制", "农田水利", "消费券", "技能培训", "社会保险", "垃圾分类"]
DAYS = [dt.date(2023, 3, 1), dt.date(2023, 3, 1), dt.date(2024, 6, 15), dt.date(2024, 6, 15), dt.date(2025, 1, 9)]
KINDS = [ItemKind.normative_document, ItemKind.work_news, ItemKind.policy_document]


class World:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.settings = CatalogSettings(search_index_dir=str(directory), search_index_poll_seconds=0.5)
        self.maker: async_sessionmaker[AsyncSession]
        self.client: httpx.AsyncClient
        self.app: Any
        self.orgs = [uuid.uuid4() for _ in range(3)]
        self.categories = [uuid.uuid4(), uuid.uuid4()]
        self.ids: list[uuid.UUID] = []
        self.signer = TokenSigner(self.settings.jwt_secret.get_secret_value())
        self.follower: SearchIndexFollower | None = None
        self.task: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()
        self.committed = asyncio.Event()

    def headers(self, principal: Principal | None) -> dict[str, str]:
        return {} if principal is None else {"Authorization": f"Bearer {self.signer.issue(principal)}"}

    # ---- the worker's follower

    async def start_follower(self) -> SearchIndexFollower:
        assert self.task is None
        loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        self.follower = SearchIndexFollower(self.settings)
        self.follower.on_commit = lambda *_: loop.call_soon_threadsafe(self.committed.set)
        self.task = asyncio.create_task(self.follower.run(self.stop))
        return self.follower

    async def stop_follower(self) -> None:
        assert self.task is not None
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        self.task = None

    async def seq(self) -> int:
        async with self.maker() as session:
            return int(await session.scalar(text("SELECT last_seq FROM item_search_state")))

    async def wait_for_index(self, timeout: float = 60.0) -> None:
        """Until the follower has committed PostgreSQL's current change number (woken by its commits)."""
        target = await self.seq()
        async with asyncio.timeout(timeout):
            while True:
                self.committed.clear()
                if self.follower is not None and self.follower.applied_seq >= target:
                    return
                # Woken by the next commit; the timeout only re-checks (a commit may come before the clear).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.committed.wait(), timeout=1.0)

    # ---- searching both ways

    async def search(self, reader: SearchIndexReader | None, principal: Principal, **kw: Any) -> SearchResult:
        async with self.maker() as session:
            return await search(
                session,
                principal,
                kw.get("q"),
                kw.get("filters", SearchFilters()),
                kw.get("order", SearchOrder.relevance if kw.get("q") else SearchOrder.date),
                limit=kw.get("limit", 20),
                cursor=kw.get("cursor"),
                facets=kw.get("facets", True),
                index=reader,
            )


def _item(org: uuid.UUID, title: str, body: str, **kw: Any) -> Item:
    status = kw.pop("status", ItemStatus.published)
    published_on = kw.pop("published_on", dt.date(2024, 7, 1) if status == ItemStatus.published else None)
    item = Item(
        organization_id=org,
        title=title,
        body=body,
        kind=kw.pop("kind", ItemKind.normative_document),
        status=status,
        published_on=published_on,
        published_at=dt.datetime.combine(published_on, dt.time(9), tzinfo=dt.UTC) if published_on else None,
        validity=kw.pop("validity", Validity.effective),
        keywords=kw.pop("keywords", []),
        created_by="test",
        **kw,
    )
    item.id = kw.get("id") or item.id or uuid.uuid4()
    return item


def _corpus(world: World) -> list[Item]:
    """A varied, deterministic catalog: visibility, facets with null category and year, ties on the date order."""
    rng = random.Random(20261126)
    shared_prefix = rng.getrandbits(44)
    items = []
    for n in range(90):
        a, b, c = rng.sample(WORDS, 3)
        status = ItemStatus.published if rng.random() < 0.8 or n % 5 == 0 else rng.choice(list(ItemStatus))
        undated = status != ItemStatus.published and rng.random() < 0.5
        day = rng.choice(DAYS)
        # every fifth item shares the day and the top 44 bits of its id with others: the u64 sort key ties
        low = rng.getrandbits(84)
        item_id = uuid.UUID(int=(shared_prefix << 84) | low) if n % 5 == 0 else uuid.UUID(int=rng.getrandbits(128))
        title = rng.choice([f"关于{a}和{b}的通知", f"{a}工作总结", f"示范市{a}管理办法", "关于做好有关工作的通知"])
        item = _item(
            world.orgs[n % 3],
            title,
            f"为做好{b}工作，现就{c}有关事项通知如下。{rng.choice(WORDS)}要落实到位。",
            id=item_id,
            status=status,
            published_on=(dt.date(2023, 3, 1) if n % 5 == 0 else day) if status == ItemStatus.published else None,
            written_on=None if undated else day,
            summary=rng.choice([None, f"{c}相关政策", f"涉及{a}"]),
            keywords=rng.choice([[], [b], [a, c]]),
            kind=rng.choice(KINDS),
            validity=rng.choice([Validity.effective, Validity.effective, Validity.repealed]),
            category_id=rng.choice([None, *world.categories]),
            document_number=f"示测〔2024〕{n}号" if n % 7 == 0 else None,
        )
        items.append(item)
    return items


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    url = await asyncio.to_thread(migrate, "catalog")
    engine = create_engine(url)
    w = World(tmp_path_factory.mktemp("search-index") / "index")
    w.maker = make_sessionmaker(engine)
    async with w.maker() as session, session.begin():
        session.add_all(
            [
                *(Organization(id=o, name=f"示范市测试局{i}") for i, o in enumerate(w.orgs)),
                *(Category(id=c, name=f"测试类别{i}") for i, c in enumerate(w.categories)),
            ]
        )
        await session.flush()
        items = _corpus(w)
        session.add_all(items)
        await session.flush()
        for item in items:
            await index_item(session, item)
        w.ids = [i.id for i in items]
    w.app = create_service_app(
        settings=w.settings, title="catalog-search-index-test", description="", routers=[search_router]
    )
    await w.start_follower()
    async with w.app.router.lifespan_context(w.app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=w.app), base_url="http://catalog.test"
        ) as client:
            w.client = client
            await w.wait_for_index()
            yield w
    if w.task is not None:
        await w.stop_follower()
    await engine.dispose()


def _comparable(result: SearchResult) -> tuple[Any, ...]:
    return (
        [dataclasses.astuple(h) for h in result.hits],
        result.next_cursor,
        result.total,
        result.facets,
        result.terms,
    )


PRINCIPALS = {
    "public": Principal.anonymous(),
    "staff": Principal(subject="staff", roles=frozenset({Role.staff}), department_id=None),
    "office": Principal(subject="office", roles=frozenset({Role.office})),
}


async def _asks(world: World) -> list[tuple[Principal, dict[str, Any]]]:
    staff = Principal(subject="staff-a", roles=frozenset({Role.staff}), department_id=world.orgs[0])
    asks: list[tuple[Principal, dict[str, Any]]] = []
    for who in (Principal.anonymous(), staff, PRINCIPALS["office"]):
        for q in [*WORDS[:4], "河长制 农田水利", "技能培训 社会保险 秸秆禁烧", "通知", "示测〔2024〕14号"]:
            asks.append((who, {"q": q}))
            asks.append((who, {"q": q, "order": SearchOrder.date}))
        asks.append((who, {"q": "通知", "filters": SearchFilters(organization_id=world.orgs[1])}))
        asks.append((who, {"q": "通知", "filters": SearchFilters(category_id=world.categories[0], year=2024)}))
        asks.append((who, {"q": "工作", "filters": SearchFilters(kind="work_news", validity="repealed")}))
        asks.append((who, {"filters": SearchFilters(organization_id=world.orgs[2])}))
        asks.append((who, {"filters": SearchFilters(organization_id=world.orgs[0], kind="normative_document")}))
        asks.append((who, {"filters": SearchFilters(document_number="示测〔2024〕14号")}))
    asks.append((PRINCIPALS["office"], {}))  # everything the office may see: every item of the database
    return asks


# ------------------------------------------------------------------------------------------------ same answers


@pytest.fixture
def lists_from_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Filtered lists without a query go to PostgreSQL (measured faster); the index can answer them too."""
    monkeypatch.setattr(search_module, "INDEX_SERVES_LISTS", True)


async def test_lists_without_a_query_are_answered_by_postgresql(world: World) -> None:
    await world.wait_for_index()
    reader = SearchIndexReader(world.directory)
    result = await world.search(reader, Principal.anonymous(), filters=SearchFilters(organization_id=world.orgs[0]))
    assert result.served_by == "database" and result.total > 0
    assert (await world.search(reader, Principal.anonymous(), q="河长制")).served_by == "index"


async def test_index_and_database_give_the_same_answers_page_by_page(world: World, lists_from_index: None) -> None:
    """Same hits in the same order, totals, facets and cursors, for every visibility, filter, order and page;
    a cursor from one path continues on the other."""
    await world.wait_for_index()
    reader = SearchIndexReader(world.directory)
    compared = 0
    for principal, ask in await _asks(world):
        cursor = None
        for page in range(40):
            kw = {**ask, "limit": 4, "cursor": cursor, "facets": page == 0}
            from_index = await world.search(reader, principal, **kw)
            from_database = await world.search(None, principal, **kw)
            assert from_index.served_by == "index", (ask, reader.counters)
            assert from_database.served_by == "database"
            assert _comparable(from_index) == _comparable(from_database), (principal.subject, ask, page)
            compared += 1
            cursor = from_index.next_cursor
            if cursor is None:
                break
    assert compared > 150


async def test_relevance_tiers_then_newest(world: World) -> None:
    """Relevance: every term in title/文号/主题词 (2), every term in those or the summary (1), the rest (0);
    newest first within a tier. Both paths, whichever answers."""
    await world.wait_for_index()
    reader = SearchIndexReader(world.directory)
    office = PRINCIPALS["office"]
    result = await world.search(reader, office, q="河长制", limit=100)
    assert result.served_by == "index"
    ranks = [h.rank for h in result.hits]
    assert ranks == sorted(ranks, reverse=True) and set(ranks) <= {0.0, 1.0, 2.0} and len(set(ranks)) == 3
    async with world.maker() as session:
        for hit in result.hits:
            title, summary, keywords = (
                await session.execute(
                    text("SELECT title, coalesce(summary, ''), keywords FROM items WHERE id = :id"), {"id": hit.item_id}
                )
            ).one()
            in_a = "河长制" in title or "河长制" in keywords
            assert hit.rank == (2.0 if in_a else 1.0 if "河长制" in summary else 0.0), (title, summary, keywords)
    for tier in (2.0, 1.0, 0.0):
        keys = [(h.sort_on, h.item_id) for h in result.hits if h.rank == tier]
        assert keys == sorted(keys, reverse=True)


async def test_date_order_ties_on_the_sort_key_follow_the_full_id(world: World, lists_from_index: None) -> None:
    """Items of the same day whose ids share their top 44 bits have the same u64 sort key in the index;
    the page order is still PostgreSQL's (date, then the full id)."""
    await world.wait_for_index()
    tied = [i for n, i in enumerate(world.ids) if n % 5 == 0]
    assert len({sort_key(dt.date(2023, 3, 1), i) for i in tied}) == 1
    reader = SearchIndexReader(world.directory)
    office = PRINCIPALS["office"]
    pages, cursor = [], None
    while True:
        result = await world.search(reader, office, filters=SearchFilters(year=2023), limit=3, cursor=cursor)
        assert result.served_by == "index"
        pages += [h.item_id for h in result.hits]
        cursor = result.next_cursor
        if cursor is None:
            break
    everything = await world.search(None, office, filters=SearchFilters(year=2023), limit=100)
    assert pages == [h.item_id for h in everything.hits]
    assert set(tied) <= set(pages)


# ------------------------------------------------------------------------------------------------ following changes


async def test_index_follows_publish_update_withdraw_and_delete(world: World) -> None:
    """Each change is searchable at once (PostgreSQL answers until the index has it), then from the index."""
    reader = SearchIndexReader(world.directory)
    public = Principal.anonymous()

    async def found(q: str) -> tuple[list[uuid.UUID], str]:
        result = await world.search(reader, public, q=q)
        return [h.item_id for h in result.hits], result.served_by

    async with world.maker() as session, session.begin():
        item = _item(world.orgs[0], "关于秋季森林防火的通告", "严禁野外用火。", status=ItemStatus.draft)
        session.add(item)
        await index_item(session, item)
    await world.wait_for_index()
    assert await found("森林防火") == ([], "index")  # a draft is not public (条例 art. 17)

    async with world.maker() as session, session.begin():  # published
        db_item = await session.get(Item, item.id)
        db_item.status, db_item.published_on = ItemStatus.published, dt.date(2025, 9, 1)
        await index_item(session, db_item)
    assert (await found("森林防火"))[0] == [item.id]  # at once, whichever path answers
    await world.wait_for_index()
    assert await found("森林防火") == ([item.id], "index")

    async with world.maker() as session, session.begin():  # updated: new title, repealed
        db_item = await session.get(Item, item.id)
        db_item.title, db_item.validity = "关于冬季供暖保障的通告", Validity.repealed
        await index_item(session, db_item)
    await world.wait_for_index()
    assert await found("森林防火") == ([], "index")
    assert await found("供暖保障") == ([item.id], "index")
    facets = (await world.search(reader, public, q="供暖保障")).facets
    assert facets["validity"] == {"repealed": 1}

    async with world.maker() as session, session.begin():  # withdrawn: no longer published
        db_item = await session.get(Item, item.id)
        db_item.status, db_item.published_on = ItemStatus.draft, None
        await index_item(session, db_item)
    await world.wait_for_index()
    assert await found("供暖保障") == ([], "index")
    office = await world.search(reader, PRINCIPALS["office"], q="供暖保障")
    assert ([h.item_id for h in office.hits], office.served_by) == ([item.id], "index")

    async with world.maker() as session, session.begin():  # unindexed, then deleted (cascade)
        await unindex_item(session, item.id)
    await world.wait_for_index()
    assert (await world.search(reader, PRINCIPALS["office"], q="供暖保障")).hits == []
    async with world.maker() as session, session.begin():
        await index_item(session, await session.get(Item, item.id))
    await world.wait_for_index()
    assert len((await world.search(reader, PRINCIPALS["office"], q="供暖保障")).hits) == 1
    async with world.maker() as session, session.begin():
        await session.delete(await session.get(Item, item.id))
    await world.wait_for_index()
    result = await world.search(reader, PRINCIPALS["office"], q="供暖保障")
    assert (result.hits, result.total, result.served_by) == ([], 0, "index")


async def test_behind_index_falls_back_to_the_same_answer(world: World) -> None:
    """With the worker stopped, changes are answered by PostgreSQL (counted as "behind"), never stale."""
    await world.wait_for_index()
    reader = SearchIndexReader(world.directory)
    public = Principal.anonymous()
    before = await world.search(reader, public, q="消费券", limit=100)
    assert before.served_by == "index"
    await world.stop_follower()
    try:
        async with world.maker() as session, session.begin():
            item = _item(world.orgs[1], "关于发放消费券的公告", "消费券发放。", published_on=dt.date(2025, 12, 1))
            session.add(item)
            await index_item(session, item)
        after = await world.search(reader, public, q="消费券", limit=100)
        assert after.served_by == "database" and reader.counters["behind"] >= 1
        assert after.total == before.total + 1 and after.hits[0].item_id == item.id  # tier 2, newest
        assert _comparable(after) == _comparable(await world.search(None, public, q="消费券", limit=100))
        http = await world.client.get("/search", params={"q": "消费券", "limit": 100})
        assert http.status_code == 200 and http.json()["total"] == after.total
    finally:
        await world.start_follower()
    await world.wait_for_index()
    again = await world.search(reader, public, q="消费券", limit=100)
    assert again.served_by == "index" and _comparable(again) == _comparable(after)
    async with world.maker() as session, session.begin():
        await session.delete(await session.get(Item, item.id))


async def test_worker_restart_resumes_from_its_change_number(world: World) -> None:
    """A new follower opens the same generation at the committed number and applies only what came after:
    nothing is missed and nothing is in the index twice; replaying changes changes nothing."""
    await world.wait_for_index()
    generation = read_state_file(world.directory)["generation"]
    await world.stop_follower()
    async with world.maker() as session, session.begin():
        added = _item(world.orgs[2], "关于重启续跑检查的通知", "重启续跑。", published_on=dt.date(2025, 2, 2))
        session.add(added)
        await index_item(session, added)
        changed = await session.get(Item, world.ids[1])
        changed.title = "关于续跑改名核对的通知"
        await index_item(session, changed)
        gone = await session.get(Item, world.ids[2])
        await session.delete(gone)
    follower = await world.start_follower()
    await world.wait_for_index()
    assert read_state_file(world.directory)["generation"] == generation  # resumed, not rebuilt
    reader = SearchIndexReader(world.directory)
    office = PRINCIPALS["office"]
    assert [h.item_id for h in (await world.search(reader, office, q="重启续跑")).hits] == [added.id]
    assert [h.item_id for h in (await world.search(reader, office, q="续跑改名")).hits] == [world.ids[1]]
    snapshot = reader.snapshot()
    assert snapshot is not None
    async with world.maker() as session:
        rows = await session.scalar(text("SELECT count(*) FROM item_search"))
        assert await session.scalar(text("SELECT count(*) FROM item_search WHERE item_id = :id"), {"id": gone.id}) == 0
    assert snapshot.searcher.num_docs == rows + 1  # one document per row, and the marker
    # Replaying the last changes (as after a crash between the commit and state.json) is idempotent.
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(world.settings.database_url))
    try:
        await world.stop_follower()
        replay = SearchIndexFollower(world.settings)
        assert replay.lock.acquire()
        try:
            assert await replay.sync(conn) == "current"
            replay.applied_seq -= 3
            assert (await replay.sync(conn)).startswith("applied")
        finally:
            replay.close()
            replay.lock.release()
    finally:
        await conn.close()
    await world.start_follower()
    await world.wait_for_index()
    reader = SearchIndexReader(world.directory)
    assert reader.snapshot().searcher.num_docs == rows + 1
    del follower
    world.ids.remove(gone.id)


async def test_one_writer_per_directory(world: World) -> None:
    """A second worker on the same directory (another replica sharing the volume) waits as a standby."""
    await world.wait_for_index()
    second = SearchIndexFollower(world.settings)
    stop = asyncio.Event()
    task = asyncio.create_task(second.run(stop))
    try:
        async with world.maker() as session, session.begin():
            item = _item(world.orgs[0], "关于备用写入检查的通知", "备用写入。", published_on=dt.date(2025, 4, 1))
            session.add(item)
            await index_item(session, item)
        await world.wait_for_index()
        reader = SearchIndexReader(world.directory)
        result = await world.search(reader, Principal.anonymous(), q="备用写入")
        assert ([h.item_id for h in result.hits], result.served_by) == ([item.id], "index")
        assert second.writer is None and second.applied_seq == -1 and not second.lock.acquire()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    async with world.maker() as session, session.begin():
        await session.delete(await session.get(Item, item.id))


async def test_concurrent_readers_see_whole_transactions(world: World) -> None:
    """Readers during writes (index or PostgreSQL, whichever answers) see each transaction whole: a batch
    of three items written together is found entirely or not at all, with a matching total."""
    batches = [f"批次{chr(0x4E00 + 0x300 + n)}{chr(0x4E00 + 0x400 + n)}检查" for n in range(12)]
    done = asyncio.Event()
    seen: list[tuple[int, int]] = []

    async def writer() -> None:
        for n, word in enumerate(batches):
            async with world.maker() as session, session.begin():
                items = [
                    _item(world.orgs[n % 3], f"{word}通知{k}", f"{word}正文。", published_on=dt.date(2025, 3, 1 + k))
                    for k in range(3)
                ]
                session.add_all(items)
                await session.flush()
                for item in items:
                    await index_item(session, item)
            await asyncio.sleep(0)
        done.set()

    async def reader_loop() -> None:
        while not done.is_set():
            for word in batches:
                resp = await world.client.get("/search", params={"q": word})
                assert resp.status_code == 200, resp.text
                body = resp.json()
                assert len(body["items"]) == body["total"] and body["total"] in (0, 3), (word, body["total"])
                seen.append((body["total"], 0))

    await asyncio.gather(writer(), reader_loop(), reader_loop())
    await world.wait_for_index()
    reader = SearchIndexReader(world.directory)
    for word in batches:
        result = await world.search(reader, Principal.anonymous(), q=word)
        assert (len(result.hits), result.served_by) == (3, "index")
    assert seen
    async with world.maker() as session, session.begin():
        await session.execute(text("DELETE FROM items WHERE title LIKE '批次%'"))


# ------------------------------------------------------------------------------------------------ rebuilding


def _reindex(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GK_CATALOG_SEARCH_INDEX_DIR": str(world.directory)}
    return subprocess.run(
        [sys.executable, "-m", "gongkai_catalog", "reindex", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_reindex_command_rebuilds_with_and_without_a_worker(world: World) -> None:
    await world.wait_for_index()
    first = read_state_file(world.directory)["generation"]
    # With the worker running: the command asks it and waits for the new generation.
    asked = await asyncio.to_thread(_reindex, world)
    assert asked.returncode == 0, asked.stderr
    assert "asked it to rebuild" in asked.stderr
    second = read_state_file(world.directory)["generation"]
    assert second != first
    await world.wait_for_index()
    # Without a worker: the command rebuilds itself.
    await world.stop_follower()
    try:
        alone = await asyncio.to_thread(_reindex, world)
        assert alone.returncode == 0, alone.stderr
        assert "search index rebuilt in" in alone.stderr
        third = read_state_file(world.directory)["generation"]
        assert third not in (first, second)
        reader = SearchIndexReader(world.directory)
        result = await world.search(reader, Principal.anonymous(), q="河长制")
        assert result.served_by == "index"
        assert not (world.directory / first).exists()  # older generations are removed
    finally:
        await world.start_follower()
    await world.wait_for_index()
    assert read_state_file(world.directory)["generation"] == third  # the worker took the rebuilt one over


@pytest.mark.parametrize("damage", ["corrupt", "schema", "foreign", "empty"])
async def test_worker_rebuilds_a_damaged_foreign_or_missing_index(world: World, damage: str) -> None:
    """A corrupt index, another schema version, an index of another database or an empty directory: readers
    answer from PostgreSQL and the worker rebuilds."""
    await world.wait_for_index()
    await world.stop_follower()
    generation = read_state_file(world.directory)["generation"]
    path = world.directory / generation
    if damage == "corrupt":
        (path / "meta.json").write_text("{not json", encoding="utf-8")
    elif damage in ("schema", "foreign"):
        index = tantivy.Index.open(str(path))
        writer = index.writer(15_000_000, 1)
        seq = await world.seq()
        other = state_document(seq, uuid.uuid4(), index.schema)
        if damage == "schema":
            other = tantivy.Document.from_dict(
                {"id": STATE_DOC, "seq": seq, "schema": 999, "index_id": str(uuid.uuid4())}, index.schema
            )
        writer.delete_documents_by_term("id", STATE_DOC)
        writer.add_document(other)
        writer.commit()
        del writer, index
    else:
        shutil.rmtree(world.directory)
    reader = SearchIndexReader(world.directory)
    result = await world.search(reader, Principal.anonymous(), q="河长制")
    assert result.served_by == "database"
    assert _comparable(result) == _comparable(await world.search(None, Principal.anonymous(), q="河长制"))
    await world.start_follower()
    await world.wait_for_index()
    assert read_state_file(world.directory)["generation"] != generation
    again = await world.search(reader, Principal.anonymous(), q="河长制")
    assert again.served_by == "index" and _comparable(again) == _comparable(result)


async def test_directory_removed_under_a_running_worker_is_rebuilt(world: World) -> None:
    """Someone removes the index directory while the worker runs: searches answer from PostgreSQL, and the
    worker notices at its next step and rebuilds."""
    await world.wait_for_index()
    generation = read_state_file(world.directory)["generation"]
    shutil.rmtree(world.directory)
    reader = SearchIndexReader(world.directory)
    result = await world.search(reader, Principal.anonymous(), q="农田水利")
    assert result.served_by == "database" and reader.counters["missing"] == 1
    async with world.maker() as session, session.begin():  # a change wakes the worker
        item = _item(world.orgs[1], "关于目录重建核对的通知", "目录重建。", published_on=dt.date(2025, 5, 5))
        session.add(item)
        await index_item(session, item)
    await world.wait_for_index()
    assert read_state_file(world.directory)["generation"] != generation
    assert not SearchIndexFollower(world.settings).lock.acquire()  # the worker holds the new lock file
    found = await world.search(reader, Principal.anonymous(), q="目录重建")
    assert ([h.item_id for h in found.hits], found.served_by) == ([item.id], "index")
    again = await world.search(reader, Principal.anonymous(), q="农田水利")
    assert again.served_by == "index" and _comparable(again) == _comparable(result)
    async with world.maker() as session, session.begin():
        await session.delete(await session.get(Item, item.id))


async def test_restored_database_behind_the_index_is_answered_by_postgresql(world: World) -> None:
    """An index ahead of PostgreSQL (a database restored from a backup) is not used; the worker rebuilds."""
    await world.wait_for_index()
    reader = SearchIndexReader(world.directory)
    assert (await world.search(reader, Principal.anonymous(), q="扬尘治理")).served_by == "index"
    await world.stop_follower()
    async with world.maker() as session, session.begin():
        await session.execute(text("UPDATE item_search_state SET last_seq = last_seq - 1"))
    try:
        result = await world.search(reader, Principal.anonymous(), q="扬尘治理")
        assert result.served_by == "database" and reader.counters["ahead"] == 1
        await world.start_follower()
        await world.wait_for_index()
        assert (await world.search(reader, Principal.anonymous(), q="扬尘治理")).served_by == "index"
    finally:
        async with world.maker() as session, session.begin():
            await session.execute(text("UPDATE item_search_state SET last_seq = last_seq + 1"))
    await world.wait_for_index()


# ------------------------------------------------------------------------------------------------ the API


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "的了，。！？"}, "query.q"),
        ({"order": "relevance"}, "query.order"),
        ({"q": "河长制", "cursor": "not-a-cursor"}, "query.cursor"),
        ({"q": "河长制", "cursor": encode_cursor([0.5, "2024-01-01", str(uuid.UUID(int=0))])}, "query.cursor"),
        ({"q": "河长制", "cursor": encode_cursor([3, "2024-01-01", str(uuid.UUID(int=0))])}, "query.cursor"),
        ({"cursor": "WyJ4IiwieSJd"}, "query.cursor"),
        ({"kind": "poem"}, "query.kind"),
    ],
)
async def test_bad_queries_are_problems_with_the_index_active(world: World, params: dict[str, str], field: str) -> None:
    await world.wait_for_index()
    resp = await world.client.get("/search", params=params)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in resp.json()["errors"]] == [field]


async def test_endpoint_is_served_from_the_index_when_current(world: World) -> None:
    await world.wait_for_index()
    resp = await world.client.get("/search", params={"q": "垃圾分类 技能培训"})
    assert resp.status_code == 200, resp.text
    reader = world.app.state.catalog_search_index
    assert reader is not None and reader.counters["index"] >= 1
    body = resp.json()
    assert body["total"] == sum(f["count"] for f in body["facets"]["kind"])
    assert all("<mark>" in h["title_highlighted"] + h["snippet"] for h in body["items"])
