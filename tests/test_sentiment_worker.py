"""The sentiment worker against the real NATS JetStream and PostgreSQL: connectors publish posts on
``sentiment.ingest.posts`` (redelivered: stored once); disclosure applications (requests.application.received,
no personal data) become posts of the 依申请公开 channel (domain.md §5 "Channels in the seeds"); a connector batch
with a bad post is dead-lettered whole with its reason."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Awaitable, Callable

import nats
from conftest import migrate
from gongkai_sentiment import worker
from gongkai_sentiment.models import Post
from gongkai_sentiment.settings import SentimentSettings
from gongkai_shared.contracts.requests import APPLICATION_RECEIVED_V1, ApplicationReceivedV1
from gongkai_shared.contracts.sentiment import INGEST_POSTS_V1, IngestPostsV1, PostInV1
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events import Namespace, ensure_stream, new_envelope
from gongkai_shared.events.deadletter import list_dead_letters
from sqlalchemy import func, select


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


async def test_connector_posts_are_stored_once_applications_become_posts_and_bad_batches_dead_letter(
    nc: nats.NATS, namespace: str
) -> None:
    url = await asyncio.to_thread(migrate, "sentiment")
    settings = SentimentSettings(consumer_backoff_seconds=[0.2], sweep_seconds=3600)
    ns = Namespace(namespace)
    js = nc.jetstream()
    for producer in ("sentiment", "requests", "catalog"):
        await ensure_stream(js, ns, producer)
    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.main(settings, stop))

    async def publish(event_type: str, payload: object) -> None:
        envelope = new_envelope(event_type, payload)  # type: ignore[arg-type]
        await js.publish(
            ns.subject(envelope.subject), envelope.model_dump_json().encode(), headers={"Nats-Msg-Id": str(envelope.id)}
        )

    try:
        marker = uuid.uuid4().hex
        posts = [
            PostInV1(
                channel="weibo",
                channel_post_id=f"{marker}-{i}",
                text=f"城北区菜市场猪肉注水严重，第{i}次反映没人管",
                posted_at=dt.datetime.now(dt.UTC),
                author=f"user{i}",
            )
            for i in range(3)
        ]
        # The same posts in two envelopes (a connector retrying): stored once.
        await publish(INGEST_POSTS_V1, IngestPostsV1(posts=posts))
        await publish(INGEST_POSTS_V1, IngestPostsV1(posts=posts[1:]))
        bad = IngestPostsV1(
            posts=[
                posts[0].model_copy(update={"channel_post_id": f"{marker}-bad-ok"}),
                posts[0].model_copy(update={"channel_post_id": f"{marker}-bad", "channel": "fax"}),
            ]
        )
        await publish(INGEST_POSTS_V1, bad)
        application = uuid.uuid4()
        await publish(
            APPLICATION_RECEIVED_V1,
            ApplicationReceivedV1(
                application_id=application,
                department_id=uuid.uuid4(),
                channel="online",
                applicant_type="natural_person",
                received_on=dt.date.today(),
                reply_due_on=None,
                reply_due_provisional=False,
            ),
        )

        async def count(*where: object) -> int:
            async with maker() as session:
                return int(await session.scalar(select(func.count()).select_from(Post).where(*where)) or 0)

        async def stored() -> bool:
            return (
                await count(Post.channel_post_id == str(application)) == 1
                and await count(Post.channel_post_id.in_([p.channel_post_id for p in posts])) == 3
            )

        await eventually(stored, what="the connector's posts and the application")
        async with maker() as session:
            app_post = await session.scalar(select(Post).where(Post.channel_post_id == str(application)))
        assert app_post is not None and app_post.channel == "application" and app_post.author_hash is None
        assert app_post.event_id is None  # "an application arrived" is not a matter of public concern by itself

        async def dead_lettered() -> bool:
            letters = await list_dead_letters(js, ns, consumer="sentiment-ingest-posts")
            return any(f"{marker}-bad" in x.data.decode() for x in letters)

        await eventually(dead_lettered, what="the dead letter of the bad batch")
        [letter] = [
            x
            for x in await list_dead_letters(js, ns, consumer="sentiment-ingest-posts")
            if f"{marker}-bad" in x.data.decode()
        ]
        assert "data.posts.1.channel" in letter.error and letter.deliveries == 1
        assert await count(Post.channel_post_id.like(f"{marker}-bad%")) == 0  # nothing from the rejected batch
        assert json.loads(letter.data)["type"] == INGEST_POSTS_V1
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, timeout=15)
        await engine.dispose()
