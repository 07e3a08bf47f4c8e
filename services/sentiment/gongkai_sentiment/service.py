"""Business rules of the sentiment service (domain.md §5, issue 6). Never commits: the request or the
event handler owns the transaction.

收集 (collection) → understanding each post → events (clustering, heat, risk) → alerts → response tasks
(会商 → 研判 → 回应 → 评估, deadlines of 国办发〔2016〕61号 and 80号) → the ledger; 政务新媒体 accounts.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from gongkai_shared.auth import ALL_DEPARTMENTS, Principal, Role
from gongkai_shared.contracts.catalog import ItemPublishedV1, OrganizationV1, PolicyPublishedV1
from gongkai_shared.contracts.requests import ApplicationReceivedV1, TopicRepeatedV1
from gongkai_shared.contracts.sentiment import (
    ACCOUNT_STALE_V1,
    ALERT_RAISED_V1,
    EVENT_DETECTED_V1,
    EVENT_ESCALATED_V1,
    RESPONSE_DUE_SOON_V1,
    RESPONSE_OVERDUE_V1,
    RESPONSE_PUBLISHED_V1,
    AccountStaleV1,
    AlertRaisedV1,
    DeadlineV1,
    IngestPostsV1,
    OpinionEventV1,
    PostInV1,
    ResponseDeadlineV1,
    ResponsePublishedV1,
)
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from gongkai_shared.events import Envelope, emit, new_envelope
from gongkai_shared.events.consumer import PermanentError
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_sentiment import similarity, state
from gongkai_sentiment.classifier import TOPICS, lexicons, load_model, normalize_text
from gongkai_sentiment.models import (
    ACCOUNT_PLATFORMS,
    CHANNEL_LABELS,
    RESPONSE_KIND_LABELS,
    RISK_LABELS,
    STAGE_LABELS,
    Account,
    Alert,
    Channel,
    OpinionEvent,
    Organization,
    Policy,
    Post,
    ResponseKind,
    ResponseTask,
    Stage,
    TopicRoute,
    event_tables,
)
from gongkai_sentiment.settings import SentimentSettings

log = structlog.get_logger("gongkai.sentiment")

_DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,12}[〔\[［(（]\d{4}[〕\]］)）]\d{1,4}号")
_BOOK_TITLE = re.compile(r"《([^《》]{4,100})》")
_FIRST_SENTENCE = re.compile(r"^(.{4,40}?)[,.!?;，。！？；]")


# ------------------------------------------------------------------------------------------------
# Collection: validation, pseudonyms, signatures
# ------------------------------------------------------------------------------------------------


def author_key(settings: SentimentSettings) -> str:
    """The pseudonym key: GK_SENTIMENT_AUTHOR_KEY, else one derived from GK_JWT_SECRET (never a fixed default)."""
    own = settings.author_key.get_secret_value()
    if own:
        return own
    return hashlib.sha256(b"gongkai-sentiment-author:" + settings.jwt_secret.get_secret_value().encode()).hexdigest()


def author_pseudonym(key: str, handle: str) -> str:
    """A keyed HMAC of the author's handle: the same author links up, the handle itself is never stored."""
    return hmac.digest(key.encode(), handle.strip().lower().encode(), "sha256").hex()


@dataclass
class CleanPost:
    index: int
    data: PostInV1
    text: str


def check_posts(
    posts: Sequence[PostInV1], *, settings: SentimentSettings, prefix: str = "body.posts"
) -> list[CleanPost]:
    """Normalise and check every post; one ValidationFailed naming each bad post's index and field."""
    if len(posts) > settings.batch_limit:
        raise ValidationFailed.for_field(
            prefix, f"一次最多提交{settings.batch_limit}条帖文，本次{len(posts)}条", "too_many"
        )
    if not posts:
        raise ValidationFailed.for_field(prefix, "没有帖文", "empty")
    errors: list[FieldError] = []
    out = []
    channels = {c.value for c in Channel}
    for i, post in enumerate(posts):
        where = f"{prefix}.{i}"
        if post.channel not in channels:
            errors.append(
                FieldError(
                    field=f"{where}.channel",
                    message=f"未知渠道“{post.channel}”，可选："
                    + "、".join(f"{c.value}({lbl})" for c, lbl in CHANNEL_LABELS.items()),
                    type="unknown_channel",
                )
            )
        norm = normalize_text(post.text)
        if not norm:
            errors.append(FieldError(field=f"{where}.text", message="正文为空", type="empty"))
        elif len(norm) > settings.max_text_chars:
            errors.append(
                FieldError(
                    field=f"{where}.text",
                    message=f"正文过长（{len(norm)}字，上限{settings.max_text_chars}字）",
                    type="too_long",
                )
            )
        if post.posted_at.tzinfo is None:
            errors.append(FieldError(field=f"{where}.posted_at", message="发布时间须带时区", type="naive_datetime"))
        out.append(CleanPost(i, post, norm))
    if errors:
        bad = sorted({int(e.field.removeprefix(prefix + ".").split(".")[0]) for e in errors})
        raise ValidationFailed(
            f"{len(bad)}条帖文不合格（序号：{'、'.join(str(b) for b in bad[:20])}），整批未保存",
            errors=errors,
            extra={"bad_indexes": bad},
        )
    return out


# ------------------------------------------------------------------------------------------------
# Reference data from other services
# ------------------------------------------------------------------------------------------------


async def on_organization(session: AsyncSession, envelope: Envelope) -> None:
    try:
        org = OrganizationV1.model_validate(envelope.data)
    except ValidationError as exc:
        raise PermanentError(str(exc)) from exc
    stmt = pg_insert(Organization).values(
        id=org.organization_id, name=org.name, parent_id=org.parent_id, type=org.type, updated_at=envelope.occurred_at
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Organization.id],
            set_={"name": org.name, "parent_id": org.parent_id, "type": org.type, "updated_at": envelope.occurred_at},
            where=Organization.updated_at <= envelope.occurred_at,
        )
    )


async def on_item_published(session: AsyncSession, envelope: Envelope) -> None:
    """catalog.item.published / catalog.policy.published: a policy posts may speak of (by 文号, title, words)."""
    try:
        if "body" in envelope.data:
            p = PolicyPublishedV1.model_validate(envelope.data)
            item = {
                "item_id": p.item_id,
                "title": p.title,
                "document_number": p.document_number,
                "organization_id": p.organization_id,
                "is_policy": True,
                "published_on": p.published_on,
                "extra": " ".join([p.summary or "", " ".join(p.keywords)]),
            }
        else:
            i = ItemPublishedV1.model_validate(envelope.data)
            item = {
                "item_id": i.item_id,
                "title": i.title,
                "document_number": i.document_number,
                "organization_id": i.organization_id,
                "is_policy": i.is_policy,
                "published_on": i.published_on,
                "extra": " ".join([i.summary or "", " ".join(i.keywords)]),
            }
    except ValidationError as exc:
        raise PermanentError(str(exc)) from exc
    extra = item.pop("extra")
    norm_title = normalize_text(item["title"])
    terms = similarity.terms_of(load_model().analyse(f"{norm_title} {extra}", normalized=False).tokens)
    values = {**item, "title": norm_title, "terms": sorted(set(terms))[:60]}
    stmt = pg_insert(Policy).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Policy.item_id],
            set_={k: stmt.excluded[k] for k in ("title", "document_number", "organization_id", "terms")}
            | {"is_policy": Policy.is_policy | stmt.excluded.is_policy},
        )
    )


