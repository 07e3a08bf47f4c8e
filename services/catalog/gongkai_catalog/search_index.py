"""The embedded tantivy index of the catalog's search: a speed path, PostgreSQL stays the source of truth.

Why (bench/README.md, catalog_search): with a few percent of a million items matching a two-term query,
PostgreSQL visits every match's heap row for the facet counts and the order (~430 ms p99); tantivy
counts them in tens of nanoseconds each. So a search is answered from this index when, and only when,
the index is exactly as fresh as PostgreSQL; otherwise from PostgreSQL (:mod:`gongkai_catalog.search`),
with the same answer.

What is in it (one document per ``item_search`` row, built from that row alone, never from the items):

* ``all``: every lexeme of ``tsv`` (``tsvector_to_array``), one raw term each: a query's AND of terms
  matches here exactly when ``tsv @@ query`` does, since both hold the same lexemes;
* ``ta``, ``tb``: the lexemes of ``head`` with weight A (title, 文号, 主题词) and B (内容概述): the
  relevance tiers (:mod:`gongkai_catalog.search`: all terms in A: 2; all in A or B: 1; else 0);
* the facet, filter and visibility columns as raw terms and fast fields (``org``, ``cat``, ``kind``,
  ``validity``, ``status``, ``year``, ``docno``), with ``none`` / -1 for a null category / year;
* the order: ``sort`` (u64: the day of ``sort_on`` in the top 20 bits, the top 44 bits of the id
  below), ``day``, ``ih``/``il`` (the id's two halves): the date order is (``sort_on``, ``item_id``)
  descending, exactly PostgreSQL's; equal ``sort`` values are told apart by ``day``/``ih``/``il``;
* one marker document (``id`` = ``__state__``) holding the applied change number, the database's
  ``index_id`` and the schema version, written in the same tantivy commit as the changes it
  accounts for: a searcher knows exactly which state of ``item_search`` it shows.

The directory (setting ``search_index_dir``) holds ``state.json`` (the current generation, rewritten
after each commit: readers look at it to know when to reload), ``gen-<id>/`` (tantivy indexes; a rebuild
writes a new one and switches ``state.json`` to it), ``writer.lock`` and, when asked, ``rebuild.request``.
Only the catalog worker writes (:mod:`gongkai_catalog.search_index_writer`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import tantivy
from sqlalchemy import BigInteger, Column, DateTime, SmallInteger, Table, Uuid, text

from gongkai_catalog.models import Base

__all__ = [
    "SCHEMA_VERSION",
    "IndexAnswer",
    "IndexQuery",
    "SearchIndexReader",
    "Snapshot",
    "document",
    "execute",
    "item_search_log",
    "item_search_state",
    "schema",
    "sort_key",
]

log = structlog.get_logger("gongkai.catalog.search_index")

#: Bump when the documents change: a reader then ignores an older index and the worker rebuilds it.
SCHEMA_VERSION = 1
STATE_DOC = "__state__"
NO_CATEGORY = "none"
NO_YEAR = -1
#: Every ``item_search`` column the index needs, and the lexeme arrays; the writer reads rows with it.
ROW_SQL = (
    "SELECT item_id, organization_id, category_id, kind, status, validity, year, sort_on, document_number, "
    "tsvector_to_array(tsv) AS lexemes, tsvector_to_array(ts_filter(head, '{a}')) AS lexemes_a, "
    "tsvector_to_array(ts_filter(head, '{b}')) AS lexemes_b FROM item_search"
)
STATE_FILE = "state.json"
LOCK_FILE = "writer.lock"
REBUILD_FILE = "rebuild.request"
#: A failed open is retried at most this often (seconds), not on every request.
REOPEN_SECONDS = 1.0

# The change sequence the index follows (migration 0008; written by a trigger, never by the application).
item_search_state = Table(
    "item_search_state",
    Base.metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("index_id", Uuid, nullable=False, server_default=text("gen_random_uuid()")),
    Column("last_seq", BigInteger, nullable=False, server_default=text("0")),
)
item_search_log = Table(
    "item_search_log",
    Base.metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("item_id", Uuid, primary_key=True),
    Column("logged_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
#: The ``item_id`` a TRUNCATE of ``item_search`` logs: everything changed.
EVERYTHING = uuid.UUID(int=0)


def schema() -> Any:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=False, tokenizer_name="raw", index_option="basic")
    for name in ("all", "ta", "tb", "docno"):
        b.add_text_field(name, stored=False, tokenizer_name="raw", index_option="basic")
    for name in ("org", "cat", "kind", "validity", "status"):
        b.add_text_field(name, stored=False, fast=True, tokenizer_name="raw", index_option="basic")
    b.add_integer_field("year", stored=False, indexed=True, fast=True)
    b.add_unsigned_field("sort", stored=False, indexed=True, fast=True)
    for name in ("day", "ih", "il"):
        b.add_unsigned_field(name, stored=False, indexed=False, fast=True)
    # The marker document's fields.
    b.add_unsigned_field("seq", stored=True, indexed=False, fast=False)
    b.add_unsigned_field("schema", stored=True, indexed=False, fast=False)
    b.add_text_field("index_id", stored=True, tokenizer_name="raw", index_option="basic")
    return b.build()


def sort_key(sort_on: dt.date, item_id: uuid.UUID) -> int:
    """The u64 the date order sorts by: it orders as (``sort_on``, ``item_id``) does, ties aside (see ``execute``)."""
    return (min(sort_on.toordinal(), (1 << 20) - 1) << 44) | (item_id.int >> 84)


def document(row: Mapping[str, Any], sch: Any) -> Any:
    """The tantivy document of an ``item_search`` row as :data:`ROW_SQL` reads it."""
    item_id: uuid.UUID = row["item_id"]
    values: dict[str, Any] = {
        "id": str(item_id),
        "all": list(row["lexemes"] or ()),
        "ta": list(row["lexemes_a"] or ()),
        "tb": list(row["lexemes_b"] or ()),
        "org": str(row["organization_id"]),
        "cat": str(row["category_id"]) if row["category_id"] is not None else NO_CATEGORY,
        "kind": row["kind"],
        "validity": row["validity"],
        "status": row["status"],
        "year": row["year"] if row["year"] is not None else NO_YEAR,
        "sort": sort_key(row["sort_on"], item_id),
        "day": row["sort_on"].toordinal(),
        "ih": item_id.int >> 64,
        "il": item_id.int & ((1 << 64) - 1),
    }
    if row["document_number"] is not None:
        values["docno"] = row["document_number"]
    return tantivy.Document.from_dict(values, sch)


def state_document(seq: int, index_id: uuid.UUID, sch: Any) -> Any:
    return tantivy.Document.from_dict(
        {"id": STATE_DOC, "seq": seq, "schema": SCHEMA_VERSION, "index_id": str(index_id)}, sch
    )


def read_state_document(searcher: Any, sch: Any) -> tuple[int, uuid.UUID, int] | None:
    """(applied change number, index_id, schema version) of a searcher, or None without a marker."""
    hits = searcher.search(tantivy.Query.term_query(sch, "id", STATE_DOC), 1).hits
    if not hits:
        return None
    doc = searcher.doc(hits[0][1]).to_dict()
    return int(doc["seq"][0]), uuid.UUID(doc["index_id"][0]), int(doc["schema"][0])


def read_state_file(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("generation"), str) else None


def write_state_file(directory: Path, data: dict[str, Any]) -> None:
    """Atomically (write, fsync, rename): a reader sees the old or the new file, never a torn one."""
    tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / STATE_FILE)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A searcher and the state of ``item_search`` it shows."""

    searcher: Any
    schema: Any
    applied_seq: int
    index_id: uuid.UUID
    generation: str


