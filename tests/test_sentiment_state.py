"""Ingestion's memory (gongkai_sentiment.state) against the real PostgreSQL: each process keeps the active events
and recent first posts in memory, and several API processes share one database. Whatever process a post reaches,
an event counts every post and repost once (issue 6: "a post delivered twice is stored once; near-duplicates
collapse with a count"), a batch that rolls back leaves nothing behind, a closed event takes no more posts, and
memory stays bounded (issue 6 point 3: "bounded memory")."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from conftest import ROOT, migrate
from gongkai_sentiment import service, state
from gongkai_sentiment.models import OpinionEvent, Post
from gongkai_sentiment.settings import SentimentSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.contracts.sentiment import PostInV1
from gongkai_shared.db import create_engine, make_sessionmaker
from sqlalchemy import func, select

CN = dt.timezone(dt.timedelta(hours=8))
# Local matters no other test speaks of (a place and a factory each; rjieba keeps these names whole).
BAISHA = ("白沙镇", "永丰化工厂")
# Another matter, in other words (templates shared with the matter above would make near-duplicates of it).
DUST = [
    "柳河镇金利砖厂烟囱天天冒黑烟，晾在外面的衣服全是灰，找了村委会也没用。",
    "金利砖厂就在柳河镇小学旁边，粉尘大得孩子们上课都要戴口罩，希望有关部门管一管。",
    "柳河镇金利砖厂的运土车整天在路上跑，尘土飞扬，路边的庄稼都盖了一层灰。",
    "举报柳河镇金利砖厂无证生产，扬尘污染严重，周边居民苦不堪言。",
    "柳河镇金利砖厂晚上偷偷开工，黑烟一直飘到镇上，呛得人喘不过气。",
]


# Worded unlike every other test's posts (similar wording about another place would be a near-duplicate of it).
COMPLAINTS = [
    "{place}{factory}把污水直接排进白沙河，河面漂着一层油花，下游的鱼成片死掉。",
    "住在{place}河边二十年，从没见过河水黑成这样，{factory}的排污口就在桥底下。",
    "{factory}趁下雨往河里放废水，{place}的村民拍了视频，环保局却说没有发现问题。",
    "{place}的井水现在一股怪味，村里人怀疑是{factory}渗漏，谁来检测一下？",
    "白沙河是{place}的饮用水源，{factory}天天往里排污水，水质检测结果从来不公开。",
    "今天又看到{factory}的罐车在{place}河滩倾倒，司机看见人拍照就跑了。",
    "{place}养鸭的老王说鸭子喝了河水就病，{factory}排污的问题至今没有任何说法。",
]


def post(text: str, *, place: str, pid: str | None = None) -> dict[str, Any]:
    return {
        "channel": "weibo",
        "channel_post_id": pid or uuid.uuid4().hex,
        "text": text,
        "posted_at": dt.datetime.now(CN).isoformat(),
        "likes": 5,
        "place": place,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def api_processes(url: str, n: int) -> Iterator[list[str]]:
    """``n`` sentiment API processes on one database (as ``python -m gongkai_sentiment api`` runs them)."""
    env = {**os.environ, "GK_SENTIMENT_DATABASE_URL": url, "GK_LOG_LEVEL": "WARNING"}
    ports = [_free_port() for _ in range(n)]
    procs = [
        subprocess.Popen([sys.executable, "-m", "gongkai_sentiment", "api", "--port", str(p)], env=env, cwd=ROOT)
        for p in ports
    ]
    try:
        yield [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(Exception):
                p.wait(timeout=15)


async def _ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{client.base_url} did not start")


@pytest.fixture(scope="module")
async def maker() -> AsyncIterator[Any]:
    url = await asyncio.to_thread(migrate, "sentiment")
    engine = create_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _event(maker: Any, event_id: str) -> OpinionEvent:
    async with maker() as session:
        event = await session.get(OpinionEvent, uuid.UUID(event_id))
    assert event is not None
    return event


async def test_two_api_processes_taking_turns_count_every_post_and_repost_of_one_matter_once(maker: Any) -> None:
    """Each process folds posts into the events it remembers and writes their counts back: a process that missed
    the other's batches would overwrite them. Here every batch goes to the process that did not take the last one."""
    url = await asyncio.to_thread(migrate, "sentiment")
    place, factory = BAISHA
    texts = [t.format(place=place, factory=factory) for t in COMPLAINTS]
    token = TokenSigner(os.environ["GK_JWT_SECRET"]).issue(
        Principal(subject="state-test", name="舆情专员", roles=frozenset({Role.office}))
    )
    headers = {"Authorization": f"Bearer {token}"}
    with api_processes(url, 2) as (url_a, url_b):
        async with (
            httpx.AsyncClient(base_url=url_a, headers=headers, timeout=60) as a,
            httpx.AsyncClient(base_url=url_b, headers=headers, timeout=60) as b,
        ):
            await _ready(a)
            await _ready(b)

            async def send(client: httpx.AsyncClient, posts: list[dict[str, Any]]) -> dict[str, Any]:
                resp = await client.post("/posts/batch", json={"posts": posts})
                assert resp.status_code == 200, resp.text
                return resp.json()

            first = await send(a, [post(t, place=place) for t in texts[:3]])
            [event_id] = first["event_ids"]
            # B starts remembering (another matter), then A takes two more posts B has not seen.
            await send(
                b, [post("石门镇天成路的红绿灯坏了一个星期，早晚高峰堵成一锅粥，交警什么时候来修？", place="石门镇")]
            )
            second = await send(a, [post(t, place=place) for t in texts[3:5]])
            assert second["event_ids"] == [event_id]
            # B gets a repost of one of them: it must know that post (and the event's counts) by now.
            original_pid = uuid.uuid4().hex
            third = await send(a, [post(texts[5], place=place, pid=original_pid)])
            assert third["event_ids"] == [event_id]
            repost = await send(b, [post("转发：" + texts[5], place=place)])
            assert repost["near_duplicates"] == 1 and repost["event_ids"] == [event_id]
            # And A, which did not see B's repost, takes the last post.
            last = await send(a, [post(texts[6], place=place)])
            assert last["event_ids"] == [event_id]

            event = await _event(maker, event_id)
            assert (event.post_count, event.repost_count) == (7, 1)
            async with maker() as session:
                stored = await session.scalar(
                    select(func.count()).select_from(Post).where(Post.event_id == uuid.UUID(event_id))
                )
                original = await session.scalar(select(Post).where(Post.channel_post_id == original_pid))
            assert stored == 8
            assert original is not None and original.duplicate_count == 1

            # Staff close the event through B; A (which remembers it open) must not fold new posts into it.
            closed = await b.post(f"/events/{event_id}/close")
            assert closed.status_code == 200, closed.text
            fresh = f"{place}{factory}排污的事拖了一个月，镇政府门口贴了通知也没人落实，河水还是黑的。"
            after = await send(a, [post(fresh, place=place)])
            assert after["near_duplicates"] == 0
            assert after["event_ids"] and after["event_ids"] != [event_id]
            assert (await _event(maker, event_id)).post_count == 7