async def on_application_received(session: AsyncSession, envelope: Envelope, *, settings: SentimentSettings) -> None:
    """依申请公开 is a channel (domain.md §5): an application counts as a post of its department (no personal data)."""
    try:
        app = ApplicationReceivedV1.model_validate(envelope.data)
    except ValidationError as exc:
        raise PermanentError(str(exc)) from exc
    post = PostInV1(
        channel=Channel.application.value,
        channel_post_id=str(app.application_id),
        text="收到一件政府信息公开申请",
        posted_at=envelope.occurred_at,
        department_id=app.department_id,
    )
    await ingest(session, [post], settings=settings, source="requests", cluster=False)


async def on_topic_repeated(session: AsyncSession, envelope: Envelope, *, settings: SentimentSettings) -> None:
    """Several applicants asked for the same information: the subject becomes a post of the application channel."""
    try:
        t = TopicRepeatedV1.model_validate(envelope.data)
    except ValidationError as exc:
        raise PermanentError(str(exc)) from exc
    post = PostInV1(
        channel=Channel.application.value,
        channel_post_id=f"topic-{envelope.id}",
        text=f"{t.applicant_count}位申请人申请公开：{t.suggested_title}",
        posted_at=envelope.occurred_at,
        department_id=t.department_id,
    )
    await ingest(session, [post], settings=settings, source="requests")


async def on_ingest_posts(session: AsyncSession, envelope: Envelope, *, settings: SentimentSettings) -> None:
    """``sentiment.ingest.posts`` from connectors: as the batch endpoint; a bad batch is dead-lettered whole."""
    try:
        batch = IngestPostsV1.model_validate(envelope.data)
        await ingest(session, batch.posts, settings=settings, source="nats", prefix="data.posts")
    except ValidationError as exc:
        raise PermanentError(str(exc)) from exc
    except ValidationFailed as exc:
        detail = "; ".join(f"{e.field}: {e.message}" for e in exc.errors or [])
        raise PermanentError(f"{exc.detail}: {detail}") from exc


# ------------------------------------------------------------------------------------------------
# Departments and policies of a post
# ------------------------------------------------------------------------------------------------


