"""Catalog search and feeds (issue 3 points 9-10) on real PostgreSQL, through the catalog's ASGI app.

条例 art. 24: the public platform must support retrieval (检索), reading and download. Only published
information is public (条例 art. 17 先审查后公开: drafts are not); staff see their own department's
drafts as well. The items are written with the ORM and indexed with ``index_item`` as the catalog's
service does in the same transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import migrate
from gongkai_catalog.models import Attachment, Category, Item, ItemKind, ItemStatus, Organization, Validity
from gongkai_catalog.search import index_item, item_search, search_row, tsvector_literal, unindex_item
from gongkai_catalog.search_api import router as search_router
from gongkai_catalog.settings import CatalogSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.service import create_service_app
from gongkai_shared.timeutil import china_date_of
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ATOM = "{http://www.w3.org/2005/Atom}"
GJJ_TITLE = "关于调整住房公积金缴存基数的通知"
PAGED = 23  # extra published items that mention 公积金, for paging


class World:
    def __init__(self) -> None:
        self.maker: async_sessionmaker[AsyncSession]
        self.client: httpx.AsyncClient
        self.org_a = uuid.uuid4()
        self.org_b = uuid.uuid4()
        self.category = uuid.uuid4()
        self.ids: dict[str, uuid.UUID] = {}
        self.signer = TokenSigner(CatalogSettings().jwt_secret.get_secret_value())

    def auth(self, *roles: Role, department: uuid.UUID | None = None) -> dict[str, str]:
        principal = Principal(subject=f"u-{uuid.uuid4().hex[:6]}", roles=frozenset(roles), department_id=department)
        return {"Authorization": f"Bearer {self.signer.issue(principal)}"}

    async def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        return await self.client.get(path, params={k: v for k, v in params.items() if v is not None}, headers=headers)


def _item(world: World, key: str, org: uuid.UUID, title: str, body: str, **kw: Any) -> Item:
    status = kw.pop("status", ItemStatus.published)
    published_on = kw.pop("published_on", dt.date(2024, 7, 1) if status == ItemStatus.published else None)
    item = Item(
        organization_id=org,
        title=title,
        body=body,
        kind=kw.pop("kind", ItemKind.normative_document),
        status=status,
        published_on=published_on,
        published_at=(
            dt.datetime.combine(published_on, dt.time(9, kw.pop("minute", 0)), tzinfo=dt.UTC) if published_on else None
        ),
        validity=kw.pop("validity", Validity.effective),
        keywords=kw.pop("keywords", []),
        created_by="test",
        **kw,
    )
    world.ids[key] = item.id = uuid.uuid4()
    return item


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    url = await asyncio.to_thread(migrate, "catalog")
    engine = create_engine(url)
    w = World()
    w.maker = make_sessionmaker(engine)
    async with w.maker() as session, session.begin():
        await session.execute(text("DELETE FROM item_search"))
        session.add_all(
            [
                Organization(id=w.org_a, name="示范市住房和城乡建设局"),
                Organization(id=w.org_b, name="示范市生态环境局"),
                Category(id=w.category, name="住房保障"),
            ]
        )
        await session.flush()
        items = [
            _item(
                w,
                "gjj",
                w.org_a,
                GJJ_TITLE,
                "为保障职工合法权益，根据《住房公积金管理条例》，现将2024年度缴存基数调整事项通知如下。",
                summary="2024年度住房公积金缴存基数上限为本市上年度职工月平均工资的3倍。",
                document_number="示范房发〔2024〕3号",
                category_id=w.category,
                keywords=["公积金", "缴存"],
                minute=30,
            ),
            _item(
                w,
                "env",
                w.org_b,
                "示范市生态环境保护条例实施办法",
                "第一条 为了加强生态环境保护，改善大气和水环境质量，制定本办法。",
                kind=ItemKind.regulation,
                published_on=dt.date(2023, 3, 15),
            ),
            _item(
                w,
                "fullwidth",
                w.org_b,
                "关于ＡＰＰ服务升级的公告",
                "ＡＰＰ将于２０２４年８月１日升级，届时暂停服务两小时。",
                kind=ItemKind.work_news,
                published_on=dt.date(2024, 7, 20),
            ),
            _item(
                w,
                "draft_a",
                w.org_a,
                "住房公积金提取办法（征求意见稿）",
                "本办法所称住房公积金提取，是指缴存职工提取本人住房公积金账户存储余额的行为。",
                status=ItemStatus.draft,
                written_on=dt.date(2025, 1, 5),
            ),
            _item(
                w,
                "draft_b",
                w.org_b,
                "生态补偿与住房公积金衔接的内部稿",
                "住房公积金与生态补偿资金衔接的初步设想。",
                status=ItemStatus.in_review,
                written_on=dt.date(2025, 2, 1),
            ),
            _item(
                w,
                "escape",
                w.org_a,
                "关于<script>与“&”符号\x0b的住房公积金测试公告",
                "公积金<b>测试</b> & 转义。",
                kind=ItemKind.work_news,
                published_on=dt.date(2024, 12, 31),
            ),
        ]
        kinds = [ItemKind.normative_document, ItemKind.policy_document, ItemKind.work_news]
        for n in range(PAGED):
            items.append(
                _item(
                    w,
                    f"paged{n}",
                    w.org_a if n % 2 else w.org_b,
                    f"第{n}号公积金业务通告",
                    "公积金" * (1 + n % 4) + "业务办理时间调整，请缴存单位留意。",
                    kind=kinds[n % 3],
                    # several share a day: the keyset must break ties by id
                    published_on=dt.date(2022 + n % 3, 1 + n % 5, 1),
                    minute=n,
                )
            )
        session.add_all(items)
        await session.flush()
        session.add(
            Attachment(
                item_id=w.ids["env"],
                filename="说明.txt",
                content_type="text/plain; charset=utf-8",
                size=0,
                sha256="0" * 64,
                data="附件：秸秆禁烧与扬尘治理的实施细则。".encode(),
                created_by="test",
            )
        )
        await session.flush()
        for item in items:
            await index_item(session, item)
    app = create_service_app(
        settings=CatalogSettings(), title="catalog-search-test", description="", routers=[search_router]
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog.test") as client:
            w.client = client
            yield w
    await engine.dispose()


def ids(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [hit["id"] for hit in resp.json()["items"]]


async def all_pages(world: World, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    out, cursor = [], None
    for _ in range(100):
        resp = await world.get("/search", headers, limit=4, cursor=cursor, **params)
        assert resp.status_code == 200, resp.text
        out.extend(resp.json()["items"])
        cursor = resp.json()["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("paging did not end")


# --------------------------------------------------------------------------------------------- finding


async def test_chinese_word_finds_item_by_title_body_and_document_number(world: World) -> None:
    """条例 art. 24 检索: 住房公积金 finds “关于调整住房公积金缴存基数的通知”; so do a body word and its 文号."""
    gjj = str(world.ids["gjj"])
    found = await world.get("/search", q="住房公积金")
    assert gjj in ids(found)
    assert found.json()["items"][0]["title"] in {GJJ_TITLE, "关于<script>与“&”符号\x0b的住房公积金测试公告"}
    assert gjj in ids(await world.get("/search", q="公积金"))  # a word inside the longer word
    assert ids(await world.get("/search", q="管理条例")) == [gjj]  # only in the body
    assert ids(await world.get("/search", q="示范房发〔2024〕3号")) == [gjj]  # 文号, typed as written
    assert ids(await world.get("/search", q="月平均工资")) == [gjj]  # only in the summary


async def test_two_terms_must_both_match(world: World) -> None:
    both = ids(await world.get("/search", q="住房公积金 缴存基数"))
    assert both == [str(world.ids["gjj"])]
    # each term alone matches more
    assert len(ids(await world.get("/search", q="缴存", limit=100))) > 1
    assert ids(await world.get("/search", q="公积金 大气")) == []


async def test_relevance_prefers_title_matches(world: World) -> None:
    """Weights: title/文号/主题词 (A) over summary (B) over body (C)."""
    hits = (await world.get("/search", q="生态环境")).json()["items"]
    assert hits[0]["id"] == str(world.ids["env"])
    assert hits[0]["rank"] > 0


async def test_relevance_ranks_title_and_summary_then_body_matches_by_date(world: World) -> None:
    """条例 art. 24 检索: relevance ranks title/文号/主题词/内容概述 matches (``head``) first; every match is
    still found, and matches only in the body follow, newest first (the documented approximation)."""
    body = (await world.get("/search", q="缴存", limit=100)).json()
    hits = body["items"]
    assert hits[0]["id"] == str(world.ids["gjj"]) and hits[0]["rank"] > 0  # 缴存 in its title and 主题词
    rest = hits[1:]
    assert {h["id"] for h in rest} == {str(world.ids[f"paged{n}"]) for n in range(PAGED)}  # only in their bodies
    assert all(h["rank"] == 0 for h in rest)
    assert [(h["date"], h["id"]) for h in rest] == sorted(((h["date"], h["id"]) for h in rest), reverse=True)
    assert body["total"] == len(hits) == 1 + PAGED


async def test_text_attachment_is_searchable(world: World) -> None:
    assert ids(await world.get("/search", q="秸秆禁烧")) == [str(world.ids["env"])]


async def test_full_width_and_case_normalised_in_documents_and_queries(world: World) -> None:
    fw = str(world.ids["fullwidth"])
    assert ids(await world.get("/search", q="app")) == [fw]
    assert ids(await world.get("/search", q="ＡＰＰ 升级")) == [fw]
    assert ids(await world.get("/search", q="App")) == [fw]


# --------------------------------------------------------------------------------------------- visibility


async def test_drafts_hidden_from_public_and_other_departments(world: World) -> None:
    """条例 art. 17 先审查后公开: the public sees published items only; staff see their department's drafts."""
    draft_a, draft_b = str(world.ids["draft_a"]), str(world.ids["draft_b"])
    public = ids(await world.get("/search", q="住房公积金", limit=100))
    assert draft_a not in public and draft_b not in public
    staff_a = ids(await world.get("/search", world.auth(Role.staff, department=world.org_a), q="住房公积金", limit=100))
    assert draft_a in staff_a and draft_b not in staff_a
    staff_b = ids(await world.get("/search", world.auth(Role.staff, department=world.org_b), q="住房公积金", limit=100))
    assert draft_b in staff_b and draft_a not in staff_b
    office = ids(await world.get("/search", world.auth(Role.office), q="住房公积金", limit=100))
    assert draft_a in office and draft_b in office
    # facets count only what the caller may see
    facets = (await world.get("/search", q="住房公积金")).json()
    assert facets["total"] == len(public)
    listed = ids(await world.get("/search", world.auth(Role.staff, department=world.org_a), limit=100))
    assert draft_a in listed and draft_b not in listed
    # a draft has a year and a date (its 成文日期) for filters and the date order
    hit = next(h for h in (await world.get("/search", world.auth(Role.office), q="提取办法")).json()["items"])
    assert hit["status"] == "draft" and hit["date"] == "2025-01-05" and hit["published_on"] is None