def _posts(texts: list[str], place: str, tag: str) -> list[PostInV1]:
    return [
        PostInV1(
            channel="hotline",
            channel_post_id=f"{tag}-{i}",
            text=t,
            posted_at=dt.datetime.now(dt.UTC),
            place=place,
        )
        for i, t in enumerate(texts)
    ]


async def _counts_match_posts(maker: Any, event_ids: list[uuid.UUID]) -> list[tuple[int, int]]:
    """Each event's post and repost counts, after checking they add up to the posts stored with it."""
    out = []
    async with maker() as session:
        for event_id in event_ids:
            event = await session.get(OpinionEvent, event_id)
            stored = await session.scalar(select(func.count()).select_from(Post).where(Post.event_id == event_id))
            assert event is not None and event.post_count + event.repost_count == stored
            out.append((event.post_count, event.repost_count))
    return out


async def test_a_batch_that_rolls_back_leaves_nothing_in_memory(maker: Any) -> None:
    """Memory only ever holds what committed: the rolled-back posts are neither originals of later reposts nor
    counted in any event, and they can be sent again."""
    settings = SentimentSettings()
    place, texts = "柳河镇", DUST
    tag = uuid.uuid4().hex
    async with maker() as session:
        await session.begin()
        lost = await service.ingest(session, _posts(texts[:3], place, f"{tag}-lost"), settings=settings)
        assert lost.stored == 3
        await session.rollback()
    async with maker() as session, session.begin():
        kept = await service.ingest(
            session, _posts([*texts[3:5], "转发：" + texts[0]], place, f"{tag}-kept"), settings=settings
        )
    assert kept.stored == 3 and kept.near_duplicates == 0  # its original was never stored
    counts = await _counts_match_posts(maker, kept.event_ids)
    assert sum(p for p, _ in counts) == 3 and sum(r for _, r in counts) == 0
    async with maker() as session, session.begin():
        again = await service.ingest(session, _posts(texts[:3], place, f"{tag}-lost"), settings=settings)
    assert again.stored == 3 and again.already_stored == 0
    # The "转发：" post came first this time, so texts[0] is its near-duplicate, in its event.
    assert again.near_duplicates == 1
    counts = await _counts_match_posts(maker, list({*kept.event_ids, *again.event_ids}))
    assert sum(p for p, _ in counts) == 5 and sum(r for _, r in counts) == 1


async def test_memory_keeps_at_most_the_configured_number_of_recent_first_posts(maker: Any) -> None:
    """Bounded memory (issue 6 point 3): beyond ``duplicate_index_limit`` the oldest first posts leave it."""
    settings = SentimentSettings(duplicate_index_limit=100)
    rng = random.Random(uuid.uuid4().int)
    pool = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]  # common CJK characters: random texts share little
    tag = uuid.uuid4().hex

    def distinct(n: int) -> list[str]:
        return ["".join(rng.choice(pool) for _ in range(40)) for _ in range(n)]

    for k, texts in enumerate((distinct(130), distinct(1), distinct(1))):
        async with maker() as session, session.begin():
            await service.ingest(session, _posts(texts, "", f"{tag}-{k}"), settings=settings)
    try:
        sizes = state.sizes()
        assert sizes and all(first_posts <= settings.duplicate_index_limit for _, first_posts in sizes.values())
    finally:
        state.forget()  # the next batch loads the whole window again