@dataclass
class Directory:
    """Organizations and topic routes (read once per batch; the lookups are built once per change)."""

    organizations: list[tuple[uuid.UUID, str]]
    routes: dict[str, uuid.UUID]
    #: first character → (name or name without its 市/区 prefix, its organization's order, the organization)
    _by_first: dict[str, list[tuple[str, int, uuid.UUID]]] = field(init=False, repr=False)
    _firsts: frozenset[str] = field(init=False, repr=False)
    _topics: dict[str, uuid.UUID | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_first: dict[str, list[tuple[str, int, uuid.UUID]]] = {}
        for order, (org_id, name) in enumerate(self.organizations):
            for variant in _name_variants(name):
                if len(variant) >= 3:
                    by_first.setdefault(variant[0], []).append((variant, order, org_id))
        self._by_first = by_first
        self._firsts = frozenset(by_first)
        self._topics = {}

    def mentioned(self, text_: str) -> uuid.UUID | None:
        """The longest organization name (or the name without its 市/区 prefix) the text mentions (of equal
        lengths, the first organization)."""
        best: tuple[int, int, uuid.UUID] | None = None
        for first in self._firsts.intersection(text_):
            for variant, order, org_id in self._by_first[first]:
                if variant in text_ and (
                    best is None or len(variant) > best[0] or (len(variant) == best[0] and order < best[1])
                ):
                    best = (len(variant), order, org_id)
        return best[2] if best else None

    def for_topic(self, topic: str) -> uuid.UUID | None:
        if topic in self.routes:
            return self.routes[topic]
        if topic not in self._topics:
            self._topics[topic] = self._first_holding(topic)
        return self._topics[topic]

    def _first_holding(self, topic: str) -> uuid.UUID | None:
        for fragment in lexicons().topic_departments.get(topic, []):
            for org_id, name in self.organizations:
                if fragment in name:
                    return org_id
        return None


def _name_variants(name: str) -> list[str]:
    out = [name]
    m = re.match(r"^.{1,8}?[省市区县](.+)$", name)
    if m and len(m.group(1)) >= 3:
        out.append(m.group(1))
    return out


@functools.lru_cache(maxsize=20_000)
def _normalized_name(name: str) -> str:
    return normalize_text(name)


_directory_cache: tuple[Any, Directory] | None = None


async def load_directory(session: AsyncSession) -> Directory:
    global _directory_cache
    orgs = tuple((r.id, r.name) for r in await session.execute(select(Organization.id, Organization.name)))
    routes = tuple(
        sorted(
            (r.topic, r.organization_id)
            for r in await session.execute(select(TopicRoute.topic, TopicRoute.organization_id))
        )
    )
    key = (orgs, routes)
    if _directory_cache is not None and _directory_cache[0] == key:
        return _directory_cache[1]
    directory = Directory([(org_id, _normalized_name(name)) for org_id, name in orgs], dict(routes))
    _directory_cache = (key, directory)
    return directory


async def policy_links(session: AsyncSession, texts: dict[int, str]) -> dict[int, uuid.UUID]:
    """Posts that name a published item by 文号 or 《title》."""
    numbers: dict[int, list[str]] = {}
    titles: dict[int, list[str]] = {}
    for i, t in texts.items():
        n = [m.group(0).translate(str.maketrans("[]［］()（）", "〔〕〔〕〔〕〔〕")) for m in _DOC_NUMBER.finditer(t)]
        b = _BOOK_TITLE.findall(t)
        if n:
            numbers[i] = n
        if b:
            titles[i] = b
    if not numbers and not titles:
        return {}
    all_numbers = {x for v in numbers.values() for x in v}
    all_titles = {x for v in titles.values() for x in v}
    rows = (
        await session.execute(
            select(Policy.item_id, Policy.document_number, Policy.title).where(
                Policy.document_number.in_(all_numbers) | Policy.title.in_(all_titles)
            )
        )
    ).all()
    by_number = {r.document_number: r.item_id for r in rows if r.document_number}
    by_title = {r.title: r.item_id for r in rows}
    out = {}
    for i in set(numbers) | set(titles):
        for n in numbers.get(i, []):
            if n in by_number:
                out[i] = by_number[n]
                break
        else:
            for b in titles.get(i, []):
                if b in by_title:
                    out[i] = by_title[b]
                    break
    return out


async def policies_by_similarity(session: AsyncSession, events: Sequence[Any]) -> dict[uuid.UUID, uuid.UUID]:
    """Events whose terms overlap a published policy's terms strongly speak of that policy (one query for all)."""
    tops = {e.id: [t for t, _ in Counter(e.terms).most_common(15)] for e in events}
    wanted = sorted({t for terms in tops.values() for t in terms})
    if not wanted:
        return {}
    rows = (
        await session.execute(
            select(Policy.item_id, Policy.terms)
            .where(Policy.is_policy.is_(True), Policy.terms.has_any(pg_array(wanted)))
            .limit(50 * len(events))
        )
    ).all()
    generic = similarity.generic_words()
    out = {}
    for e in events:
        mine = set(tops[e.id])
        best: tuple[float, uuid.UUID] | None = None
        for row in rows:
            if mine.isdisjoint(row.terms):
                continue
            score = similarity.event_overlap(row.terms, e.terms, generic)
            if score >= 0.5 and (best is None or score > best[0]):
                best = (score, row.item_id)
        if best is not None:
            out[e.id] = best[1]
    return out


# ------------------------------------------------------------------------------------------------
# Ingestion: store, understand, cluster, alert
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Understood:
    """A repost's understanding, copied from its original."""

    polarity: str
    intensity: float
    topic: str
    must_respond: list[str]
    tokens: list[str]


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0
    already_stored: int = 0
    near_duplicates: int = 0
    event_ids: list[uuid.UUID] = field(default_factory=list)
    alerts: list[uuid.UUID] = field(default_factory=list)


_HOURS: dict[int, str] = {}


def _hour(moment: dt.datetime) -> str:
    """The UTC hour of ``moment`` ("2026-11-22T21"), remembered per hour (posts of a burst share a few)."""
    n = int(moment.timestamp()) // 3600
    hour = _HOURS.get(n)
    if hour is None:
        if len(_HOURS) > 10_000:
            _HOURS.clear()  # bounded
        hour = _HOURS[n] = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H")
    return hour


async def ingest(
    session: AsyncSession,
    posts: Sequence[PostInV1],
    *,
    settings: SentimentSettings,
    source: str = "api",
    prefix: str = "body.posts",
    now: dt.datetime | None = None,
    cluster: bool = True,
) -> IngestResult:
    """Store a batch (all or nothing), understand each new post and fold it into events (issue 6 points 1-4).

    ``cluster=False`` stores and understands posts without folding them into events: a received disclosure
    application says only that one arrived (no subject, no personal data), so hundreds of them must not
    become one hot "event"; their subjects arrive as requests.topic.repeated, which do cluster.

    The work is done in memory for the whole batch against the process's state (gongkai_sentiment.state: the
    active events and recent first posts, brought up to date under the ingest lock), then written in a few
    statements: the posts by COPY, the events, alerts, tasks and outbox rows each in one executemany, the
    counts of near-duplicates' originals and the accounts' last updates each in one UPDATE over arrays.
    """
    clock = _Phases()
    clean = check_posts(posts, settings=settings, prefix=prefix)
    now = now or utcnow()
    result = IngestResult(received=len(clean))
    clock.lap("check")

    # Before the lock, what needs no shared state: signatures, which posts are probably near-duplicates (from this
    # process's memory as it is now, and of each other), the understanding of the others, pseudonyms. With
    # several API processes, one's work here overlaps another's work under the lock.
    model = load_model()
    directory = await load_directory(session)
    window_start = now - dt.timedelta(days=settings.active_days)
    threshold = settings.duplicate_similarity
    sigs = [similarity.signature(c.text, normalized=True) for c in clean] if cluster else []
    bands = [similarity.band_keys(s) for s in sigs]
    fps = [state.fingerprint(s) for s in sigs]
    hint = state.hint(await state.memory_of(session), sigs, fps, bands, threshold=threshold, window_start=window_start)
    clock.lap("signatures")
    likely_first = [True] * len(clean)
    if cluster:
        local = state.BatchBands()
        for i in range(len(clean)):
            if hint is not None and hint.best[i][1] is not None:
                likely_first[i] = False
            elif local.original(sigs[i], fps[i], bands[i], threshold)[1] is not None:
                likely_first[i] = False
            else:
                local.add(sigs[i], fps[i], bands[i], i)
    understood = {i: model.analyse(c.text, normalized=True) for i, c in enumerate(clean) if likely_first[i]}
    clock.lap("understanding")
    key = author_key(settings)
    authors = [author_pseudonym(key, c.data.author) if c.data.author else None for c in clean]
    mentioned = [c.data.department_id or directory.mentioned(c.text) for c in clean]
    links_all = await policy_links(session, {i: c.text for i, c in enumerate(clean)})
    clock.lap("departments")

    # One ingesting transaction at a time (the ingest_state row lock): clustering reads and updates the events.
    batch = await state.begin(session, settings=settings, now=now)
    conn = batch.conn
    clock.lap("lock")

    # A post delivered twice (same channel, same id there) is stored once.
    existing = {
        (r["channel"], r["channel_post_id"])
        for r in await conn.fetch(
            "SELECT p.channel, p.channel_post_id FROM posts p"
            " JOIN unnest($1::text[], $2::text[]) AS k(channel, channel_post_id)"
            " ON p.channel = k.channel AND p.channel_post_id = k.channel_post_id",
            [c.data.channel for c in clean],
            [c.data.channel_post_id for c in clean],
        )
    }
    seen: set[tuple[str, str]] = set()
    at: list[int] = []  # index in ``clean`` of each fresh post
    for i, c in enumerate(clean):
        k = (c.data.channel, c.data.channel_post_id)
        if k in existing or k in seen:
            result.already_stored += 1
            continue
        seen.add(k)
        at.append(i)
    if not at:
        batch.keep([])
        return result
    fresh = [clean[i] for i in at]
    links = {j: links_all[i] for j, i in enumerate(at) if i in links_all}
    post_ids = [uuid.uuid4() for _ in fresh]

    # Near-duplicates first: a repost needs no analysis, it takes its original's (a copy-paste campaign of
    # thousands costs one classification). Candidates share an LSH band with the post (recent first posts in
    # memory, or earlier first posts of this batch); the full signatures decide.
    # Original: (post id, the remembered post or None, its index in this batch or None).
    originals: list[tuple[uuid.UUID, state.FirstPost | None, int | None] | None] = []
    for j, i in enumerate(at):
        original: tuple[uuid.UUID, state.FirstPost | None, int | None] | None = None
        if cluster:
            remembered, index = batch.original(
                sigs[i], fps[i], bands[i], threshold, (hint, i) if hint is not None else None
            )
            if remembered is not None:
                original = (remembered.id, remembered, None)
            elif index is not None:
                original = (post_ids[index], None, index)
            else:
                batch.add_first(sigs[i], fps[i], bands[i], j)
        originals.append(original)
    analyses: list[Any] = []
    for j, i in enumerate(at):
        o = originals[j]
        if o is None:
            # Understood before the lock, unless it was then taken for a near-duplicate.
            analyses.append(understood.get(i) or model.analyse(fresh[j].text, normalized=True))
        elif o[2] is not None:
            analyses.append(analyses[o[2]])
        else:
            r = o[1]
            assert r is not None
            analyses.append(Understood(r.polarity, r.intensity, r.topic, list(r.must_respond), []))
    # Reposts of posts whose event is not in memory (closed, or quiet past the window): one query for all.
    await batch.load_events(o[1].event_id for o in originals if o is not None and o[1] is not None and o[1].event_id)
    clock.lap("near_duplicates")

    generic = similarity.generic_words()
    touched: dict[uuid.UUID, state.EventState] = {}
    rows: list[tuple[Any, ...]] = []
    dup_increments: Counter[uuid.UUID] = Counter()
    account_updates: dict[tuple[str, str], dt.datetime] = {}
    account_platforms = {p.value for p in ACCOUNT_PLATFORMS}
    post_events: list[state.EventState | None] = []
    first_posts: list[state.FirstPost] = []
    for i, (c, a) in enumerate(zip(fresh, analyses, strict=True)):
        d = c.data
        author_hash = authors[at[i]]
        if author_hash and d.channel in account_platforms:
            prev = account_updates.get((d.channel, author_hash))
            account_updates[(d.channel, author_hash)] = max(prev, d.posted_at) if prev else d.posted_at
        department = mentioned[at[i]] or directory.for_topic(a.topic)
        original = originals[i]
        terms = similarity.terms_of(a.tokens)
        event: state.EventState | None = None
        if not cluster:
            pass
        elif original is not None:
            dup_increments[original[0]] += 1
            result.near_duplicates += 1
            if original[2] is not None:
                event = post_events[original[2]]
            elif original[1] is not None and original[1].event_id is not None:
                event = batch.event(original[1].event_id)
        else:
            weights = similarity.term_weights(terms, generic)
            event = batch.best_event(a.topic, d.place, weights, threshold=settings.event_similarity, generic=generic)
            if event is None:
                event = state.EventState(
                    id=uuid.uuid4(),
                    title=_title_of(c.text),
                    topic=a.topic,
                    keywords=[],
                    terms={},
                    place=d.place,
                    department_id=department,
                    policy_item_id=links.get(i),
                    first_seen_at=d.posted_at,
                    last_seen_at=d.posted_at,
                    post_count=0,
                    repost_count=0,
                    negative_count=0,
                    engagement=0,
                    channel_counts={},
                    volume=0.0,
                    hourly={},
                    heat=0.0,
                    trend="rising",
                    risk_level=0,
                    must_respond={},
                    staff_flags=[],
                    detected_at=None,
                    alerted_level=-1,
                    last_alert_at=None,
                    active=True,
                    generation=batch.generation,
                    new=True,
                )
                batch.add_event(event)
        post_events.append(event)
        if event is not None:
            _fold_post(event, c, a, department, links.get(i), terms, is_repost=original is not None, settings=settings)
            touched[event.id] = event
            if original is None:
                batch.index_event(event, terms, generic)
        is_first = original is None and cluster
        if is_first:
            first_posts.append(
                state.first_post(
                    post_ids[i],
                    sigs[at[i]],
                    event_id=event.id if event is not None else None,
                    polarity=a.polarity,
                    intensity=a.intensity,
                    topic=a.topic,
                    must_respond=a.must_respond,
                    posted_at=d.posted_at,
                    bands=bands[at[i]],
                )
            )
        rows.append(
            (
                post_ids[i],
                d.channel,
                d.channel_post_id,
                author_hash,
                c.text,
                d.link,
                d.posted_at,
                now,
                d.likes,
                d.shares,
                d.comments,
                d.place,
                d.department_id,
                a.polarity,
                a.intensity,
                a.topic,
                department,
                json.dumps(a.must_respond, ensure_ascii=False),
                links.get(i),
                sigs[at[i]] if is_first else None,
                original[0] if original else None,
                0,
                event.id if event is not None else None,
                batch.generation,
            )
        )
    clock.lap("events")
    # Originals in this batch are stored with their count; earlier ones are counted up by one UPDATE below.
    in_batch = {post_ids[i]: i for i in range(len(fresh))}
    for original_id, n in list(dup_increments.items()):
        if original_id in in_batch:
            row = rows[in_batch[original_id]]
            rows[in_batch[original_id]] = (*row[:21], n, *row[22:])
            del dup_increments[original_id]

    # Heat, risk and announcements of the touched events, before they are written.
    detecting = [
        e
        for e in touched.values()
        if e.policy_item_id is None and e.detected_at is None and e.post_count >= settings.detect_min_posts
    ]
    for e in touched.values():
        _recompute(e, settings=settings)
    if detecting:
        # Once, when an event is detected: its words are then settled enough to compare with policies.
        found = await policies_by_similarity(session, detecting)
        for e in detecting:
            e.policy_item_id = found.get(e.id)
    out = Outgoing()
    for e in touched.values():
        e.generation = batch.generation
        _announce_to(out, e, batch.before.get(e.id), settings=settings, now=now, result=result)

    clock.lap("announcements")
    # Writes: a handful of statements whatever the batch's size.
    await conn.copy_records_to_table("posts", records=rows, columns=_POST_COLUMNS)
    new_events = [(*e.row(), now, now) for e in touched.values() if e.new]
    if new_events:
        await conn.executemany(_INSERT_EVENT, new_events)
    changed = [(*e.row(), now) for e in touched.values() if not e.new]
    if changed:
        await conn.executemany(_UPDATE_EVENT, changed)
    if dup_increments:
        await conn.execute(
            "UPDATE posts SET duplicate_count = posts.duplicate_count + v.n"
            " FROM unnest($1::uuid[], $2::int[]) AS v(id, n) WHERE posts.id = v.id",
            list(dup_increments),
            list(dup_increments.values()),
        )
    if account_updates:
        # One statement: only hashes that are registered accounts match (most authors are the public).
        await conn.execute(
            "UPDATE accounts a SET last_update_at = v.at, last_update_source = 'posts', updated_at = $4"
            " FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS v(platform, handle_hash, at)"
            " WHERE a.platform = v.platform AND a.handle_hash = v.handle_hash"
            " AND (a.last_update_at IS NULL OR a.last_update_at < v.at)",
            [p for p, _ in account_updates],
            [h for _, h in account_updates],
            list(account_updates.values()),
            now,
        )
    await out.write(conn, now=now)
    clock.lap("writes")
    result.stored = len(rows)
    result.event_ids = list(touched)
    batch.keep(first_posts)
    log.info(
        "posts_ingested", source=source, stored=result.stored, duplicates=result.near_duplicates, events=len(touched)
    )
    return result


_POST_COLUMNS = [
    "id",
    "channel",
    "channel_post_id",
    "author_hash",
    "text",
    "link",
    "posted_at",
    "received_at",
    "likes",
    "shares",
    "comments",
    "place",
    "department_hint_id",
    "polarity",
    "intensity",
    "topic",
    "department_id",
    "must_respond",
    "policy_item_id",
    "signature",
    "duplicate_of_id",
    "duplicate_count",
    "event_id",
    "generation",
]
_INSERT_EVENT = (
    "INSERT INTO opinion_events ("
    + ", ".join(state.EVENT_COLUMNS)
    + ", created_at, updated_at) VALUES ("
    + ", ".join(f"${k + 1}" for k in range(len(state.EVENT_COLUMNS) + 2))
    + ")"
)
_UPDATE_EVENT = (
    "UPDATE opinion_events SET "
    + ", ".join(f"{name} = ${k + 1}" for k, name in enumerate(state.EVENT_COLUMNS) if name != "id")
    + f", updated_at = ${len(state.EVENT_COLUMNS) + 1} WHERE id = $1"
)


#: CPU seconds of ingestion by phase since the process started (bench/sentiment_profile.py prints them).
INGEST_CPU: Counter[str] = Counter()


class _Phases:
    def __init__(self) -> None:
        self.t = time.process_time()

    def lap(self, name: str) -> None:
        t = time.process_time()
        INGEST_CPU[name] += t - self.t
        self.t = t


def _title_of(text_: str) -> str:
    text_ = re.sub(r"^(转发|转|扩散|repost)[:：]\s*", "", text_)
    m = _FIRST_SENTENCE.match(text_)
    return (m.group(1) if m else text_[:40]).strip()


def _fold_post(
    event: OpinionEvent,
    c: CleanPost,
    a: Any,
    department: uuid.UUID | None,
    policy_item_id: uuid.UUID | None,
    terms: list[str],
    *,
    is_repost: bool,
    settings: SentimentSettings,
) -> None:
    d = c.data
    weight = settings.channel_weights.get(d.channel, 1.0)
    if is_repost:
        event.repost_count += 1
    else:
        event.post_count += 1
        event.terms = similarity.merge_terms(event.terms or {}, terms, settings.event_terms)
    if a.polarity == "negative":
        event.negative_count += 1
    event.engagement += d.likes + d.shares + d.comments
    counts = dict(event.channel_counts or {})
    counts[d.channel] = counts.get(d.channel, 0) + 1
    event.channel_counts = counts
    event.volume += weight
    hourly = dict(event.hourly or {})
    hour = _hour(d.posted_at)
    hourly[hour] = hourly.get(hour, 0.0) + weight
    if len(hourly) > 72:  # bounded: three days of hourly volume
        hourly = dict(sorted(hourly.items())[-72:])
    event.hourly = hourly
    cats = dict(event.must_respond or {})
    for cat in a.must_respond:
        cats[cat] = cats.get(cat, 0) + 1
    event.must_respond = cats
    event.first_seen_at = min(event.first_seen_at, d.posted_at)
    event.last_seen_at = max(event.last_seen_at, d.posted_at)
    if event.department_id is None and department is not None:
        event.department_id = department
    if event.policy_item_id is None and policy_item_id is not None:
        event.policy_item_id = policy_item_id
    if not event.place and d.place:
        event.place = d.place


def active_must_respond(event: OpinionEvent) -> list[str]:
    """61号 categories an event falls in: named by two posts or more, or flagged by staff."""
    cats = {cat for cat, n in (event.must_respond or {}).items() if n >= 2}
    cats.update(event.staff_flags or [])
    return sorted(cats)


def _recompute(event: OpinionEvent, *, settings: SentimentSettings) -> None:
    """Heat (volume, velocity, engagement, negativity, channel weight), trend and risk level."""
    hours = sorted(event.hourly or {})
    last = hours[-1] if hours else None
    vals = [event.hourly[h] for h in hours]
    recent = sum(vals[-2:])
    earlier = sum(vals[-4:-2])
    total = event.post_count + event.repost_count
    negative_share = event.negative_count / total if total else 0.0
    heat = (
        settings.heat_volume_weight * math.log1p(event.volume)
        + settings.heat_velocity_weight * math.log1p(recent)
        + settings.heat_engagement_weight * math.log1p(event.engagement / 10)
    ) * (1 - settings.heat_negativity_weight + settings.heat_negativity_weight * negative_share)
    event.heat = round(heat, 2)
    if last is None or not earlier:
        event.trend = "rising"
    elif recent > earlier * 1.2:
        event.trend = "rising"
    elif recent < earlier * 0.8:
        event.trend = "falling"
    else:
        event.trend = "steady"
    level = sum(1 for t in settings.risk_thresholds if heat >= t)
    cats = active_must_respond(event)
    if "emergency" in cats:
        level = max(level, 2)  # 重大突发事件: 5 h / 24 h (80号)
    elif cats:
        level = max(level, 1)  # must respond (61号)
    event.risk_level = max(level, event.risk_level)  # a level is not lowered by the formula; staff close events
    event.keywords = [t for t, _ in Counter(event.terms or {}).most_common(8)]


def event_payload(event: OpinionEvent, previous: int | None = None) -> OpinionEventV1:
    total = event.post_count + event.repost_count
    return OpinionEventV1(
        event_id=event.id,
        title=event.title,
        topic=event.topic,
        keywords=list(event.keywords or []),
        department_id=event.department_id,
        policy_item_id=event.policy_item_id,
        post_count=event.post_count,
        repost_count=event.repost_count,
        channel_counts=dict(event.channel_counts or {}),
        heat=event.heat,
        trend=event.trend,
        risk_level=event.risk_level,
        risk_level_label=RISK_LABELS[event.risk_level],
        previous_risk_level=previous,
        must_respond=active_must_respond(event),
        negative_share=round(event.negative_count / total, 3) if total else 0.0,
        first_seen_at=event.first_seen_at,
        last_seen_at=event.last_seen_at,
    )


@dataclass
class Outgoing:
    """Alerts, response tasks and outbox events of one batch, written in one statement each."""

    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)

    def emit(self, event_type: str, payload: Any) -> None:
        self.envelopes.append(new_envelope(event_type, payload))

    async def write(self, conn: Any, *, now: dt.datetime) -> None:
        if self.alerts:
            await conn.executemany(
                "INSERT INTO alerts (id, event_id, level, heat, raised_at) VALUES ($1, $2, $3, $4, $5)", self.alerts
            )
        if self.tasks:
            await conn.executemany(
                "INSERT INTO response_tasks (id, alert_id, event_id, department_id, level, stage, deadlines,"
                " next_due_at, heat_at_alert, responses, history, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                [(*t, now) for t in self.tasks],
            )
        if self.envelopes:
            await conn.executemany(
                "INSERT INTO outbox (id, subject, envelope) VALUES ($1, $2, $3)",
                [(e.id, e.subject, e.model_dump_json()) for e in self.envelopes],
            )


