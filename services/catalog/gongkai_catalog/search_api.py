"""Search and feed endpoints (issue 3 points 9 and 10; 条例 art. 24: retrieval, reading and download).

``router`` is mounted beside the catalog's other routes: ``GET /search`` (full-text search and filtered
lists with facets) and ``GET /feeds/atom`` (newly published items of an organization or category).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from gongkai_shared.auth import CurrentPrincipal
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import ValidationFailed, problem_responses
from gongkai_shared.http import public_base_url
from pydantic import BaseModel, Field
from sqlalchemy import select

from gongkai_catalog import feeds
from gongkai_catalog.models import (
    ITEM_KIND_LABELS,
    VALIDITY_LABELS,
    Category,
    ItemKind,
    ItemStatus,
    Organization,
    Validity,
)
from gongkai_catalog.numbers import normalize_document_number
from gongkai_catalog.search import FACETS, SearchFilters, SearchOrder, search
from gongkai_catalog.search_index import SearchIndexReader
from gongkai_catalog.settings import CatalogSettings

router = APIRouter()


class SearchHitOut(BaseModel):
    id: uuid.UUID
    title: str = Field(description="标题")
    title_highlighted: str = Field(description="标题（HTML 转义，检索词以 <mark> 标出）")
    snippet: str = Field(description="摘要片段（原文字符，HTML 转义，检索词以 <mark> 标出）")
    organization_id: uuid.UUID = Field(description="发布机构")
    category_id: uuid.UUID | None = Field(default=None, description="目录类别")
    kind: ItemKind = Field(description="文件类型")
    status: ItemStatus = Field(description="状态（公众只见已发布）")
    validity: Validity = Field(description="有效性")
    document_number: str | None = Field(default=None, description="文号")
    published_on: dt.date | None = Field(default=None, description="发布日期")
    date: dt.date = Field(description="排序日期：发布日期，未发布的为成文日期")
    rank: float | None = Field(
        default=None,
        description="相关度（按相关度排序时）：2 全部检索词见于标题、文号或主题词；1 见于上述或内容概述；0 其余",
    )


class FacetValue(BaseModel):
    value: str = Field(description="取值（用作筛选参数）")
    label: str = Field(description="名称")
    count: int = Field(description="命中条数")


class SearchPage(BaseModel):
    items: list[SearchHitOut]
    next_cursor: str | None = Field(default=None, description="下一页游标；为空表示没有更多")
    total: int | None = Field(default=None, description="命中总数（不返回分面统计时不计算）")
    facets: dict[str, list[FacetValue]] = Field(
        default_factory=dict,
        description="分面统计（organization_id 发布机构、category_id 类别、kind 文件类型、year 年度、validity 有效性）",
    )
    terms: list[str] = Field(default_factory=list, description="检索词切分后的词项（全部须命中）")


@router.get(
    "/search",
    response_model=SearchPage,
    tags=["检索"],
    summary="全文检索与筛选（公众只见已发布信息；工作人员另见本部门未发布信息）",
    responses=problem_responses(),
)
async def search_items(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    q: Annotated[str | None, Query(max_length=200, description="检索词（中文分词，多个词须同时命中）")] = None,
    organization_id: Annotated[uuid.UUID | None, Query(description="发布机构")] = None,
    category_id: Annotated[uuid.UUID | None, Query(description="目录类别")] = None,
    kind: Annotated[ItemKind | None, Query(description="文件类型")] = None,
    year: Annotated[int | None, Query(ge=1949, le=2100, description="年度（发布日期所在年）")] = None,
    validity: Annotated[Validity | None, Query(description="有效性")] = None,
    document_number: Annotated[str | None, Query(max_length=100, description="文号（精确匹配）")] = None,
    order: Annotated[
        SearchOrder | None, Query(description="排序：relevance 相关度（有检索词时默认）、date 日期（新→旧）")
    ] = None,
    facets: Annotated[
        bool | None, Query(description="是否返回分面统计与总数（默认：第一页返回，翻页时不返回）")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="每页条数")] = 20,
    cursor: Annotated[str | None, Query(max_length=512, description="上一页返回的 next_cursor")] = None,
) -> SearchPage:
    if document_number is not None:
        try:
            document_number = normalize_document_number(document_number)
        except ValueError as exc:
            raise ValidationFailed.for_field("query.document_number", str(exc), "document_number_invalid") from None
    if order is None:
        order = SearchOrder.relevance if q else SearchOrder.date
    if facets is None:
        # Facets and total count the whole matching set: the costly part of a search. A client has them
        # from the first page, so later pages (a cursor) skip them unless asked.
        facets = cursor is None
    result = await search(
        session,
        principal,
        q,
        SearchFilters(
            organization_id=organization_id,
            category_id=category_id,
            kind=kind.value if kind else None,
            year=year,
            validity=validity.value if validity else None,
            document_number=document_number,
        ),
        order,
        limit=limit,
        cursor=cursor,
        facets=facets,
        index=index_reader(request),
    )
    return SearchPage(
        items=[
            SearchHitOut(
                id=h.item_id,
                title=h.title,
                title_highlighted=h.title_highlighted,
                snippet=h.snippet,
                organization_id=h.organization_id,
                category_id=h.category_id,
                kind=ItemKind(h.kind),
                status=ItemStatus(h.status),
                validity=Validity(h.validity),
                document_number=h.document_number,
                published_on=h.published_on,
                date=h.sort_on,
                rank=h.rank,
            )
            for h in result.hits
        ],
        next_cursor=result.next_cursor,
        total=result.total if facets else None,
        facets=await _labelled(session, result.facets) if facets else {},
        terms=result.terms,
    )


def index_reader(request: Request) -> SearchIndexReader | None:
    """The app's reader of the search index (created at the first search), or None when the index is off."""
    state = request.app.state
    if not hasattr(state, "catalog_search_index"):
        settings = state.settings
        directory = settings.search_index_directory() if isinstance(settings, CatalogSettings) else None
        state.catalog_search_index = SearchIndexReader(directory) if directory is not None else None
    return state.catalog_search_index


