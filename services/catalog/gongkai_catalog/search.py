"""Chinese full-text search over the catalog (issue 3 point 9; 条例 art. 24: the platform must support retrieval).

The search document of an item lives in its own table, ``item_search``, one row per item, written
by :func:`index_item` in the same transaction as every change of the item (the service calls it) and
removed by :func:`unindex_item`. The items table stays free of search columns, and the write path is
explicit. The row holds what the filters, facets and date order need (organization, category, kind,
status, validity, year, dates, 文号, title), ``tsv``, a weighted ``tsvector``:

* A: the title, the 文号 and the keywords (主题词);
* B: the summary (内容概述);
* C: the body and the text of text attachments;

and ``head``, its A and B parts alone (``ts_filter(tsv, '{a,b}')``), which relevance ranks. ``tsv`` is read
only through its GIN index, and is stored out of line once a row passes the TOAST threshold (migration
0007), so the rows that facets count stay narrow.

Tokens come from :func:`gongkai_shared.text.tsvector_text` (rjieba search mode, normalised: NFKC, lower
case), so a two-character query word finds the documents that hold it inside a longer word. The
document is written as a ``tsvector`` literal built here (:func:`tsvector_literal`), the same value as
``setweight(to_tsvector('simple', …), 'A') || …`` would give (a test checks it), which lets the
benchmark's bulk load and the service share one code path.

Queries (:func:`search`): an AND of the query's terms (:func:`gongkai_shared.text.tsquery_text`), the
filters, visibility (the public sees published items; staff also their department's others; the
office everything), facet counts over the whole matching set (one statement, ``GROUPING SETS``),
relevance or date order, keyset pagination for both orders, and a
snippet with the query's terms marked, cut from the original text (not from the segmented one), so it
shows the characters as published.

Two paths give the same answer (docs/decisions.md): the embedded tantivy index
(:mod:`gongkai_catalog.search_index`), used only when it has applied exactly the changes PostgreSQL
shows, and PostgreSQL itself (``item_search``), which answers otherwise. The page's rows and snippets
always come from PostgreSQL.

Relevance (a documented approximation, chosen so that both paths order alike and cheaply): three
tiers, then the date (newest first), then the id. Tier 2: every term of the query is in the title,
文号 or 主题词 (weight A of ``head``); tier 1: every term is in those or in 内容概述 (A or B); tier 0:
the others, i.e. some term only in the body or an attachment. Every match is still found and counted.
In PostgreSQL the tier is two ``@@`` tests on ``head`` (~15 lexemes, inline); in tantivy three
conjunctions ordered by a fast field. Before the index (migration 0008) relevance was ``ts_rank``
over ``head``, which also weighed the terms' distance; a rank that depends on the corpus (BM25) or on
positions could not be computed alike by both paths, nor carried in a cursor from one to the other.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import hashlib
import html
import re
import time
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog
from gongkai_shared.auth import Principal, Role
from gongkai_shared.errors import ValidationFailed
from gongkai_shared.pagination import decode_cursor, encode_cursor
from gongkai_shared.text import normalize, search_tokens, tsquery_text
from gongkai_shared.timeutil import china_date_of, china_today
from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    cast,
    delete,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog.models import Attachment, Base, Item
from gongkai_catalog.search_index import IndexQuery, SearchIndexReader
from gongkai_catalog.search_index import execute as execute_index_query

log = structlog.get_logger("gongkai.catalog.search")

__all__ = [
    "FACETS",
    "SearchFilters",
    "SearchOrder",
    "SearchResult",
    "highlight",
    "index_item",
    "item_search",
    "query_terms",
    "search",
    "search_row",
    "text_digest",
    "tsvector_literal",
    "unindex_item",
]

#: PostgreSQL's limits for a tsvector: positions 1..16383, at most 256 positions kept per lexeme.
MAX_POSITION = 16383
MAX_POSITIONS_PER_LEXEME = 256
#: Body tokens beyond this are not indexed (a tsvector may not exceed 1 MB; a 100,000-token body is ~300 pages).
MAX_BODY_TOKENS = 100_000
SNIPPET_CHARS = 120
ATTACHMENT_TEXT_BYTES = 2 * 1024 * 1024

item_search = Table(
    "item_search",
    Base.metadata,
    Column("item_id", UUID(as_uuid=True), ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("category_id", UUID(as_uuid=True), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("validity", String(20), nullable=False),
    #: Year of 发布日期; of 成文日期 (else 生成日期, else the day it was created) before publication.
    Column("year", SmallInteger, nullable=True),
    Column("published_on", Date, nullable=True),
    #: The date order's key: 发布日期, else 成文日期, 生成日期, creation day. Never null (keyset pagination).
    Column("sort_on", Date, nullable=False),
    Column("document_number", String(100), nullable=True),
    Column("title", String(500), nullable=False),
    #: The whole search document (A, B, C); STORAGE EXTERNAL, read only through the GIN index (0007).
    Column("tsv", TSVECTOR, nullable=False),
    #: Its A and B parts (title, 文号, 主题词, 内容概述): what relevance ranks; STORAGE MAIN, inline (0007).
    Column("head", TSVECTOR, nullable=False),
    #: :func:`text_digest` of what ``tsv`` and ``head`` were made from; null before 0009 (made at the next change).
    Column("text_digest", LargeBinary, nullable=True),
    Index("ix_item_search_tsv", "tsv", postgresql_using="gin"),
    # The list indexes carry the facet and visibility columns: a filtered list with its facets is an
    # index-only scan.
    Index(
        "ix_item_search_status_sort",
        "status",
        text("sort_on DESC"),
        text("item_id DESC"),
        postgresql_include=["organization_id", "category_id", "kind", "year", "validity"],
    ),
    Index(
        "ix_item_search_org_kind_year_sort",
        "organization_id",
        "kind",
        "year",
        text("sort_on DESC"),
        text("item_id DESC"),
        postgresql_include=["category_id", "validity", "status"],
    ),
    Index(
        "ix_item_search_category_sort",
        "category_id",
        text("sort_on DESC"),
        text("item_id DESC"),
        postgresql_include=["organization_id", "kind", "year", "validity", "status"],
    ),
    Index("ix_item_search_document_number", "document_number"),
)

#: The facets, in the order the answer lists them.
FACETS = ("organization_id", "category_id", "kind", "year", "validity")


class SearchOrder(StrEnum):
    relevance = "relevance"  # 相关度
    date = "date"  # 日期（新→旧）


@dataclass(frozen=True)
class SearchFilters:
    organization_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    kind: str | None = None
    year: int | None = None
    validity: str | None = None
    document_number: str | None = None  # 文号, exact (normalised by the caller)


@dataclass
class SearchHit:
    item_id: uuid.UUID
    title: str
    title_highlighted: str
    snippet: str
    organization_id: uuid.UUID
    category_id: uuid.UUID | None
    kind: str
    status: str
    validity: str
    document_number: str | None
    published_on: dt.date | None
    sort_on: dt.date
    rank: float | None


@dataclass
class SearchResult:
    hits: list[SearchHit]
    next_cursor: str | None
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)
    #: "index" (the tantivy index answered) or "database" (PostgreSQL did).
    served_by: str = "database"


# --------------------------------------------------------------------------------------------
# The search document
# --------------------------------------------------------------------------------------------


def tsvector_literal(parts: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A tsvector literal of weighted token lists ``[("A", tokens), ("B", tokens), …]``.

    Positions run on from part to part, as ``setweight(to_tsvector('simple', a), 'A') || …`` numbers
    them: each token takes the next position (capped at 16383), a lexeme keeps its first 256
    positions. Tokens hold only letters and digits (:func:`gongkai_shared.text.search_tokens`), so
    none needs quoting beyond the literal's own quotes.
    """
    positions: dict[str, list[str]] = {}
    offset = 0
    for weight, tokens in parts:
        last = 0
        for i, token in enumerate(tokens, start=1):
            pos = min(offset + min(i, MAX_POSITION), MAX_POSITION)
            last = pos
            entry = positions.setdefault(token, [])
            if len(entry) < MAX_POSITIONS_PER_LEXEME:
                entry.append(f"{pos}{weight}")
        if tokens:
            offset = last
    return " ".join(
        "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(p) for lexeme, p in positions.items()
    )