def _announce_to(
    out: Outgoing,
    event: Any,
    previous: int | None,
    *,
    settings: SentimentSettings,
    now: dt.datetime,
    result: IngestResult,
) -> None:
    if event.detected_at is None:
        if event.post_count + event.repost_count >= settings.detect_min_posts:
            event.detected_at = now
            out.emit(EVENT_DETECTED_V1, event_payload(event))
        else:
            return
    elif previous is not None and event.risk_level > previous:
        out.emit(EVENT_ESCALATED_V1, event_payload(event, previous))
    raised = _alert(event, settings=settings, now=now)
    if raised is not None:
        alert, task, payload = raised
        out.alerts.append((alert["id"], alert["event_id"], alert["level"], alert["heat"], alert["raised_at"]))
        out.tasks.append(
            (
                task["id"],
                task["alert_id"],
                task["event_id"],
                task["department_id"],
                task["level"],
                task["stage"],
                json.dumps(task["deadlines"], ensure_ascii=False),
                task["next_due_at"],
                task["heat_at_alert"],
                json.dumps(task["responses"], ensure_ascii=False),
                json.dumps(task["history"], ensure_ascii=False),
            )
        )
        out.emit(ALERT_RAISED_V1, payload)
        result.alerts.append(alert["id"])


# ------------------------------------------------------------------------------------------------
# Alerts and response tasks
# ------------------------------------------------------------------------------------------------


