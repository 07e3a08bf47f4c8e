"""What ingestion keeps in memory between batches, and how each process knows it is current.

A batch of posts is compared with the active events (which one does a post join?) and with the recent first
posts (is it a near-duplicate?). Loading those from PostgreSQL for every batch cost more than everything else
(bench/README.md); this module keeps them in the process, bounded:

* **events**: the active events whose last post is within ``active_days``, with an inverted index of their
  words and places;
* **first posts**: the near-duplicate index (MinHash LSH bands → recent first posts with their signature and
  understanding), at most ``duplicate_index_limit`` of them (the most recent), loaded from ``posts.signature``.

**Several processes** (API workers, the worker's connector handler) ingest into one database. Every transaction
that stores posts or changes events first locks the one row of ``ingest_state`` and moves it on: a new
generation number and a new random token; the rows it writes carry that generation. So those transactions run
one at a time, and at the start of a batch, holding the lock, a process compares the row with what its memory
reflects:

* the same generation and token: nothing happened elsewhere, the memory is current;
* the token its own previous batch wrote (that batch committed): its changes, kept aside until now as
  *pending*, are applied;
* otherwise: the events and first posts with a later generation are read again (only those), or everything
  when the memory is empty or cannot be trusted.

Memory only ever holds committed state: a batch works on copies and its changes become current only once the
next batch has seen its token in the database (a rolled-back batch leaves another token, or the old one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import itertools
import json
import time
import uuid
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_sentiment import similarity
from gongkai_sentiment.settings import SentimentSettings

__all__ = [
    "EVENT_COLUMNS",
    "Batch",
    "BatchBands",
    "EventState",
    "FirstPost",
    "begin",
    "bump",
    "driver",
    "event_from_record",
    "fingerprint",
    "first_post",
    "forget",
    "freeze_startup_objects",
    "hint",
    "memory_of",
    "sizes",
]

log = structlog.get_logger("gongkai.sentiment.state")

#: Columns of opinion_events as ingestion reads and writes them (created_at/updated_at are written apart).
EVENT_COLUMNS = (
    "id",
    "title",
    "topic",
    "keywords",
    "terms",
    "place",
    "department_id",
    "policy_item_id",
    "first_seen_at",
    "last_seen_at",
    "post_count",
    "repost_count",
    "negative_count",
    "engagement",
    "channel_counts",
    "volume",
    "hourly",
    "heat",
    "trend",
    "risk_level",
    "must_respond",
    "staff_flags",
    "detected_at",
    "alerted_level",
    "last_alert_at",
    "active",
    "generation",
)
JSON_EVENT_COLUMNS = frozenset({"keywords", "terms", "channel_counts", "hourly", "must_respond", "staff_flags"})
_SELECT_EVENTS = "SELECT " + ", ".join(EVENT_COLUMNS) + " FROM opinion_events"
_FIRST_POST_COLUMNS = "id, signature, event_id, polarity, intensity, topic, must_respond, posted_at"
#: How often memory drops what left the window and rebuilds its indexes (seconds).
PRUNE_SECONDS = 300.0


_keys = itertools.count(1)


@dataclass(slots=True)
class EventState:
    """An opinion_events row in memory (the same attribute names as the ORM model, so the rules of
    service.py — folding, heat, risk, payloads — apply to either)."""

    id: uuid.UUID
    title: str
    topic: str
    keywords: list[str]
    terms: dict[str, float]
    place: str | None
    department_id: uuid.UUID | None
    policy_item_id: uuid.UUID | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    post_count: int
    repost_count: int
    negative_count: int
    engagement: int
    channel_counts: dict[str, int]
    volume: float
    hourly: dict[str, float]
    heat: float
    trend: str
    risk_level: int
    must_respond: dict[str, int]
    staff_flags: list[str]
    detected_at: dt.datetime | None
    alerted_level: int
    last_alert_at: dt.datetime | None
    active: bool
    generation: int
    #: Not columns: created by the batch at hand (INSERT, not UPDATE); a small number naming it in this process
    #: (the indexes hold these, cheaper to hash than UUIDs).
    new: bool = False
    key: int = field(default_factory=lambda: next(_keys))
    #: The entities (places, named bodies) among ``terms``, and the terms dict they were found in (folding
    #: replaces the dict, which makes them stale).
    entities_of: Any = field(default=None, compare=False, repr=False)
    entities: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def copy(self) -> EventState:
        # Folding replaces the dict and list attributes instead of changing them, so a shallow copy is enough
        # (attribute by attribute: dataclasses.replace costs ten times as much).
        out = object.__new__(EventState)
        for name in _EVENT_SLOTS:
            object.__setattr__(out, name, getattr(self, name))
        return out

    def row(self) -> tuple[Any, ...]:
        out = []
        for name in EVENT_COLUMNS:
            value = getattr(self, name)
            out.append(json.dumps(value, ensure_ascii=False) if name in JSON_EVENT_COLUMNS else value)
        return tuple(out)


_EVENT_SLOTS = tuple(f.name for f in dataclasses.fields(EventState))


def event_from_record(r: Any, key: int | None = None) -> EventState:
    e = EventState(**{name: r[name] for name in EVENT_COLUMNS})
    if key is not None:
        e.key = key
    return e


_STRINGS: dict[str, str] = {}


def _shared(value: str) -> str:
    """One object for the few distinct polarity and topic strings of thousands of first posts."""
    return _STRINGS.setdefault(value, value)


def fingerprint(sig: Sequence[int]) -> int:
    """One byte per bin (its value's low byte) as one integer: equal bins have equal bytes, so the zero bytes of
    two fingerprints' XOR bound from above how many bins two signatures share (one C-level count)."""
    return int.from_bytes(bytes(v & 0xFF for v in sig), "big")


def shared_bins_at_most(fp_a: int, fp_b: int) -> int:
    return (fp_a ^ fp_b).to_bytes(similarity.BINS, "big").count(0)


@dataclass(slots=True)
class FirstPost:
    """A recent first post (not a near-duplicate itself): a candidate original for near-duplicates."""

    id: uuid.UUID
    signature: array  # of int64
    event_id: uuid.UUID | None
    polarity: str
    intensity: float
    topic: str
    must_respond: tuple[str, ...]
    posted_at: dt.datetime
    bands: array  # of int64, its LSH band keys
    fp: int
    #: Order of arrival in this process's memory (a hint taken before the lock compares only later ones again).
    seq: int = 0


def first_post(
    post_id: uuid.UUID,
    signature: Sequence[int],
    *,
    event_id: uuid.UUID | None,
    polarity: str,
    intensity: float,
    topic: str,
    must_respond: Iterable[str],
    posted_at: dt.datetime,
    bands: Sequence[int] | None = None,
) -> FirstPost:
    return FirstPost(
        id=post_id,
        signature=array("q", signature),
        event_id=event_id,
        polarity=_shared(polarity),
        intensity=intensity,
        topic=_shared(topic),
        must_respond=tuple(must_respond or ()),
        posted_at=posted_at,
        bands=array("q", sorted(set(bands if bands is not None else similarity.band_keys(signature)))),
        fp=fingerprint(signature),
    )


def first_post_from_record(r: Any) -> FirstPost:
    return first_post(
        r["id"],
        r["signature"],
        event_id=r["event_id"],
        polarity=r["polarity"],
        intensity=r["intensity"],
        topic=r["topic"],
        must_respond=r["must_respond"],
        posted_at=r["posted_at"],
    )


@dataclass
class _Pending:
    """What a batch changed, kept aside until a later batch sees that it committed."""

    generation: int
    token: uuid.UUID
    events: list[EventState]
    first_posts: list[FirstPost]


Postings = dict[str, dict[str, set[int]]]  # topic → word or place → event keys


@dataclass
class _Memory:
    """One database's state in this process."""

    generation: int | None = None
    token: uuid.UUID | None = None
    events: dict[uuid.UUID, EventState] = field(default_factory=dict)
    by_key: dict[int, EventState] = field(default_factory=dict)
    #: Inverted indexes of the events per topic (a post only joins an event of its topic). They may hold words
    #: an event has since dropped (its terms are bounded): matching checks the event's own terms.
    by_term: Postings = field(default_factory=dict)
    by_place: Postings = field(default_factory=dict)
    first_posts: dict[uuid.UUID, FirstPost] = field(default_factory=dict)
    #: LSH band key → the first post with it, or a list when several have it (most bands are one post's).
    by_band: dict[int, FirstPost | list[FirstPost]] = field(default_factory=dict)
    pending: _Pending | None = None
    pruned_at: float = 0.0
    loaded_since: dt.datetime | None = None
    #: Moves on whenever first posts leave memory (a hint taken before is then not trusted).
    epoch: int = 0
    #: The last first post's ``seq``.
    seq: int = 0

    # -------------------------------------------------------------------------------- changes

    def drop_event(self, event_id: uuid.UUID) -> None:
        old = self.events.pop(event_id, None)
        if old is not None:
            self.by_key.pop(old.key, None)

    def put_event(self, e: EventState) -> None:
        self.drop_event(e.id)
        if not e.active:
            return
        self.events[e.id] = e
        self.by_key[e.key] = e
        terms = self.by_term.setdefault(e.topic, {})
        for t in e.terms:
            got = terms.get(t)
            if got is None:
                terms[t] = {e.key}
            else:
                got.add(e.key)
        if e.place:
            self.by_place.setdefault(e.topic, {}).setdefault(e.place, set()).add(e.key)

    def put_first_post(self, p: FirstPost) -> None:
        if p.id in self.first_posts:
            return
        self.seq += 1
        p.seq = self.seq
        self.first_posts[p.id] = p
        for b in p.bands:
            held = self.by_band.get(b)
            if held is None:
                self.by_band[b] = p
            elif isinstance(held, list):
                held.append(p)
            else:
                self.by_band[b] = [held, p]

    def apply(self, pending: _Pending) -> None:
        for e in pending.events:
            self.put_event(e)
        for p in pending.first_posts:
            self.put_first_post(p)

    def _clear(self) -> None:
        self.epoch += 1
        self.events.clear()
        self.by_key.clear()
        self.by_term.clear()
        self.by_place.clear()
        self.first_posts.clear()
        self.by_band.clear()

    def reset(self) -> None:
        self._clear()
        self.generation = self.token = None
        self.loaded_since = None

    def prune(self, window_start: dt.datetime, limit: int) -> None:
        """Drop what left the window (and the oldest first posts beyond ``limit``); rebuild the indexes."""
        events = [e for e in self.events.values() if e.active and e.last_seen_at >= window_start]
        firsts = sorted(
            (p for p in self.first_posts.values() if p.posted_at >= window_start), key=lambda p: p.posted_at
        )
        if len(firsts) > limit:
            firsts = firsts[len(firsts) - limit :]  # bounded: the oldest go first
        self._clear()
        for e in events:
            self.put_event(e)
        for p in firsts:
            self.put_first_post(p)


_MEMORY: dict[str, _Memory] = {}


def freeze_startup_objects() -> None:
    """Once the process has imported its libraries and loaded its model (~110,000 objects that live as long as
    it does), leave them out of the garbage collector's full passes: measured, those passes took 10 % of
    ingestion's CPU time, most of it walking these objects again and again (gc.freeze)."""
    gc.collect()
    gc.freeze()


def forget() -> None:
    """Drop every database's state (tests, or a process that wants to start over)."""
    _MEMORY.clear()


def sizes() -> dict[str, tuple[int, int]]:
    """What this process remembers, per database: (active events, recent first posts)."""
    return {key.split("#", 1)[1]: (len(m.events), len(m.first_posts)) for key, m in _MEMORY.items()}


async def driver(session: AsyncSession) -> Any:
    """The asyncpg connection of ``session``'s transaction (COPY and executemany without the ORM)."""
    await session.flush()
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


@dataclass(frozen=True)
class _Locked:
    instance: uuid.UUID
    previous: int
    previous_token: uuid.UUID
    generation: int
    token: uuid.UUID


async def _lock(session: AsyncSession) -> _Locked:
    """Lock the generation row and move it on."""
    row = (
        await session.execute(text("SELECT instance, generation, token FROM ingest_state WHERE id = 1 FOR UPDATE"))
    ).one()
    token = uuid.uuid4()
    await session.execute(
        text("UPDATE ingest_state SET generation = :g, token = :t WHERE id = 1"),
        {"g": row.generation + 1, "t": token},
    )
    return _Locked(row.instance, row.generation, row.token, row.generation + 1, token)


async def bump(session: AsyncSession) -> int:
    """For a transaction that changes events outside ingestion (flags, closing, sweeps): take the lock, move the
    generation on and return it; the events it changes must carry it (``generation``), so that every process
    reads them again. Take it before locking any event row (the order ingestion takes them in)."""
    return (await _lock(session)).generation


@dataclass(frozen=True)
class Hint:
    """The most similar remembered first post of each post of a batch, found before the lock from the memory as it
    was then (``epoch``, ``seq``): under the lock only first posts remembered since are compared again."""

    memory: _Memory
    epoch: int
    seq: int
    best: list[tuple[float, FirstPost | None]]


_INSTANCES: dict[str, uuid.UUID] = {}


async def memory_of(session: AsyncSession) -> _Memory | None:
    """This process's memory of ``session``'s database, if a batch has been ingested into it (no lock taken)."""
    url = str((await session.connection()).engine.url)
    instance = _INSTANCES.get(url)
    return _MEMORY.get(f"{url}#{instance}") if instance is not None else None


def _remembered(
    memory: _Memory,
    sig: Sequence[int],
    fp: int,
    bands: Sequence[int],
    *,
    need: float,
    threshold: float,
    window_start: dt.datetime,
    since: int,
    best: float,
    found: FirstPost | None,
) -> tuple[float, FirstPost | None]:
    compared: set[int] = set()
    by_band = memory.by_band
    for b in bands:
        held = by_band.get(b)
        if held is None:
            continue
        for p in held if isinstance(held, list) else (held,):
            if p.seq <= since or p.posted_at < window_start or id(p) in compared:
                continue
            compared.add(id(p))
            if shared_bins_at_most(fp, p.fp) < need:
                continue
            sim = similarity.signature_similarity(sig, p.signature)
            if sim >= threshold and sim > best:
                best, found = sim, p
    return best, found


def hint(
    memory: _Memory | None,
    sigs: Sequence[Sequence[int]],
    fps: Sequence[int],
    bands: Sequence[Sequence[int]],
    *,
    threshold: float,
    window_start: dt.datetime,
) -> Hint | None:
    if memory is None:
        return None
    need = threshold * similarity.BINS - 1e-9
    best = [
        _remembered(
            memory,
            sig,
            fp,
            bs,
            need=need,
            threshold=threshold,
            window_start=window_start,
            since=0,
            best=0.0,
            found=None,
        )
        for sig, fp, bs in zip(sigs, fps, bands, strict=True)
    ]
    return Hint(memory, memory.epoch, memory.seq, best)


class BatchBands:
    """Earlier first posts of a batch by LSH band (the near-duplicate candidates among its own posts)."""

    __slots__ = ("by_band",)

    def __init__(self) -> None:
        self.by_band: dict[int, list[tuple[Sequence[int], int, int]]] = {}

    def add(self, sig: Sequence[int], fp: int, bands: Sequence[int], index: int) -> None:
        for b in bands:
            self.by_band.setdefault(b, []).append((sig, fp, index))

    def original(self, sig: Sequence[int], fp: int, bands: Sequence[int], threshold: float) -> tuple[float, int | None]:
        """(estimated Jaccard, index) of the most similar earlier first post at or above ``threshold``."""
        need = threshold * similarity.BINS - 1e-9
        best, found = 0.0, None
        compared: set[int] = set()
        for b in bands:
            for cand_sig, cand_fp, i in self.by_band.get(b, ()):
                if i in compared:
                    continue
                compared.add(i)
                if shared_bins_at_most(fp, cand_fp) < need:
                    continue
                sim = similarity.signature_similarity(sig, cand_sig)
                if sim >= threshold and sim > best:
                    best, found = sim, i
        return best, found


@dataclass
class Batch:
    """One ingesting transaction's view: the process's memory (read-only) plus what this batch changed."""

    memory: _Memory
    conn: Any
    generation: int
    token: uuid.UUID
    window_start: dt.datetime
    events: dict[int, EventState] = field(default_factory=dict)
    by_term: Postings = field(default_factory=dict)
    by_place: Postings = field(default_factory=dict)
    local: BatchBands = field(default_factory=BatchBands)
    #: Risk level of each event before this batch touched it.
    before: dict[uuid.UUID, int] = field(default_factory=dict)
    _entityless: dict[str, set[int]] = field(default_factory=dict)

    # -------------------------------------------------------------------------------- events

    def event(self, event_id: uuid.UUID) -> EventState | None:
        """The event for changing: this batch's copy (made on first use) of the remembered one."""
        base = self.memory.events.get(event_id)
        if base is not None:
            return self._mine(base)
        for e in self.events.values():
            if e.id == event_id:
                return e
        return None

    def _mine(self, e: EventState) -> EventState:
        mine = self.events.get(e.key)
        if mine is None:
            mine = self.events[e.key] = e.copy()
            self.before[e.id] = e.risk_level
        return mine

    def add_event(self, e: EventState) -> None:
        self.events[e.key] = e

    def entities_of(self, e: EventState, generic: frozenset[str]) -> frozenset[str]:
        if e.entities_of is not e.terms:
            e.entities = frozenset(t for t in e.terms if similarity.is_entity(t, generic))
            e.entities_of = e.terms
        return e.entities

    def _without_entities(self, topic: str, generic: frozenset[str]) -> set[int]:
        """Events of ``topic`` naming no place or body (remembered ones found once per batch, this batch's as they
        change): the only ones, besides those sharing one, that a post naming entities may join."""
        found = self._entityless.get(topic)
        if found is None:
            found = self._entityless[topic] = {
                e.key
                for events in (self.memory.events.values(), self.events.values())
                for e in events
                if e.topic == topic and not self.entities_of(e, generic)
            }
        return found

    def best_event(
        self,
        topic: str,
        place: str | None,
        weights: dict[str, float],
        *,
        threshold: float,
        generic: frozenset[str],
    ) -> EventState | None:
        """The active event of ``topic`` a first post joins: the one whose words it overlaps most, weighted by
        specificity (``weights``), +0.15 for the same place, at or above ``threshold``, among the events sharing a
        specific word (weight ≥ 1) or the place with it; a post naming places or bodies (entities) none of which
        the event has is another matter (unless the event names none).

        So for a post naming entities only the events sharing one, sharing its place or naming none are looked at;
        for others, an event is scored only if its best possible score (all its shared specific words, every
        generic word of the post, the place) reaches ``threshold``."""
        total = sum(weights.values()) or 1.0
        indexes = [x for x in (self.memory.by_term.get(topic), self.by_term.get(topic)) if x]
        places = [x for x in (self.memory.by_place.get(topic), self.by_place.get(topic)) if x]
        entities = {t for t in weights if similarity.is_entity(t, generic)}
        bonus = 0.15 if place else 0.0
        need = threshold - bonus - 1e-9
        specific = [t for t, w in weights.items() if w >= 1.0]
        keys: set[int] | dict[int, float]
        if entities:
            keys = set()
            for index in indexes:
                for t in entities:
                    got = index.get(t)
                    if got:
                        keys.update(got)
            if place:
                for index in places:
                    keys.update(index.get(place, ()))
            keys.update(self._without_entities(topic, generic))
        else:
            generic_weight = sum(w for w in weights.values() if w < 1.0)
            shared: dict[int, float] = {}
            for t in specific:
                w = weights[t]
                for index in indexes:
                    got = index.get(t)
                    if got:
                        for k in got:
                            shared[k] = shared.get(k, 0.0) + w
            if place:
                for index in places:
                    for k in index.get(place, ()):
                        shared.setdefault(k, 0.0)
            # An upper bound (a word the index remembers may have left the event): below it, it cannot reach.
            keys = {k for k, upper in shared.items() if (upper + generic_weight) / total >= need}
        best: EventState | None = None
        best_score = 0.0
        window_start = self.window_start
        for k in keys:
            e = self.events.get(k) or self.memory.by_key.get(k)
            if e is None or e.topic != topic or not e.active or e.last_seen_at < window_start:
                continue
            event_terms = e.terms
            if entities and not entities & event_terms.keys() and self.entities_of(e, generic):
                # A local matter is its place or body: a post naming others is another matter,
                # however alike the complaint reads (the same wording is common to many matters).
                continue
            same_place = bool(place and e.place and place == e.place)
            if not same_place and not any(t in event_terms for t in specific):
                continue  # shares neither a specific word nor the place: not a candidate
            score = sum(w for t, w in weights.items() if t in event_terms) / total
            if same_place:
                score += 0.15
            if score >= threshold and score > best_score:
                best_score, best = score, e
        return self._mine(best) if best is not None and not best.new else best

    def index_event(self, e: EventState, words: Iterable[str], generic: frozenset[str]) -> None:
        without = self._entityless.get(e.topic)
        if without is not None:
            if self.entities_of(e, generic):
                without.discard(e.key)
            else:
                without.add(e.key)
        terms = self.by_term.setdefault(e.topic, {})
        for t in words:
            if t in e.terms:
                terms.setdefault(t, set()).add(e.key)
        if e.place:
            self.by_place.setdefault(e.topic, {}).setdefault(e.place, set()).add(e.key)

    async def load_events(self, ids: Iterable[uuid.UUID]) -> None:
        """Events not in memory (closed, or past the window) that a near-duplicate's original belongs to."""
        wanted = [i for i in set(ids) if i not in self.memory.events]
        if not wanted:
            return
        for r in await self.conn.fetch(_SELECT_EVENTS + " WHERE id = ANY($1::uuid[])", wanted):
            e = event_from_record(r)
            self.events[e.key] = e
            self.before[e.id] = e.risk_level

    # -------------------------------------------------------------------------------- near-duplicates

    def original(
        self,
        sig: Sequence[int],
        fp: int,
        bands: Sequence[int],
        threshold: float,
        hinted: tuple[Hint, int] | None = None,
    ) -> tuple[FirstPost | None, int | None]:
        """The most similar earlier first post sharing an LSH band whose estimated Jaccard is at or above
        ``threshold``: (the remembered post, None) or (None, its index in this batch) or (None, None).
        Remembered ones outside the window are not candidates. ``hinted``: (the batch's hint, this post's place in
        it); when memory lost nothing since, only first posts remembered after it are compared."""
        need = threshold * similarity.BINS - 1e-9
        best, remembered, since = 0.0, None, 0
        if hinted is not None and hinted[0].memory is self.memory and hinted[0].epoch == self.memory.epoch:
            best, remembered = hinted[0].best[hinted[1]]
            since = hinted[0].seq
        best, remembered = _remembered(
            self.memory,
            sig,
            fp,
            bands,
            need=need,
            threshold=threshold,
            window_start=self.window_start,
            since=since,
            best=best,
            found=remembered,
        )
        local_best, index = self.local.original(sig, fp, bands, threshold)
        if index is not None and local_best > best:
            return None, index
        return remembered, None

    def add_first(self, sig: Sequence[int], fp: int, bands: Sequence[int], index: int) -> None:
        self.local.add(sig, fp, bands, index)

    # -------------------------------------------------------------------------------- the end

    def keep(self, first_posts: list[FirstPost]) -> None:
        """Set this batch's changes aside: they become the process's memory once a later batch sees that this
        transaction committed."""
        for e in self.events.values():
            e.new = False
        self.memory.pending = _Pending(self.generation, self.token, list(self.events.values()), first_posts)


async def begin(session: AsyncSession, *, settings: SentimentSettings, now: dt.datetime) -> Batch:
    """Take the ingest lock, move the generation on, and bring this process's memory up to date."""
    locked = await _lock(session)
    previous, previous_token = locked.previous, locked.previous_token
    conn = await driver(session)
    # The database's own id (made by its migration) as well as its address: a database dropped and made again
    # under the same name starts its generations over.
    url = str((await session.connection()).engine.url)
    _INSTANCES[url] = locked.instance
    key = f"{url}#{locked.instance}"
    memory = _MEMORY.setdefault(key, _Memory())
    window_start = now - dt.timedelta(days=settings.active_days)
    # The window memory holds: as of the real clock (a caller may pass another ``now``), a little wider.
    load_since = min(now, dt.datetime.now(dt.UTC)) - dt.timedelta(days=settings.active_days, hours=1)

    pending, memory.pending = memory.pending, None
    if pending is not None and pending.token == previous_token and pending.generation == previous:
        memory.apply(pending)  # our own previous batch committed
        memory.generation, memory.token = previous, previous_token
    started = time.perf_counter()
    how = "current"
    if memory.generation == previous and memory.token == previous_token:
        if memory.loaded_since is not None and load_since < memory.loaded_since:
            how = "full"  # a caller's ``now`` reaches further back than memory was loaded
    elif memory.generation is not None and memory.generation < previous:
        how = "changes"
    else:
        how = "full"
    if how == "changes":
        assert memory.generation is not None
        firsts = await conn.fetch(
            f"SELECT {_FIRST_POST_COLUMNS} FROM posts"
            " WHERE signature IS NOT NULL AND generation > $1 AND posted_at >= $2 LIMIT $3",
            memory.generation,
            load_since,
            settings.duplicate_index_limit + 1,
        )
        if len(firsts) > settings.duplicate_index_limit:
            how = "full"  # missed more than memory holds (idle while others ingested): start over
        else:
            for r in await conn.fetch(_SELECT_EVENTS + " WHERE generation > $1", memory.generation):
                e = event_from_record(r)
                if e.active and e.last_seen_at >= load_since:
                    memory.put_event(e)
                else:
                    memory.drop_event(e.id)
            for r in firsts:
                memory.put_first_post(first_post_from_record(r))
    if how == "full":
        memory.reset()
        events = await conn.fetch(_SELECT_EVENTS + " WHERE active AND last_seen_at >= $1", load_since)
        firsts = await conn.fetch(
            f"SELECT {_FIRST_POST_COLUMNS} FROM posts WHERE signature IS NOT NULL AND posted_at >= $1"
            " ORDER BY posted_at DESC LIMIT $2",
            load_since,
            settings.duplicate_index_limit,
        )
        memory.loaded_since = load_since
        for r in events:
            memory.put_event(event_from_record(r))
        for r in reversed(firsts):
            memory.put_first_post(first_post_from_record(r))
        memory.pruned_at = time.monotonic()
    if how != "current":
        log.debug(
            "ingest_memory_loaded",
            how=how,
            events=len(memory.events),
            first_posts=len(memory.first_posts),
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
    memory.generation, memory.token = previous, previous_token
    if time.monotonic() - memory.pruned_at > PRUNE_SECONDS or len(memory.first_posts) > settings.duplicate_index_limit:
        memory.prune(load_since, settings.duplicate_index_limit)
        memory.pruned_at = time.monotonic()
    return Batch(memory, conn, locked.generation, locked.token, window_start)