def document_parts(
    *,
    title: str,
    document_number: str | None,
    keywords: Iterable[str],
    summary: str | None,
    body: str,
    attachment_texts: Iterable[str] = (),
) -> list[tuple[str, list[str]]]:
    """The weighted token lists of an item (A: title, 文号, 主题词; B: 内容概述; C: body, attachments)."""
    numbers = " ".join([document_number or "", *keywords])
    body_tokens = search_tokens(body)
    for extra in attachment_texts:
        body_tokens.extend(search_tokens(extra))
    return [
        ("A", search_tokens(title)),
        ("A", search_tokens(numbers)),
        ("B", search_tokens(summary or "")),
        ("C", body_tokens[:MAX_BODY_TOKENS]),
    ]


def _year_and_sort(item: Any) -> tuple[int | None, dt.date]:
    created = getattr(item, "created_at", None)
    # Dates are China dates (docs/decisions.md), whatever the server's time zone.
    fallback = china_date_of(created) if isinstance(created, dt.datetime) else china_today()
    if item.published_on is not None:
        return item.published_on.year, item.published_on
    first = item.written_on or item.formed_on
    return (first.year if first else None), (first or fallback)


def plain_columns(item: Any) -> dict[str, Any]:
    """The ``item_search`` columns other than the key and the search document: filters, facets, dates."""
    year, sort_on = _year_and_sort(item)
    return {
        "organization_id": item.organization_id,
        "category_id": item.category_id,
        "kind": str(item.kind),
        "status": str(item.status),
        "validity": str(item.validity),
        "year": year,
        "published_on": item.published_on,
        "sort_on": sort_on,
        "document_number": item.document_number,
        "title": item.title,
    }