def deadlines_for(level: int, raised_at: dt.datetime, settings: SentimentSettings) -> list[dict[str, Any]]:
    """Response deadlines by risk level (domain.md §5), hours from the alert."""
    if level >= 2:
        return [
            {
                "kind": "authoritative_release",
                "label": "权威信息发布",
                "due_at": (raised_at + dt.timedelta(hours=settings.authoritative_hours)).isoformat(),
                "basis": f"国办发〔2016〕80号：重大突发事件{settings.authoritative_hours:g}小时内发布权威信息",
                "met_at": None,
            },
            {
                "kind": "press_conference",
                "label": "新闻发布会",
                "due_at": (raised_at + dt.timedelta(hours=settings.press_conference_hours)).isoformat(),
                "basis": f"国办发〔2016〕61号、80号：{settings.press_conference_hours:g}小时内举行新闻发布会",
                "met_at": None,
            },
        ]
    return [
        {
            "kind": "response",
            "label": "回应",
            "due_at": (raised_at + dt.timedelta(hours=settings.response_hours)).isoformat(),
            "basis": f"国办发〔2016〕61号：{settings.response_hours:g}小时内予以回应，并持续发布进展",
            "met_at": None,
        }
    ]


def _next_due(deadlines: list[dict[str, Any]]) -> dt.datetime | None:
    open_ = [dt.datetime.fromisoformat(d["due_at"]) for d in deadlines if not d.get("met_at")]
    return min(open_) if open_ else None