async def _labelled(session: SessionDep, counts: dict[str, dict[str, int]]) -> dict[str, list[FacetValue]]:
    labels: dict[str, dict[str, str]] = {
        "kind": {k.value: v for k, v in ITEM_KIND_LABELS.items()},
        "validity": {k.value: v for k, v in VALIDITY_LABELS.items()},
    }
    for name, model in (("organization_id", Organization), ("category_id", Category)):
        ids = [uuid.UUID(v) for v in counts.get(name, {}) if v]
        if ids:
            rows = await session.execute(select(model.id, model.name).where(model.id.in_(ids)))
            labels[name] = {str(i): n for i, n in rows}
    labels.setdefault("category_id", {})[""] = "未分类"
    out = {}
    for name in FACETS:
        values = counts.get(name, {})
        out[name] = sorted(
            (FacetValue(value=v, label=labels.get(name, {}).get(v, v), count=n) for v, n in values.items()),
            key=lambda f: (-f.count, f.value),
        )
    return out


@router.get(
    "/feeds/atom",
    tags=["检索"],
    summary="最新发布信息的 Atom 订阅（按机构、按类别）",
    response_class=Response,
    responses={
        200: {"content": {feeds.ATOM: {}}, "description": "Atom 1.0"},
        **problem_responses(),
    },
)
async def atom_feed(
    request: Request,
    session: SessionDep,
    organization: Annotated[uuid.UUID | None, Query(description="发布机构")] = None,
    category: Annotated[uuid.UUID | None, Query(description="目录类别")] = None,
) -> Response:
    body = await feeds.atom_feed(
        session, organization_id=organization, category_id=category, base_url=public_base_url(request, "catalog")
    )
    return Response(content=body, media_type=feeds.ATOM)