def search_row(
    item: Any, *, attachment_texts: Iterable[str] = (), parts: list[tuple[str, list[str]]] | None = None
) -> dict[str, Any]:
    """The ``item_search`` row of an item (an ``Item`` or anything with its attributes).

    ``parts``: the item's :func:`document_parts`, when the caller has them already.
    """
    parts = parts or document_parts(
        title=item.title,
        document_number=item.document_number,
        keywords=item.keywords or (),
        summary=item.summary,
        body=item.body or "",
        attachment_texts=attachment_texts,
    )
    return {
        "item_id": item.id,
        **plain_columns(item),
        "tsv": tsvector_literal(parts),
        # The A and B parts come first, so their positions are those in ``tsv``: ts_filter(tsv, '{a,b}').
        "head": tsvector_literal([p for p in parts if p[0] in ("A", "B")]),
    }


async def _attachment_texts(session: AsyncSession, item_id: uuid.UUID) -> list[str]:
    """Text attachments (``text/*``) are searchable; other types are not read (no extraction yet)."""
    rows = await session.execute(
        select(Attachment.data)
        .where(Attachment.item_id == item_id, Attachment.content_type.like("text/%"))
        .order_by(Attachment.id)
    )
    return [bytes(data[:ATTACHMENT_TEXT_BYTES]).decode("utf-8", errors="replace") for (data,) in rows]


#: Part of every :func:`text_digest`: raise it when the search document of the same text changes (the
#: segmentation, the weights, MAX_BODY_TOKENS), so that every row is rebuilt at its next change.
SEARCH_DOCUMENT_VERSION = 1