def _alert(
    event: Any, *, settings: SentimentSettings, now: dt.datetime
) -> tuple[dict[str, Any], dict[str, Any], AlertRaisedV1] | None:
    """The alert, response task and sentiment.alert.raised of an event that reached a new level: once per level per
    event, not within the cool-down (the sweep raises it later). Marks the event alerted."""
    if (
        event.detected_at is None
        or event.risk_level < settings.alert_min_level
        or event.risk_level <= event.alerted_level
    ):
        return None
    if (
        event.last_alert_at is not None
        and (now - event.last_alert_at).total_seconds() < settings.alert_cooldown_seconds
    ):
        return None
    alert = {"id": uuid.uuid4(), "event_id": event.id, "level": event.risk_level, "heat": event.heat, "raised_at": now}
    deadlines = deadlines_for(event.risk_level, now, settings)
    task = {
        "id": uuid.uuid4(),
        "alert_id": alert["id"],
        "event_id": event.id,
        "department_id": event.department_id,
        "level": event.risk_level,
        "stage": Stage.consult.value,
        "deadlines": deadlines,
        "next_due_at": _next_due(deadlines),
        "heat_at_alert": event.heat,
        "responses": [],
        "history": [{"at": now.isoformat(), "action": "created", "stage": Stage.consult.value, "actor": "system"}],
    }
    event.alerted_level = event.risk_level
    event.last_alert_at = now
    payload = AlertRaisedV1(
        alert_id=alert["id"],
        event_id=event.id,
        title=event.title,
        topic=event.topic,
        level=event.risk_level,
        level_label=RISK_LABELS[event.risk_level],
        heat=event.heat,
        department_id=event.department_id,
        policy_item_id=event.policy_item_id,
        response_task_id=task["id"],
        deadlines=[DeadlineV1.model_validate(d) for d in deadlines],
        raised_at=now,
    )
    return alert, task, payload


async def maybe_alert(
    session: AsyncSession, event: OpinionEvent, *, settings: SentimentSettings, now: dt.datetime
) -> Alert | None:
    """sentiment.alert.raised once per level per event, not within the cool-down (the sweep raises it later)."""
    raised = _alert(event, settings=settings, now=now)
    if raised is None:
        return None
    alert_row, task_row, payload = raised
    alert = Alert(**alert_row)
    session.add(alert)
    session.add(ResponseTask(**task_row))
    await emit(session, event_tables, ALERT_RAISED_V1, payload)
    return alert


async def flag_event(
    session: AsyncSession, *, event_id: uuid.UUID, category: str, principal: Principal, settings: SentimentSettings
) -> OpinionEvent:
    """Staff mark a 61号 must-respond category (e.g. ordered answered from above): the level follows."""
    if category not in lexicons().must_respond:
        raise ValidationFailed.for_field(
            "body.category", "未知情形，可选：" + "、".join(lexicons().must_respond), "unknown_category"
        )
    generation = await state.bump(session)  # before the event's row lock, as ingestion takes them
    event = await session.get(OpinionEvent, event_id, with_for_update=True)
    if event is None:
        raise NotFound("没有这个舆情事件")
    require_event_access(principal, event)
    event.generation = generation
    if category not in (event.staff_flags or []):
        event.staff_flags = [*(event.staff_flags or []), category]
    previous = event.risk_level
    _recompute(event, settings=settings)
    now = utcnow()
    if event.detected_at is None:
        event.detected_at = now
        await emit(session, event_tables, EVENT_DETECTED_V1, event_payload(event))
    elif event.risk_level > previous:
        await emit(session, event_tables, EVENT_ESCALATED_V1, event_payload(event, previous))
    await maybe_alert(session, event, settings=settings, now=now)
    return event


def require_event_access(principal: Principal, event: OpinionEvent | ResponseTask) -> None:
    if principal.roles & ALL_DEPARTMENTS or Role.system in principal.roles:
        return
    if event.department_id is None or not principal.can_act_for(event.department_id):
        raise Forbidden("只能办理本部门的舆情")


async def acknowledge_alert(session: AsyncSession, *, alert_id: uuid.UUID, principal: Principal) -> Alert:
    alert = await session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound("没有这个预警")
    event = await session.get(OpinionEvent, alert.event_id)
    if event is not None:
        require_event_access(principal, event)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by = principal.name or principal.subject
    return alert


async def get_task(
    session: AsyncSession, *, task_id: uuid.UUID, principal: Principal, lock: bool = False
) -> ResponseTask:
    task = await session.get(ResponseTask, task_id, with_for_update=lock)
    if task is None:
        raise NotFound("没有这个回应任务")
    require_event_access(principal, task)
    return task


_ORDER = [Stage.consult, Stage.assess, Stage.respond, Stage.evaluate, Stage.closed]


def _advance(task: ResponseTask, to: Stage, *, actor: str, note: str | None, now: dt.datetime) -> None:
    task.history = [
        *task.history,
        {"at": now.isoformat(), "action": to.value, "stage": to.value, "actor": actor, "note": note},
    ]
    task.stage = to.value