# --------------------------------------------------------------------------------------------- filters, facets


async def test_filters_and_facet_counts_add_up(world: World) -> None:
    body = (await world.get("/search", q="公积金", limit=100)).json()
    total = body["total"]
    assert total == len(body["items"]) >= PAGED
    for facet in ("organization_id", "kind", "year", "validity", "category_id"):
        assert sum(v["count"] for v in body["facets"][facet]) == total, facet
    orgs = {v["value"]: v for v in body["facets"]["organization_id"]}
    assert orgs[str(world.org_a)]["label"] == "示范市住房和城乡建设局"
    kinds = {v["value"]: v for v in body["facets"]["kind"]}
    assert kinds["normative_document"]["label"] == "行政规范性文件"
    # each filter value narrows to exactly its facet count
    for facet, param in (("organization_id", "organization_id"), ("kind", "kind"), ("year", "year")):
        for value in body["facets"][facet]:
            narrowed = (await world.get("/search", q="公积金", limit=100, **{param: value["value"]})).json()
            assert narrowed["total"] == value["count"] == len(narrowed["items"]), (facet, value)
    combined = await world.get(
        "/search", q="公积金", organization_id=str(world.org_a), kind="work_news", year=2024, limit=100
    )
    for hit in combined.json()["items"]:
        assert (hit["organization_id"], hit["kind"], hit["published_on"][:4]) == (str(world.org_a), "work_news", "2024")
    assert ids(await world.get("/search", q="公积金", category_id=str(world.category))) == [str(world.ids["gjj"])]
    assert ids(await world.get("/search", document_number="示范房发[2024]3号")) == [str(world.ids["gjj"])]
    assert ids(await world.get("/search", q="生态", validity="repealed")) == []