def text_digest(item: Any, attachment_texts: Iterable[str] = ()) -> bytes:
    """A digest of everything the item's search document (``tsv``, ``head``) is made from."""
    digest = hashlib.blake2b(digest_size=16)
    keywords = list(item.keywords or ())
    # Every field length-prefixed and the keywords counted: no two different items give the same bytes.
    fields = [
        str(SEARCH_DOCUMENT_VERSION),
        item.title,
        item.document_number or "",
        str(len(keywords)),
        *keywords,
        item.summary or "",
        item.body or "",
        *attachment_texts,
    ]
    for value in fields:
        data = value.encode("utf-8", errors="surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.digest()


async def index_item(session: AsyncSession, item: Item) -> None:
    """Write (upsert) the item's search row; call it in the transaction of every change of the item.

    When the text the search document is made from is what the row was made from (:func:`text_digest`:
    a review step, publication, withdrawal, expiry), only the other columns are updated, in one statement,
    and the text is not segmented again."""
    await session.flush()  # the item row must exist before its search row references it
    texts = await _attachment_texts(session, item.id)
    digest = text_digest(item, texts)
    same_text = await session.execute(
        update(item_search)
        .where(item_search.c.item_id == item.id, item_search.c.text_digest == digest)
        .values(**plain_columns(item))
        .returning(item_search.c.item_id)
    )
    if same_text.first() is not None:
        return
    row = search_row(item, attachment_texts=texts)
    row["text_digest"] = digest
    stmt = insert(item_search).values(
        **{
            **row,
            "tsv": cast(literal(row["tsv"], String), TSVECTOR),
            "head": cast(literal(row["head"], String), TSVECTOR),
        }
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[item_search.c.item_id],
        set_={c: stmt.excluded[c] for c in row if c != "item_id"},
    )
    await session.execute(stmt)


async def unindex_item(session: AsyncSession, item_id: uuid.UUID) -> None:
    """Remove the item's search row (deleting the item also removes it: ON DELETE CASCADE)."""
    await session.execute(delete(item_search).where(item_search.c.item_id == item_id))


async def reindex_items(session: AsyncSession, item_ids: Iterable[uuid.UUID]) -> int:
    """Re-index the given items (after a bulk change such as the expiry sweep); returns how many."""
    ids = list(item_ids)
    if not ids:
        return 0
    items = (await session.scalars(select(Item).where(Item.id.in_(ids)))).all()
    for item in items:
        await index_item(session, item)
    return len(items)


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


def query_terms(q: str) -> list[str]:
    """The terms an AND query for ``q`` asks for (what :func:`gongkai_shared.text.tsquery_text` quotes)."""
    tsq = tsquery_text(q)
    if not tsq:
        return []
    return [t[1:-1].replace("''", "'") for t in tsq.split(" & ")]


def _visibility_rule(principal: Principal) -> tuple[str, uuid.UUID | None]:
    """The public sees published items; staff also their department's others; office and admin all."""
    if principal.has_any(Role.office, Role.admin):
        return ("all", None)
    if principal.department_id is not None and not principal.is_anonymous:
        return ("published_or", principal.department_id)
    return ("published", None)


class _Args(list[Any]):
    """The positional arguments of a statement sent through the driver: ``add`` returns the placeholder."""

    def add(self, value: Any) -> str:
        self.append(value)
        return f"${len(self)}"


def _conditions(principal: Principal, filters: SearchFilters, args: _Args) -> list[str]:
    mode, department = _visibility_rule(principal)
    out = []
    if mode == "published_or":
        out.append(f"(s.status = 'published' OR s.organization_id = {args.add(department)})")
    elif mode == "published":
        out.append("s.status = 'published'")
    for column in ("organization_id", "category_id", "kind", "year", "validity", "document_number"):
        value = getattr(filters, column)
        if value is not None:
            value = str(value) if column in ("kind", "validity") else value
            out.append(f"s.{column} = {args.add(value)}")
    return out or ["TRUE"]


async def _fetch(session: AsyncSession, sql: str, args: Sequence[Any]) -> list[Any]:
    """Run one read statement on the session's connection through the driver (asyncpg) itself.

    Measured on the catalog benchmark's filtered lists (bench/README.md): the statement takes ~0.4 ms in
    PostgreSQL, SQLAlchemy's text execution and row mapping ~1 ms of CPU around it, and the BEGIN and
    COMMIT of the request's transaction two more round trips. Through the driver, with nothing else done
    in the session, the statement is the only round trip: SQLAlchemy's asyncpg adapter begins its
    transaction lazily, with its own first statement, so none is open and none is committed. When the
    session already began one, the statement runs inside it. Either way one statement reads one snapshot.
    """
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    return list(await raw.fetch(sql, *args))


@dataclass(frozen=True)
class _Ask:
    """A validated search: the question both paths (index, PostgreSQL) answer alike."""

    principal: Principal
    filters: SearchFilters
    terms: list[str]
    tsq: str | None
    ranked: bool
    limit: int
    #: (tier, sort_on, item_id) after which the page starts; tier is None in date order.
    cursor: tuple[int | None, dt.date, uuid.UUID] | None
    facets: bool


def _parse_cursor(cursor: str | None, ranked: bool) -> tuple[int | None, dt.date, uuid.UUID] | None:
    if not cursor:
        return None
    values = decode_cursor(cursor)
    if len(values) != (3 if ranked else 2):
        raise ValidationFailed.for_field("query.cursor", "游标无效", "cursor_invalid")
    try:
        tier = None
        if ranked:
            key = float(values[0])
            if not key.is_integer() or not 0 <= key <= 2:
                raise ValueError
            tier = int(key)
        return tier, dt.date.fromisoformat(values[-2]), uuid.UUID(values[-1])
    except (TypeError, ValueError):
        raise ValidationFailed.for_field("query.cursor", "游标无效", "cursor_invalid") from None


async def search(
    session: AsyncSession,
    principal: Principal,
    q: str | None,
    filters: SearchFilters,
    order: SearchOrder,
    *,
    limit: int = 20,
    cursor: str | None = None,
    facets: bool = True,
    index: SearchIndexReader | None = None,
) -> SearchResult:
    """Search (``q``) or list (no ``q``) the items the principal may see.

    ``q`` of only stop words or punctuation is a 422 naming ``query.q``. Relevance order needs ``q``.
    Facets and ``total`` count the whole matching set, not the page. ``index``: the tantivy index, used
    when it is exactly as fresh as PostgreSQL (:func:`_search_index`); the answer is the same either way.
    """
    terms: list[str] = []
    tsq = None
    if q is not None and q.strip():
        tsq = tsquery_text(q)
        if not tsq:
            raise ValidationFailed.for_field("query.q", "检索词只有标点或虚词，请换用实词检索", "query_empty")
        terms = query_terms(q)
    elif q is not None:
        raise ValidationFailed.for_field("query.q", "检索词不能为空", "query_empty")
    ranked = order is SearchOrder.relevance
    if ranked and not terms:
        raise ValidationFailed.for_field("query.order", "按相关度排序需要检索词", "order_needs_query")
    ask = _Ask(principal, filters, terms, tsq, ranked, limit, _parse_cursor(cursor, ranked), facets)
    if index is not None and (terms or INDEX_SERVES_LISTS):
        result = await _search_index(session, index, ask)
        if result is not None:
            return result
    return await _search_database(session, ask)


#: Whether filtered lists without ``q`` are answered from the index too. Measured (bench/README.md,
#: catalog_search, 200,000 items): no; the PostgreSQL path, an index-only scan of a list index and one
#: statement, took 3.8 / 5.0 ms (p50 / p99) against 5.6 / 8.0 ms through the index (tantivy itself is
#: ~1 ms; the second statement for the page's rows and the thread hop cost more than they save).
INDEX_SERVES_LISTS = False


def _tier_sql() -> str:
    # Relevance tiers (module docstring): every term in A (title, 文号, 主题词): 2; every term in head (A or
    # B, 内容概述): 1; else 0. ``head`` holds the A and B parts with their weights; it is inline and small.
    return "(CASE WHEN s.head @@ tq.qa THEN 2 WHEN s.head @@ tq.q THEN 1 ELSE 0 END)"


async def _search_database(session: AsyncSession, ask: _Ask) -> SearchResult:
    """The PostgreSQL path: ``item_search`` with its GIN and list indexes."""
    args = _Args()
    conditions = _conditions(ask.principal, ask.filters, args)
    ranked, terms = ask.ranked, ask.terms
    source = "item_search s"
    if terms:
        # The query is parsed once (a FROM item), not once per row under a generic prepared plan.
        tsq = args.add(ask.tsq)
        tsqa = args.add(" & ".join("'" + t.replace("'", "''") + "':A" for t in terms))
        source = f"item_search s, (SELECT to_tsquery('simple', {tsq}) AS q, to_tsquery('simple', {tsqa}) AS qa) tq"
        conditions.append("s.tsv @@ tq.q")
    sort_expr = _tier_sql() if ranked else "s.sort_on"
    # Relevance: the tier, then the date, then the id. Date order: the date, then the id. The order's columns
    # are the keyset's.
    order_columns = ("key", "sort_on", "item_id") if ranked else ("key", "item_id")
    # The cursor's bound, compared with the order's columns.
    bound = ""
    if ask.cursor is not None:
        tier, date, item_id = ask.cursor
        bound = f"{args.add(date)}::date, {args.add(item_id)}::uuid"
        if ranked:
            bound = f"{args.add(tier)}::int, {bound}"
    where_keyset = f"WHERE ({', '.join(order_columns)}) < ({bound})" if bound else ""
    limit = args.add(ask.limit + 1)
    order_by = ", ".join(f"{c} DESC" for c in order_columns)
    where = " AND ".join(conditions)
    # Only columns the list indexes carry (0007), so that a filtered list is an index-only scan; the page's
    # title, 文号, 发布日期 and text come from items (the same values: index_item copies them).
    columns = "s.item_id, s.organization_id, s.category_id, s.kind, s.status, s.validity, s.year, s.sort_on"
    page_columns = "p.*, i.title, i.document_number, i.published_on, " + _text_columns(terms)
    if ask.facets and not terms:
        # A list: the page straight from a list index in its order (no sort, no materialised set), the facet
        # counts from a second index-only scan of the same range. Measured at 1,000,000 items (bench/README.md,
        # catalog_search): half the planning and execution time of the one-scan form below.
        page_keyset = f"AND (s.sort_on, s.item_id) < ({bound})" if bound else ""
        sql = f"""
        SELECT 'p' AS part, p.item_id, p.organization_id, p.category_id, p.kind, p.status, p.validity, p.year,
               i.published_on, p.sort_on, i.document_number, i.title, p.sort_on AS key, {_text_columns(terms)},
               NULL::bigint AS n, NULL::int AS g
        FROM (SELECT {columns} FROM item_search s WHERE {where} {page_keyset}
              ORDER BY s.sort_on DESC, s.item_id DESC LIMIT {limit}) p
        JOIN items i ON i.id = p.item_id
        UNION ALL
        SELECT 'f', NULL, organization_id, category_id, kind, NULL, validity, year, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, count(*), GROUPING(organization_id, category_id, kind, year, validity)
        FROM item_search s WHERE {where}
        GROUP BY GROUPING SETS ((organization_id), (category_id), (kind), (year), (validity), ())
        """
    elif ask.facets:
        # One scan of the matching rows feeds both the page and the facet counts.
        sql = f"""
        WITH m AS MATERIALIZED (SELECT {columns}, {sort_expr} AS key FROM {source} WHERE {where}),
        page AS (SELECT {page_columns}
                 FROM (SELECT * FROM m {where_keyset} ORDER BY {order_by} LIMIT {limit}) p
                 JOIN items i ON i.id = p.item_id),
        f AS (SELECT organization_id, category_id, kind, year, validity, count(*) AS n,
                     GROUPING(organization_id, category_id, kind, year, validity) AS g
              FROM m GROUP BY GROUPING SETS ((organization_id), (category_id), (kind), (year), (validity), ()))
        SELECT 'p' AS part, item_id, organization_id, category_id, kind, status, validity, year, published_on,
               sort_on, document_number, title, key, summary, body, NULL::bigint AS n, NULL::int AS g FROM page
        UNION ALL
        SELECT 'f', NULL, organization_id, category_id, kind, NULL, validity, year, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, n, g
        FROM f
        """
    else:
        sql = f"""
        SELECT 'p' AS part, {page_columns}
        FROM (SELECT * FROM (SELECT {columns}, {sort_expr} AS key FROM {source} WHERE {where}) m
              {where_keyset} ORDER BY {order_by} LIMIT {limit}) p
        JOIN items i ON i.id = p.item_id
        """
    rows = await _fetch(session, sql, args)
    page = [r for r in rows if r["part"] == "p"]
    page.sort(key=lambda r: tuple(r[c] for c in order_columns), reverse=True)
    facet_counts: dict[str, dict[str, int]] = {name: {} for name in FACETS} if ask.facets else {}
    total = 0
    # GROUPING() sets a bit per column left out, the first column the highest bit.
    bit = {name: 1 << (len(FACETS) - 1 - i) for i, name in enumerate(FACETS)}
    for r in rows:
        if r["part"] != "f":
            continue
        if r["g"] == (1 << len(FACETS)) - 1:
            total = r["n"]
            continue
        for name in FACETS:
            if not r["g"] & bit[name]:
                value = r[name]
                facet_counts[name]["" if value is None else str(value)] = r["n"]
    return await _result(session, ask, page, total if ask.facets else -1, facet_counts, "database")


async def _result(
    session: AsyncSession,
    ask: _Ask,
    page: list[Any],
    total: int,
    facet_counts: dict[str, dict[str, int]],
    served_by: str,
) -> SearchResult:
    next_cursor = None
    if len(page) > ask.limit:
        page = page[: ask.limit]
        last = page[-1]
        next_cursor = encode_cursor(
            [last["key"], last["sort_on"].isoformat(), str(last["item_id"])]
            if ask.ranked
            else [last["sort_on"].isoformat(), str(last["item_id"])]
        )
    hits = await _hits(session, page, ask.terms, ask.ranked)
    return SearchResult(
        hits=hits, next_cursor=next_cursor, total=total, facets=facet_counts, terms=ask.terms, served_by=served_by
    )


#: The page's rows by id, and in the same snapshot what decides whether the index may answer: the change
#: number and database id (migration 0008), and the query as PostgreSQL parses it.
_INDEX_PAGE_SQL = """
SELECT st.last_seq AS state_seq, st.index_id AS state_index_id,
       CASE WHEN $1::text IS NULL THEN NULL ELSE to_tsquery('simple', $1::text)::text END AS parsed_query,
       p.*
FROM item_search_state st
LEFT JOIN LATERAL (
    SELECT s.item_id, s.organization_id, s.category_id, s.kind, s.status, s.validity, s.year, s.sort_on,
           i.title, i.document_number, i.published_on, {text_columns}
    FROM item_search s JOIN items i ON i.id = s.item_id
    WHERE s.item_id = ANY($2::uuid[])
) p ON TRUE
WHERE st.id = 1
"""


def _text_columns(terms: Sequence[str]) -> str:
    """The page's summary and body: whole when the snippet looks for the terms, else only the start that a
    snippet without terms shows (a policy's body can run to tens of thousands of characters)."""
    if terms:
        return "i.summary, i.body"
    n = SNIPPET_CHARS + 1  # one more, so that the snippet knows the text goes on ("…")
    return f"left(i.summary, {n}) AS summary, left(i.body, {n}) AS body"


#: After the index was found behind, requests on the same searcher go straight to PostgreSQL this long (s).
BEHIND_RECHECK_SECONDS = 0.5


async def _search_index(session: AsyncSession, index: SearchIndexReader, ask: _Ask) -> SearchResult | None:
    """The index path (gongkai_catalog/search_index.py), or None when PostgreSQL must answer.

    The index answers only when it has applied exactly the change number PostgreSQL shows in the statement
    that reads the page's rows, for this database (``index_id``), and when PostgreSQL parses the query into
    the same AND of terms. Otherwise: None (the caller runs the PostgreSQL path; the reason is counted and
    logged), so the answer never depends on the index being current.
    """
    snapshot = index.snapshot()
    if snapshot is None:
        return _fallback(index, "missing")
    if index.behind is not None and index.behind[0] is snapshot and time.monotonic() < index.behind[1]:
        return _fallback(index, "behind")
    filters = {
        name: (str(value) if isinstance(value, uuid.UUID) else value)
        for name, value in (
            ("org", ask.filters.organization_id),
            ("cat", ask.filters.category_id),
            ("kind", ask.filters.kind),
            ("year", ask.filters.year),
            ("validity", ask.filters.validity),
            ("docno", ask.filters.document_number),
        )
        if value is not None
    }
    query = IndexQuery(
        terms=ask.terms,
        visibility=_visibility_rule(ask.principal),
        filters=filters,
        ranked=ask.ranked,
        limit=ask.limit,
        cursor=ask.cursor,
        facets=ask.facets,
    )
    try:
        answer = await asyncio.to_thread(execute_index_query, snapshot, query)
    except Exception as exc:  # a damaged index must not fail a search
        log.warning("search_index_query_failed", error=repr(exc)[:300])
        return _fallback(index, "error")
    sql = _INDEX_PAGE_SQL.format(text_columns=_text_columns(ask.terms))
    rows = await _fetch(session, sql, (ask.tsq, [i for _, _, i in answer.page]))
    state = rows[0] if rows else {"state_index_id": None}
    if state["state_index_id"] != snapshot.index_id:
        return _fallback(index, "foreign")
    if state["state_seq"] != snapshot.applied_seq:
        if state["state_seq"] > snapshot.applied_seq:
            index.behind = (snapshot, time.monotonic() + BEHIND_RECHECK_SECONDS)
            return _fallback(index, "behind")
        return _fallback(index, "ahead")
    if ask.tsq is not None and state["parsed_query"] != ask.tsq:
        return _fallback(index, "query")
    by_id = {r["item_id"]: r for r in rows if r["item_id"] is not None}
    page = []
    for tier, _, item_id in answer.page:
        row = by_id.get(item_id)
        if row is None:  # cannot happen at the same change number; answer from PostgreSQL if it does
            return _fallback(index, "inconsistent")
        page.append({**row, "key": tier})
    index.count("index")
    return await _result(session, ask, page, answer.total, answer.facets, "index")


_fallback_logged: dict[str, float] = {}


def _fallback(index: SearchIndexReader, reason: str) -> None:
    """Count the reason; log it, at most once per reason every 10 s, with how many since."""
    index.count(reason)
    now = time.monotonic()
    if now - _fallback_logged.get(reason, 0.0) >= 10.0:
        _fallback_logged[reason] = now
        log.info("search_index_fallback", reason=reason, counts=dict(index.counters))
    return None


async def _hits(session: AsyncSession, page: list[Any], terms: list[str], ranked: bool) -> list[SearchHit]:
    out = []
    for r in page:
        snippet = best_snippet([r["summary"] or "", r["body"] or ""], terms)
        out.append(
            SearchHit(
                item_id=r["item_id"],
                title=r["title"],
                title_highlighted=highlight(r["title"], terms) if terms else html.escape(r["title"]),
                snippet=snippet,
                organization_id=r["organization_id"],
                category_id=r["category_id"],
                kind=r["kind"],
                status=r["status"],
                validity=r["validity"],
                document_number=r["document_number"],
                published_on=r["published_on"],
                sort_on=r["sort_on"],
                rank=float(r["key"]) if ranked else None,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Snippets: the query's terms marked in the original text
# --------------------------------------------------------------------------------------------

_SPACE = re.compile(r"\s")


def _normalized_with_offsets(original: str) -> tuple[str, list[int]]:
    """The text as :func:`normalize` sees it, and for each of its characters the original offset.

    Character by character NFKC and lower case (what ``normalize`` does to the whole text; the
    composed forms that differ are outside CJK and ASCII), whitespace runs as one space.
    """
    chars: list[str] = []
    offsets: list[int] = []
    in_space = False
    for i, ch in enumerate(original):
        if _SPACE.match(ch):
            if not in_space:
                chars.append(" ")
                offsets.append(i)
            in_space = True
            continue
        in_space = False
        for n in unicodedata.normalize("NFKC", ch).lower():
            chars.append(n)
            offsets.append(i)
    return "".join(chars), offsets


def _term_spans(original: str, terms: Sequence[str]) -> list[tuple[int, int, int]]:
    """(start, end, term index) in the original text of every occurrence of a term (after normalisation).

    Fast path: when normalising keeps the length (full-width punctuation and letters map one to one),
    offsets are the same in both texts; each hit is checked, and any doubt takes the slow path that
    maps every character.
    """
    norm = normalize(original)
    if len(norm) == len(original):
        out = []
        for k, term in enumerate(terms):
            at = norm.find(term) if term else -1
            while at != -1:
                end = at + len(term)
                piece = original[at:end]
                if piece != term and unicodedata.normalize("NFKC", piece).lower() != term:
                    break
                out.append((at, end, k))
                at = norm.find(term, at + 1)
            else:
                continue
            break
        else:
            return sorted(out)
    norm, offsets = _normalized_with_offsets(original)
    out = []
    for k, term in enumerate(terms):
        at = norm.find(term) if term else -1
        while at != -1:
            out.append((offsets[at], offsets[at + len(term) - 1] + 1, k))
            at = norm.find(term, at + 1)
    return sorted(out)


def _merge(spans: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end, _ in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _mark(original: str, spans: Sequence[tuple[int, int]], start: int, end: int) -> str:
    out, at = [], start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(original[at:s]))
        out.append("<mark>" + html.escape(original[s:e]) + "</mark>")
        at = e
    out.append(html.escape(original[at:end]))
    return "".join(out)


def highlight(original: str, terms: Sequence[str]) -> str:
    """``original`` HTML-escaped with every occurrence of the terms in ``<mark>``."""
    return _mark(original, _merge(_term_spans(original, terms)), 0, len(original))


def best_snippet(texts: Sequence[str], terms: Sequence[str], *, width: int = SNIPPET_CHARS) -> str:
    """A window of about ``width`` characters of the texts holding the most distinct terms, marked.

    Cut from the original characters (HTML-escaped, the terms in ``<mark>``), with "…" where it is
    cut. Without any term in the texts: the start of the first non-empty text.
    """
    if not terms:  # the start of the first non-empty text (what the search below finds, without the search)
        for original in texts:
            if original:
                end = min(len(original), width)
                return html.escape(original[:end]) + ("…" if end < len(original) else "")
        return ""
    best: tuple[int, int, int] | None = None  # (distinct terms, -text index, -start)
    chosen: tuple[str, list[tuple[int, int, int]]] = ("", [])
    for index, original in enumerate(texts):
        if not original:
            continue
        spans = _term_spans(original, terms) if terms else []
        starts = [a for a, _, _ in spans]
        for s, _, _ in spans[:200] or [(0, 0, 0)]:
            start = max(0, s - width // 4)
            # The spans inside [start, start + width]: sorted by start, so from the first at or after it.
            inside = set()
            for a, b, k in spans[bisect.bisect_left(starts, start) :]:
                if a > start + width:
                    break
                if b <= start + width:
                    inside.add(k)
            candidate = (len(inside), -index, -start)
            if best is None or candidate > best:
                best, chosen = candidate, (original, spans)
                if len(inside) == len(terms):
                    break  # every term: no later window (larger start, later text) can be preferred
        if best is not None and terms and best[0] == len(terms):
            break
    if best is None:
        return ""
    original, spans = chosen
    start = -best[2]
    end = min(len(original), start + width)
    return (
        ("…" if start > 0 else "") + _mark(original, _merge(spans), start, end) + ("…" if end < len(original) else "")
    )