async def record_consultation(
    session: AsyncSession, *, task_id: uuid.UUID, note: str, principal: Principal
) -> ResponseTask:
    """会商 (80号): the department, press office and 网信 agree who answers what."""
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    if task.stage != Stage.consult.value:
        raise Conflict(f"当前环节为{STAGE_LABELS[Stage(task.stage)]}，不能会商", code="wrong_stage")
    task.consultation = note
    _advance(task, Stage.assess, actor=principal.name or principal.subject, note=note, now=utcnow())
    return task


async def record_assessment(
    session: AsyncSession, *, task_id: uuid.UUID, note: str, principal: Principal
) -> ResponseTask:
    """研判 (80号)."""
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    if task.stage != Stage.assess.value:
        raise Conflict(f"当前环节为{STAGE_LABELS[Stage(task.stage)]}，不能研判", code="wrong_stage")
    task.assessment = note
    _advance(task, Stage.respond, actor=principal.name or principal.subject, note=note, now=utcnow())
    return task


async def publish_response(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    kind: ResponseKind,
    title: str,
    content: str,
    url: str | None,
    principal: Principal,
    now: dt.datetime | None = None,
) -> ResponseTask:
    """回应 (61号, 80号): 权威发布 meets the 5-hour deadline, a press conference the 24-hour one, any response
    the 48-hour one; responses may continue (持续发布进展). Emits sentiment.response.published."""
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    if task.stage not in (Stage.respond.value, Stage.evaluate.value):
        raise Conflict(f"当前环节为{STAGE_LABELS[Stage(task.stage)]}，须先会商、研判再回应", code="wrong_stage")
    now = now or utcnow()
    on_time = True
    deadlines = []
    for d in task.deadlines:
        d = dict(d)
        meets = d["kind"] == "response" or d["kind"] == kind.value
        if meets and not d.get("met_at"):
            d["met_at"] = now.isoformat()
            on_time = on_time and now <= dt.datetime.fromisoformat(d["due_at"])
        deadlines.append(d)
    task.deadlines = deadlines
    task.next_due_at = _next_due(deadlines)
    task.responses = [
        *task.responses,
        {
            "kind": kind.value,
            "kind_label": RESPONSE_KIND_LABELS[kind],
            "title": title,
            "url": url,
            "at": now.isoformat(),
        },
    ]
    task.history = [
        *task.history,
        {"at": now.isoformat(), "action": "respond", "stage": task.stage, "actor": principal.name or principal.subject},
    ]
    event = await session.get(OpinionEvent, task.event_id)
    assert event is not None
    await emit(
        session,
        event_tables,
        RESPONSE_PUBLISHED_V1,
        ResponsePublishedV1(
            response_task_id=task.id,
            event_id=task.event_id,
            department_id=task.department_id,
            kind=kind.value,
            kind_label=RESPONSE_KIND_LABELS[kind],
            title=title,
            content=content,
            url=url,
            event_title=event.title,
            topic=event.topic,
            policy_item_id=event.policy_item_id,
            published_at=now,
            on_time=on_time,
        ),
    )
    return task


async def evaluate(
    session: AsyncSession, *, task_id: uuid.UUID, reported: bool, note: str | None, principal: Principal
) -> ResponseTask:
    """评估 (80号): did the heat fall since the alert, was it reported; then the task is closed."""
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    if task.stage != Stage.respond.value or not task.responses:
        raise Conflict("须先回应再评估", code="wrong_stage")
    event = await session.get(OpinionEvent, task.event_id)
    assert event is not None
    task.heat_fell = event.heat < task.heat_at_alert or event.trend == "falling"
    task.reported = reported
    task.evaluation = note
    now = utcnow()
    _advance(task, Stage.evaluate, actor=principal.name or principal.subject, note=note, now=now)
    _advance(task, Stage.closed, actor=principal.name or principal.subject, note=None, now=now)
    return task


def task_status(task: ResponseTask, now: dt.datetime, due_soon_hours: float) -> str:
    if task.stage == Stage.closed.value or task.next_due_at is None:
        return "done"
    if task.next_due_at < now:
        return "overdue"
    if task.next_due_at - now <= dt.timedelta(hours=due_soon_hours):
        return "due_soon"
    return "open"


# ------------------------------------------------------------------------------------------------
# Government accounts (政务新媒体)
# ------------------------------------------------------------------------------------------------


async def register_account(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    platform: str,
    handle: str,
    name: str,
    settings: SentimentSettings,
    principal: Principal,
) -> Account:
    if platform not in {p.value for p in ACCOUNT_PLATFORMS}:
        raise ValidationFailed.for_field(
            "body.platform",
            "政务新媒体平台须为：" + "、".join(f"{p.value}({CHANNEL_LABELS[p]})" for p in ACCOUNT_PLATFORMS),
            "unknown_platform",
        )
    if await session.get(Organization, organization_id) is None:
        raise ValidationFailed.for_field(
            "body.organization_id", "没有这个机关（目录服务尚未登记）", "unknown_organization"
        )
    principal.require_department(organization_id)
    handle_hash = author_pseudonym(author_key(settings), handle)
    if await session.scalar(select(Account.id).where(Account.platform == platform, Account.handle_hash == handle_hash)):
        raise Conflict("该账号已登记", code="account_exists")
    # The last post already ingested from this handle, if any, is its last update.
    last = await session.scalar(
        select(func.max(Post.posted_at)).where(Post.channel == platform, Post.author_hash == handle_hash)
    )
    account = Account(
        id=uuid.uuid4(),
        organization_id=organization_id,
        platform=platform,
        handle=handle.strip(),
        handle_hash=handle_hash,
        name=name,
        last_update_at=last,
        last_update_source="posts" if last else None,
    )
    session.add(account)
    await session.flush()
    return account


async def report_account_update(
    session: AsyncSession, *, account_id: uuid.UUID, at: dt.datetime, principal: Principal
) -> Account:
    account = await session.get(Account, account_id, with_for_update=True)
    if account is None:
        raise NotFound("没有这个账号")
    principal.require_department(account.organization_id)
    if at.tzinfo is None:
        raise ValidationFailed.for_field("body.at", "时间须带时区", "naive_datetime")
    if account.last_update_at is None or at > account.last_update_at:
        account.last_update_at = at
        account.last_update_source = "reported"
    return account


def silent_days(account: Account, now: dt.datetime) -> int | None:
    ref = account.last_update_at or account.created_at
    return (now - ref).days if ref else None


async def sweep_accounts(session: AsyncSession, *, settings: SentimentSettings, now: dt.datetime | None = None) -> int:
    """sentiment.account.stale once per silence: an account silent over 14 days (国办发〔2018〕123号,
    国办秘函〔2019〕19号) is flagged; a new update ends the silence, a later one is flagged again."""
    now = now or utcnow()
    limit = now - dt.timedelta(days=settings.account_silence_days)
    ref = func.coalesce(Account.last_update_at, Account.created_at)
    accounts = (
        await session.scalars(
            select(Account)
            .where(ref < limit, (Account.stale_notified_at.is_(None)) | (Account.stale_notified_at < ref))
            .with_for_update(skip_locked=True)
        )
    ).all()
    for account in accounts:
        account.stale_notified_at = now
        await emit(
            session,
            event_tables,
            ACCOUNT_STALE_V1,
            AccountStaleV1(
                account_id=account.id,
                organization_id=account.organization_id,
                platform=account.platform,
                name=account.name,
                last_update_at=account.last_update_at,
                silent_days=silent_days(account, now) or 0,
            ),
        )
    return len(accounts)