async def test_list_without_query_is_date_ordered_with_facets(world: World) -> None:
    body = (await world.get("/search", organization_id=str(world.org_a), limit=100)).json()
    dates = [h["date"] for h in body["items"]]
    assert dates == sorted(dates, reverse=True)
    assert body["total"] == len(body["items"]) == sum(v["count"] for v in body["facets"]["kind"])
    assert all(h["rank"] is None for h in body["items"])


# --------------------------------------------------------------------------------------------- paging


@pytest.mark.parametrize("order", ["relevance", "date"])
async def test_keyset_pages_cover_all_results_once(world: World, order: str) -> None:
    everything = (await world.get("/search", q="公积金", order=order, limit=100)).json()["items"]
    paged = await all_pages(world, q="公积金", order=order)
    assert [h["id"] for h in paged] == [h["id"] for h in everything]
    assert len({h["id"] for h in paged}) == len(paged) >= PAGED
    key = (lambda h: (h["rank"], h["date"], h["id"])) if order == "relevance" else (lambda h: (h["date"], h["id"]))
    keys = [key(h) for h in paged]
    assert keys == sorted(keys, reverse=True)


# --------------------------------------------------------------------------------------------- snippets


async def test_snippets_mark_terms_in_original_characters(world: World) -> None:
    hit = next(
        h for h in (await world.get("/search", q="缴存基数")).json()["items"] if h["id"] == str(world.ids["gjj"])
    )
    assert "<mark>缴存基数</mark>" in hit["snippet"]
    assert "<mark>缴存基数</mark>" in hit["title_highlighted"]
    # full-width text is shown as written, with the half-width query's match marked
    fw = (await world.get("/search", q="app 升级")).json()["items"][0]
    assert "<mark>ＡＰＰ</mark>" in fw["snippet"] and "<mark>升级</mark>" in fw["snippet"]
    assert "２０２４" in fw["snippet"]  # original characters, no spaces between tokens
    assert " " not in fw["snippet"]
    # markup in the text is escaped, only <mark> is ours
    esc = (await world.get("/search", q="转义")).json()["items"][0]
    assert "&lt;b&gt;" in esc["snippet"] and "<b>" not in esc["snippet"]
    assert "&lt;script&gt;" in esc["title_highlighted"]