class SearchIndexReader:
    """The API's view of the index directory: a searcher, reloaded when the worker committed.

    :meth:`snapshot` costs a ``stat`` of ``state.json`` when nothing changed. Counters say how searches
    were answered (``index``) and why not (``missing``, ``behind``, …); the search logs each fallback.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.counters: Counter[str] = Counter()
        self._stat: tuple[int, int, int] | None = None
        self._index: Any = None
        self._generation: str | None = None
        self._snapshot: Snapshot | None = None
        #: The state.json (inode, mtime, size) that could not be opened, and when: retried after REOPEN_SECONDS.
        self._failed: tuple[tuple[int, int, int] | None, float] = (None, 0.0)
        #: (snapshot, until): the snapshot was found behind PostgreSQL; until then it is not tried again.
        self.behind: tuple[Snapshot, float] | None = None

    def snapshot(self) -> Snapshot | None:
        try:
            st = os.stat(self.directory / STATE_FILE)
        except OSError:
            self._snapshot = None
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._stat:
            if key == self._failed[0] and time.monotonic() - self._failed[1] < REOPEN_SECONDS:
                return None
            try:
                self._snapshot = self._open()
                self._stat = key
            except Exception as exc:  # a half-written or foreign directory: answer from PostgreSQL
                self._snapshot, self._stat, self._index, self._generation = None, None, None, None
                self._failed = (key, time.monotonic())
                log.warning("search_index_open_failed", directory=str(self.directory), error=repr(exc)[:300])
        return self._snapshot

    def _open(self) -> Snapshot | None:
        state = read_state_file(self.directory)
        if state is None:
            return None
        generation = state["generation"]
        if generation != self._generation or self._index is None:
            self._index = tantivy.Index.open(str(self.directory / generation))
            self._generation = generation
        self._index.reload()
        searcher = self._index.searcher()
        sch = self._index.schema
        marker = read_state_document(searcher, sch)
        if marker is None or marker[2] != SCHEMA_VERSION:
            return None
        return Snapshot(searcher, sch, marker[0], marker[1], generation)

    def count(self, outcome: str) -> None:
        self.counters[outcome] += 1


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexQuery:
    """What :func:`gongkai_catalog.search.search` asks, already validated.

    ``visibility``: ``("all", None)``, ``("published", None)`` or ``("published_or", organization_id)``.
    ``filters``: field name in the index → value. ``cursor``: the keyset after which the page starts,
    ``(tier, sort_on, item_id)`` for relevance (``tier`` None otherwise).
    """

    terms: Sequence[str]
    visibility: tuple[str, uuid.UUID | None]
    filters: Mapping[str, Any]
    ranked: bool
    limit: int
    cursor: tuple[int | None, dt.date, uuid.UUID] | None
    facets: bool


@dataclass
class IndexAnswer:
    #: (tier or None, sort_on, item_id) of up to ``limit + 1`` rows, in order.
    page: list[tuple[int | None, dt.date, uuid.UUID]]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


FACET_FIELDS = {"organization_id": "org", "category_id": "cat", "kind": "kind", "year": "year", "validity": "validity"}


def _term(sch: Any, name: str, value: Any) -> Any:
    return tantivy.Query.term_query(sch, name, value)


def _must(query: Any) -> tuple[Any, Any]:
    return (tantivy.Occur.Must, query)


def _all_of(clauses: Iterable[tuple[Any, Any]]) -> Any:
    """The conjunction of ``(Occur, query)`` clauses (Must and MustNot)."""
    return tantivy.Query.boolean_query(list(clauses))


def _any_of(queries: Iterable[Any]) -> Any:
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _base(sch: Any, q: IndexQuery) -> list[tuple[Any, Any]]:
    musts = [_term(sch, "all", t) for t in q.terms]
    mode, organization = q.visibility
    if mode == "published":
        musts.append(_term(sch, "status", "published"))
    elif mode == "published_or":
        musts.append(_any_of([_term(sch, "status", "published"), _term(sch, "org", str(organization))]))
    for name, value in q.filters.items():
        musts.append(_term(sch, name, value))
    if not musts:
        # Every item document, not the marker.
        return [_must(tantivy.Query.all_query()), (tantivy.Occur.MustNot, _term(sch, "id", STATE_DOC))]
    return [_must(m) for m in musts]


def _facets(searcher: Any, query: Any) -> tuple[int, dict[str, dict[str, int]]]:
    aggs = {name: {"terms": {"field": f, "size": 65000}} for name, f in FACET_FIELDS.items()}
    result = searcher.aggregate(query, aggs)
    out: dict[str, dict[str, int]] = {}
    for name, f in FACET_FIELDS.items():
        counts: dict[str, int] = {}
        for bucket in result[name]["buckets"]:
            key = bucket["key"]
            if (f == "cat" and key == NO_CATEGORY) or (f == "year" and int(key) == NO_YEAR):
                value = ""
            else:
                value = str(int(key)) if f == "year" else str(key)
            counts[value] = int(bucket["doc_count"])
        out[name] = counts
    return sum(out["kind"].values()), out


def _keys(searcher: Any, addresses: list[Any]) -> list[tuple[dt.date, uuid.UUID]]:
    days = searcher.fast_field_values("day", addresses)
    highs = searcher.fast_field_values("ih", addresses)
    lows = searcher.fast_field_values("il", addresses)
    return [(dt.date.fromordinal(d), uuid.UUID(int=(h << 64) | lo)) for d, h, lo in zip(days, highs, lows, strict=True)]


def _all_with_sort(
    searcher: Any, sch: Any, condition: list[tuple[Any, Any]], value: int
) -> list[tuple[dt.date, uuid.UUID]]:
    query = _all_of([*condition, _must(_term(sch, "sort", value))])
    result = searcher.search(query, 64, count=True)
    if result.count > 64:
        result = searcher.search(query, result.count, count=False)
    return _keys(searcher, [a for _, a in result.hits])


def _newest(
    searcher: Any, sch: Any, condition: list[tuple[Any, Any]], n: int, before: tuple[dt.date, uuid.UUID] | None
) -> list[tuple[dt.date, uuid.UUID]]:
    """The first ``n`` matches of ``condition`` in (sort_on, item_id) descending order, after ``before``.

    tantivy orders by the u64 ``sort``; rows whose ``sort`` is equal (the same day and the same top 44
    bits of the id, or days past the year 2870) are ordered here by their full key, so the order is
    PostgreSQL's exactly.
    """
    out: list[tuple[dt.date, uuid.UUID]] = []
    if before is not None:
        cursor_sort = sort_key(*before)
        out = [k for k in _all_with_sort(searcher, sch, condition, cursor_sort) if k < before]
        below = tantivy.Query.range_query(sch, "sort", tantivy.FieldType.Unsigned, None, cursor_sort, True, False)
        condition = [*condition, _must(below)]
    # One more than needed: when it sorts below the n-th, no row outside the window ties with the window.
    hits = searcher.search(_all_of(condition), n + 1, count=False, order_by_field="sort", order=tantivy.Order.Desc)
    hits = hits.hits
    if len(hits) <= n or hits[n][0] < hits[n - 1][0]:
        out += _keys(searcher, [a for _, a in hits[:n]])
    else:
        last = hits[n - 1][0]
        window = [a for s, a in hits if s != last]
        out += _keys(searcher, window) + _all_with_sort(searcher, sch, condition, last)
    out.sort(reverse=True)
    return out[:n]


def execute(snapshot: Snapshot, q: IndexQuery) -> IndexAnswer:
    """Run a search on a snapshot: the page's keys (``limit + 1`` when there is a next page), total, facets."""
    searcher, sch = snapshot.searcher, snapshot.schema
    base = _base(sch, q)
    n = q.limit + 1
    page: list[tuple[int | None, dt.date, uuid.UUID]] = []
    if not q.ranked:
        before = (q.cursor[1], q.cursor[2]) if q.cursor else None
        page = [(None, d, i) for d, i in _newest(searcher, sch, base, n, before)]
    else:
        # The tiers of gongkai_catalog.search: every term in A (2); every term in A or B, not all in A (1); else 0.
        in_a = _all_of(_must(_term(sch, "ta", t)) for t in q.terms)
        in_head = _all_of(_must(_any_of([_term(sch, "ta", t), _term(sch, "tb", t)])) for t in q.terms)
        not_ = tantivy.Occur.MustNot
        tiers = {
            2: [*base, _must(in_a)],
            1: [*base, _must(in_head), (not_, in_a)],
            0: [*base, (not_, in_head)],
        }
        for tier in (2, 1, 0):
            if len(page) >= n:
                break
            before = None
            if q.cursor is not None:
                if tier > (q.cursor[0] or 0):
                    continue
                if tier == q.cursor[0]:
                    before = (q.cursor[1], q.cursor[2])
            page += [(tier, d, i) for d, i in _newest(searcher, sch, tiers[tier], n - len(page), before)]
    total, facet_counts = -1, {}
    if q.facets:
        total, facet_counts = _facets(searcher, _all_of(base))
    return IndexAnswer(page=page, total=total, facets=facet_counts)


def directory_generations(directory: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return sorted(p for p in directory.iterdir() if p.is_dir() and p.name.startswith("gen-"))
    return []