async def compliance(session: AsyncSession, *, settings: SentimentSettings, now: dt.datetime | None = None) -> dict:
    """The office's list: silent accounts, and duplicate accounts of one body on one platform
    (一个主体一个平台一个账号)."""
    now = now or utcnow()
    accounts = (await session.scalars(select(Account).order_by(Account.organization_id, Account.platform))).all()
    names = dict((await session.execute(select(Organization.id, Organization.name))).all())
    silent = []
    groups: dict[tuple[uuid.UUID, str], list[Account]] = {}
    for a in accounts:
        days = silent_days(a, now)
        if days is not None and days > settings.account_silence_days:
            silent.append({**account_row(a, now), "organization_name": names.get(a.organization_id)})
        groups.setdefault((a.organization_id, a.platform), []).append(a)
    duplicates = [
        {
            "organization_id": org,
            "organization_name": names.get(org),
            "platform": platform,
            "platform_label": CHANNEL_LABELS[Channel(platform)],
            "accounts": [account_row(a, now) for a in group],
        }
        for (org, platform), group in groups.items()
        if len(group) > 1
    ]
    return {"silence_limit_days": settings.account_silence_days, "silent": silent, "duplicates": duplicates}


def account_row(a: Account, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": a.id,
        "organization_id": a.organization_id,
        "platform": a.platform,
        "platform_label": CHANNEL_LABELS[Channel(a.platform)],
        "handle": a.handle,
        "name": a.name,
        "last_update_at": a.last_update_at,
        "last_update_source": a.last_update_source,
        "silent_days": silent_days(a, now),
    }


# ------------------------------------------------------------------------------------------------
# Sweeps
# ------------------------------------------------------------------------------------------------


async def sweep_responses(
    session: AsyncSession, *, settings: SentimentSettings, now: dt.datetime | None = None
) -> None:
    """Due-soon and overdue responses, once each per task; alerts held back by the cool-down."""
    now = now or utcnow()
    soon = now + dt.timedelta(hours=settings.due_soon_hours)
    tasks = (
        await session.scalars(
            select(ResponseTask)
            .where(ResponseTask.stage != Stage.closed.value, ResponseTask.next_due_at.is_not(None))
            .where(
                ((ResponseTask.next_due_at <= soon) & ResponseTask.due_soon_notified_at.is_(None))
                | ((ResponseTask.next_due_at < now) & ResponseTask.overdue_notified_at.is_(None))
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    for task in tasks:
        event = await session.get(OpinionEvent, task.event_id)
        open_ = [d for d in task.deadlines if not d.get("met_at")]
        first = min(open_, key=lambda d: d["due_at"])
        payload = ResponseDeadlineV1(
            response_task_id=task.id,
            event_id=task.event_id,
            department_id=task.department_id,
            title=event.title if event else "",
            level=task.level,
            deadline=DeadlineV1.model_validate(first),
            stage=task.stage,
        )
        assert task.next_due_at is not None
        if task.next_due_at < now and task.overdue_notified_at is None:
            task.overdue_notified_at = now
            task.due_soon_notified_at = task.due_soon_notified_at or now
            await emit(session, event_tables, RESPONSE_OVERDUE_V1, payload)
        elif task.due_soon_notified_at is None:
            task.due_soon_notified_at = now
            await emit(session, event_tables, RESPONSE_DUE_SOON_V1, payload)
    cooldown = now - dt.timedelta(seconds=settings.alert_cooldown_seconds)
    waiting = select(OpinionEvent).where(
        OpinionEvent.active.is_(True),
        OpinionEvent.detected_at.is_not(None),
        OpinionEvent.risk_level >= settings.alert_min_level,
        OpinionEvent.risk_level > OpinionEvent.alerted_level,
        (OpinionEvent.last_alert_at.is_(None)) | (OpinionEvent.last_alert_at <= cooldown),
    )
    if await session.scalar(select(waiting.exists())):
        # Alerting changes events: under the ingest lock, and read again under it.
        generation = await state.bump(session)
        for event in (await session.scalars(waiting.execution_options(populate_existing=True))).all():
            event.generation = generation
            await maybe_alert(session, event, settings=settings, now=now)


async def sweep_retention(
    session: AsyncSession, *, settings: SentimentSettings, now: dt.datetime | None = None
) -> None:
    """Bounded memory: events without posts for ``active_days`` leave the active set (each process's memory drops
    them and the first posts past the window by itself, gongkai_sentiment.state)."""
    now = now or utcnow()
    limit = now - dt.timedelta(days=settings.active_days)
    stale = OpinionEvent.active.is_(True), OpinionEvent.last_seen_at < limit
    if await session.scalar(select(select(OpinionEvent.id).where(*stale).exists())):
        generation = await state.bump(session)
        await session.execute(update(OpinionEvent).where(*stale).values(active=False, generation=generation))


async def close_event(session: AsyncSession, *, event_id: uuid.UUID, principal: Principal) -> OpinionEvent:
    generation = await state.bump(session)
    event = await session.get(OpinionEvent, event_id, with_for_update=True)
    if event is None:
        raise NotFound("没有这个舆情事件")
    require_event_access(principal, event)
    event.active = False
    event.generation = generation
    return event


async def set_topic_route(session: AsyncSession, *, topic: str, organization_id: uuid.UUID) -> TopicRoute:
    if topic not in TOPICS:
        raise ValidationFailed.for_field("path.topic", "未知领域，可选：" + "、".join(TOPICS), "unknown_topic")
    if await session.get(Organization, organization_id) is None:
        raise ValidationFailed.for_field("body.organization_id", "没有这个机关", "unknown_organization")
    stmt = pg_insert(TopicRoute).values(topic=topic, organization_id=organization_id, updated_at=utcnow())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[TopicRoute.topic],
            set_={"organization_id": organization_id, "updated_at": stmt.excluded.updated_at},
        )
    )
    route = await session.get(TopicRoute, topic, populate_existing=True)
    assert route is not None
    return route


__all__ = [
    "IngestResult",
    "acknowledge_alert",
    "author_pseudonym",
    "check_posts",
    "close_event",
    "compliance",
    "deadlines_for",
    "evaluate",
    "flag_event",
    "ingest",
    "on_application_received",
    "on_ingest_posts",
    "on_item_published",
    "on_organization",
    "on_topic_repeated",
    "publish_response",
    "record_assessment",
    "record_consultation",
    "register_account",
    "report_account_update",
    "set_topic_route",
    "sweep_accounts",
    "sweep_responses",
    "sweep_retention",
    "task_status",
]