# --------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "的了，。！？"}, "query.q"),
        ({"q": "   "}, "query.q"),
        ({"q": "……"}, "query.q"),
        ({"order": "relevance"}, "query.order"),
        ({"q": "公积金", "cursor": "not-a-cursor"}, "query.cursor"),
        ({"q": "公积金", "cursor": "WyJ4IiwieSJd"}, "query.cursor"),  # ["x","y"]
        ({"document_number": "不是文号"}, "query.document_number"),
        ({"kind": "poem"}, "query.kind"),
        ({"year": "1800"}, "query.year"),
        ({"limit": "0"}, "query.limit"),
        ({"organization_id": "xyz"}, "query.organization_id"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(world: World, params: dict[str, str], field: str) -> None:
    resp = await world.get("/search", **params)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in resp.json()["errors"]] == [field]


# --------------------------------------------------------------------------------------------- the index


async def test_tsvector_literal_equals_postgres_weighted_to_tsvector(world: World) -> None:
    """The literal written by index_item is what setweight(to_tsvector('simple', …)) || … computes."""
    async with world.maker() as session:
        items = (await session.scalars(select(Item).where(Item.id.in_(world.ids.values())))).all()
        for item in items:
            ours = search_row(item)["tsv"]
            from gongkai_catalog.search import document_parts

            parts = document_parts(
                title=item.title,
                document_number=item.document_number,
                keywords=item.keywords,
                summary=item.summary,
                body=item.body,
            )
            same = await session.scalar(
                text(
                    "SELECT CAST(:ours AS tsvector) = (setweight(to_tsvector('simple', :a1), 'A') || "
                    "setweight(to_tsvector('simple', :a2), 'A') || setweight(to_tsvector('simple', :b), 'B') || "
                    "setweight(to_tsvector('simple', :c), 'C'))"
                ),
                {
                    "ours": ours,
                    "a1": " ".join(parts[0][1]),
                    "a2": " ".join(parts[1][1]),
                    "b": " ".join(parts[2][1]),
                    "c": " ".join(parts[3][1]),
                },
            )
            assert same, item.title
        # head is the A and B parts of tsv, positions included (what migration 0007 backfills)
        differ = await session.scalar(
            text(
                "SELECT count(*) FROM item_search WHERE item_id = ANY(:ids) AND head IS DISTINCT FROM "
                "ts_filter(tsv, '{a,b}')"
            ),
            {"ids": list(world.ids.values())},
        )
        assert differ == 0
    assert tsvector_literal([("A", ["a", "b", "a"]), ("C", ["b"])]) == "'a':1A,3A 'b':2A,4C"


async def test_reindex_follows_changes_and_unindex_removes(world: World) -> None:
    async with world.maker() as session, session.begin():
        item = _item(
            world, "changing", world.org_b, "关于秋季森林防火的通告", "严禁野外用火。", published_on=dt.date(2024, 9, 1)
        )
        session.add(item)
        await index_item(session, item)
    assert ids(await world.get("/search", q="森林防火")) == [str(item.id)]
    async with world.maker() as session, session.begin():
        item = await session.get(Item, item.id)
        item.title = "关于冬季供暖保障的通告"
        item.validity = Validity.repealed
        await index_item(session, item)
    assert ids(await world.get("/search", q="森林防火")) == []
    hit = (await world.get("/search", q="供暖保障")).json()["items"][0]
    assert (hit["id"], hit["validity"]) == (str(item.id), "repealed")
    async with world.maker() as session, session.begin():
        await unindex_item(session, item.id)
    assert ids(await world.get("/search", q="供暖保障")) == []
    async with world.maker() as session, session.begin():
        await index_item(session, await session.get(Item, item.id))
        await session.delete(await session.get(Item, item.id))
    async with world.maker() as session:
        assert await session.scalar(select(item_search.c.item_id).where(item_search.c.item_id == item.id)) is None


# --------------------------------------------------------------------------------------------- feeds


async def test_atom_feed_per_organization_lists_latest_published(world: World) -> None:
    resp = await world.get("/feeds/atom", organization=str(world.org_a))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(resp.content)  # parses: everything escaped, control characters dropped
    assert root.tag == f"{ATOM}feed"
    assert "示范市住房和城乡建设局" in root.findtext(f"{ATOM}title")
    entries = root.findall(f"{ATOM}entry")
    async with world.maker() as session:
        expected = (
            await session.scalars(
                select(Item.id)
                .where(Item.organization_id == world.org_a, Item.status == ItemStatus.published)
                .order_by(Item.published_at.desc(), Item.id.desc())
                .limit(20)
            )
        ).all()
    assert [e.findtext(f"{ATOM}id") for e in entries] == [f"urn:uuid:{i}" for i in expected]
    assert 0 < len(entries) <= 20
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert "关于<script>与“&”符号的住房公积金测试公告" in titles  # the \x0b is dropped, the rest kept
    assert not any("征求意见稿" in t for t in titles)  # drafts are not published information
    gjj = next(e for e in entries if e.findtext(f"{ATOM}title") == GJJ_TITLE)
    assert gjj.find(f"{ATOM}link").get("href").endswith(f"/items/{world.ids['gjj']}")
    assert "示范房发〔2024〕3号" in gjj.findtext(f"{ATOM}summary")
    assert gjj.find(f"{ATOM}category").get("label") == "行政规范性文件"
    for e in entries:
        dt.datetime.fromisoformat(e.findtext(f"{ATOM}updated"))


async def test_atom_feed_links_point_at_the_gateway_when_proxied(world: World) -> None:
    """Behind the gateway (which sets X-Forwarded-Host/Proto) a subscriber must be able to follow the links."""
    resp = await world.client.get(
        "/feeds/atom",
        params={"organization": str(world.org_a)},
        headers={"X-Forwarded-Host": "gongkai.example.gov.cn", "X-Forwarded-Proto": "https"},
    )
    root = ET.fromstring(resp.content)
    base = "https://gongkai.example.gov.cn/api/v1/catalog/"
    assert root.find(f"{ATOM}link").get("href").startswith(base + "feeds/atom")
    hrefs = [e.find(f"{ATOM}link").get("href") for e in root.findall(f"{ATOM}entry")]
    assert hrefs and all(h.startswith(base + "items/") for h in hrefs)


async def test_atom_feed_per_category_and_bad_organization(world: World) -> None:
    root = ET.fromstring((await world.get("/feeds/atom", category=str(world.category))).content)
    assert [e.findtext(f"{ATOM}title") for e in root.findall(f"{ATOM}entry")] == [GJJ_TITLE]
    everything = ET.fromstring((await world.get("/feeds/atom")).content).findall(f"{ATOM}entry")
    assert len(everything) == 20
    resp = await world.get("/feeds/atom", organization=str(uuid.uuid4()))
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["query.organization"]


async def test_pages_without_facets_cover_all_results_once(world: World) -> None:
    everything = (await world.get("/search", q="公积金", limit=100)).json()["items"]
    paged = await all_pages(world, q="公积金", facets="false")
    assert [h["id"] for h in paged] == [h["id"] for h in everything]
    body = (await world.get("/search", q="公积金", facets="false")).json()
    assert body["total"] is None and body["facets"] == {}


@pytest.mark.parametrize("params", [{"q": "公积金"}, {"organization_id": "org_a"}])
async def test_facets_by_default_on_the_first_page_only(world: World, params: dict[str, str]) -> None:
    """Facets and total count the whole matching set: the first page has them, later pages only when asked."""
    params = {k: (str(world.org_a) if v == "org_a" else v) for k, v in params.items()}
    first = (await world.get("/search", limit=4, **params)).json()
    assert first["total"] > 4 and set(first["facets"]) == {"organization_id", "category_id", "kind", "year", "validity"}
    second = (await world.get("/search", limit=4, cursor=first["next_cursor"], **params)).json()
    assert second["total"] is None and second["facets"] == {} and len(second["items"]) == 4
    asked = (await world.get("/search", limit=4, cursor=first["next_cursor"], facets="true", **params)).json()
    assert asked["total"] == first["total"] and asked["facets"] == first["facets"]
    assert [h["id"] for h in asked["items"]] == [h["id"] for h in second["items"]]
    assert not {h["id"] for h in second["items"]} & {h["id"] for h in first["items"]}


def test_snippet_of_text_whose_normalisation_changes_length() -> None:
    """Whitespace runs and NFKC expansions shift offsets: the slow path maps them back."""
    from gongkai_catalog.search import best_snippet, highlight

    assert highlight("关于   ＡＰＰ\t\n服务㈱住房公积金", ["app", "公积金"]) == (
        "关于   <mark>ＡＰＰ</mark>\t\n服务㈱住房<mark>公积金</mark>"
    )
    assert (
        best_snippet(["", "第一条 本办法适用于住房公积金。"], ["公积金"])
        == "第一条 本办法适用于住房<mark>公积金</mark>。"
    )
    assert best_snippet(["摘要", "正文"], []) == "摘要"


async def test_migration_indexes_items_that_exist_already() -> None:
    """0003 builds item_search for the catalog a deployment already has (upgrade from 0002 with items)."""
    from conftest import database_url
    from gongkai_shared.migrations import upgrade

    url = database_url("catalog_search_backfill")
    await asyncio.to_thread(upgrade, "gongkai_catalog", url, "0002")
    engine = create_engine(url)
    org, item = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO organizations (id, name, type) VALUES (:id, '示范市水务局', 'department')"),
                {"id": org},
            )
            await conn.execute(
                text(
                    "INSERT INTO items (id, organization_id, title, kind, body, status, published_on, created_by) "
                    "VALUES (:id, :org, '关于做好防汛抗旱工作的通知', 'other_document', '各单位要落实河长制。', "
                    "'published', '2024-06-01', 'test')"
                ),
                {"id": item, "org": org},
            )
            await conn.execute(
                text(
                    "INSERT INTO attachments (id, item_id, filename, content_type, size, sha256, data, created_by) "
                    "VALUES (:id, :item, 'a.txt', 'text/plain', 3, :sha, :data, 'test')"
                ),
                {"id": uuid.uuid4(), "item": item, "sha": "0" * 64, "data": "水库巡查台账".encode()},
            )
        await asyncio.to_thread(upgrade, "gongkai_catalog", url)
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT year, sort_on, tsv @@ to_tsquery('simple', '''河长制''') AS body, "
                        "tsv @@ to_tsquery('simple', '''水库'' & ''巡查''') AS attachment FROM item_search "
                        "WHERE item_id = :id"
                    ),
                    {"id": item},
                )
            ).one()
        assert (row.year, row.sort_on, row.body, row.attachment) == (2024, dt.date(2024, 6, 1), True, True)
        # 0007: head (the title's part) backfilled from tsv; body words are not in it
        async with engine.connect() as conn:
            head = (
                await conn.execute(
                    text(
                        "SELECT head = ts_filter(tsv, '{a,b}') AS same, head @@ to_tsquery('simple', '''防汛''') AS "
                        "title, head @@ to_tsquery('simple', '''河长制''') AS body FROM item_search WHERE item_id = :id"
                    ),
                    {"id": item},
                )
            ).one()
        assert (head.same, head.title, head.body) == (True, True, False)
    finally:
        await engine.dispose()


async def test_draft_without_dates_is_indexed_under_its_creation_day(world: World) -> None:
    async with world.maker() as session, session.begin():
        item = _item(world, "undated", world.org_a, "无日期草稿关于古树名木保护", "古树名木。", status=ItemStatus.draft)
        session.add(item)
        await index_item(session, item)
        created = item.created_at
    office = world.auth(Role.office)
    hit = (await world.get("/search", office, q="古树名木")).json()["items"][0]
    assert (hit["id"], hit["published_on"], hit["date"]) == (str(item.id), None, china_date_of(created).isoformat())
    async with world.maker() as session, session.begin():
        await session.delete(await session.get(Item, item.id))


async def test_long_document_keeps_its_search_row_narrow(world: World) -> None:
    """A real document's tsvector (several KB) moves out of line (0007), so the facet counts and the rank read
    a narrow row; it is still found through the GIN index, by a word of its body, and ranked by its title."""
    words = ["防汛抗旱", "河道清淤", "水库除险加固", "山洪灾害", "堤防巡查", "应急物资", "水文监测", "蓄滞洪区"]
    body = "".join(f"第{n}条 做好{words[n % 8]}第{n}项工作，落实{words[(n * 3) % 8]}责任{n}。" for n in range(400))
    async with world.maker() as session, session.begin():
        toast = "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'item_search'::regclass"
        before = await session.scalar(text(toast))
        item = _item(
            world, "long", world.org_b, "关于汛期水旱灾害防御工作的通知", body, published_on=dt.date(2024, 5, 6)
        )
        session.add(item)
        await index_item(session, item)
        await session.flush()
        stored = (
            await session.execute(
                text(
                    "SELECT a.attstorage::text AS attstorage, pg_column_size(s.tsv) AS tsv, "
                    "pg_column_size(s.head) AS head FROM item_search s, pg_attribute a WHERE s.item_id = :id "
                    "AND a.attrelid = 'item_search'::regclass AND a.attname = 'tsv'"
                ),
                {"id": item.id},
            )
        ).one()
        assert stored.attstorage == "e" and stored.tsv > 2048 and stored.head < 512
        assert await session.scalar(text(toast)) > before  # the tsvector went to the TOAST table
    hits = (await world.get("/search", q="堤防巡查")).json()["items"]
    assert [h["id"] for h in hits] == [str(item.id)]
    titled = (await world.get("/search", q="水旱灾害")).json()["items"]
    assert titled[0]["id"] == str(item.id) and titled[0]["rank"] > 0
    async with world.maker() as session, session.begin():
        await session.delete(await session.get(Item, item.id))


async def test_a_change_that_leaves_the_text_alone_does_not_segment_it_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A review step, publication or expiry changes an item's status, dates or validity, not its text: the
    search row takes the new columns without the text being segmented again (a long policy costs ~10 ms per
    12,000 characters); a change of the title, body, summary or a text attachment is segmented and found."""
    import gongkai_catalog.search as search_module

    async with world.maker() as session, session.begin():
        item = _item(world, "digest", world.org_b, "关于开展河湖长制巡河工作的通知", "各级河长每月巡河不少于一次。",
                     status=ItemStatus.draft)  # fmt: skip
        session.add(item)
        await index_item(session, item)
    assert ids(await world.get("/search", q="巡河")) == []  # a draft is not public (条例 art. 17)

    def segmented_again(**_: Any) -> Any:
        raise AssertionError("the text was segmented again")

    with monkeypatch.context() as patch:
        patch.setattr(search_module, "document_parts", segmented_again)
        async with world.maker() as session, session.begin():  # published: status and dates only
            db_item = await session.get(Item, item.id)
            db_item.status, db_item.published_on = ItemStatus.published, dt.date(2024, 8, 1)
            await index_item(session, db_item)
        async with world.maker() as session, session.begin():  # expired: validity only
            db_item = await session.get(Item, item.id)
            db_item.validity = Validity.expired
            await index_item(session, db_item)
    found = (await world.get("/search", q="巡河")).json()
    assert [h["id"] for h in found["items"]] == [str(item.id)]
    assert {f["value"]: f["count"] for f in found["facets"]["validity"]} == {"expired": 1}

    async with world.maker() as session, session.begin():  # a new body: segmented, old words gone
        db_item = await session.get(Item, item.id)
        db_item.body = "各级湖长每季度开展一次暗访督查。"
        await index_item(session, db_item)
    assert ids(await world.get("/search", q="暗访督查")) == [str(item.id)]
    assert ids(await world.get("/search", q="巡河")) == [str(item.id)]  # still in the title
    assert ids(await world.get("/search", q="不少于")) == []

    async with world.maker() as session, session.begin():  # a text attachment: segmented
        session.add(
            Attachment(item_id=item.id, filename="附件.txt", content_type="text/plain", size=0, sha256="0" * 64,
                       data="附件：入河排污口排查整治清单。".encode(), created_by="test")
        )  # fmt: skip
        await session.flush()
        await index_item(session, await session.get(Item, item.id))
    assert ids(await world.get("/search", q="排污口")) == [str(item.id)]

    async with world.maker() as session, session.begin():
        await session.delete(await session.get(Item, item.id))
