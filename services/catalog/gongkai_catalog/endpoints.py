from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from gongkai_shared.auth import CurrentPrincipal, Principal, Role, StaffPrincipal, require_roles
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, problem_responses
from gongkai_shared.pagination import Page, PageParams, page_params, paginate
from sqlalchemy import select
from sqlalchemy.orm import defer

from gongkai_catalog import service
from gongkai_catalog.models import (
    LINK_RELATION_LABELS,
    Category,
    Item,
    ItemKind,
    ItemStatus,
    LinkRelation,
    Organization,
    OrganizationType,
    PilotArea,
    Suggestion,
    SuggestionStatus,
    Validity,
)
from gongkai_catalog.numbers import index_number_problem, normalize_document_number, parse_index_number
from gongkai_catalog.schemas import (
    AnnualFiguresIn,
    ArchivedItemIn,
    AttachmentOut,
    CatalogEntryIn,
    CatalogEntryOut,
    CategoryCreate,
    CategoryNode,
    CategoryOut,
    CategoryUpdate,
    DeadlineOut,
    HistoryEntryOut,
    ImportResult,
    ItemCreate,
    ItemLinkOut,
    ItemOut,
    ItemSummaryOut,
    ItemUpdate,
    NegativeTermIn,
    NegativeTermOut,
    OpinionIn,
    OrganizationCreate,
    OrganizationNode,
    OrganizationOut,
    OrganizationUpdate,
    OverrideIn,
    PilotAreaIn,
    PilotAreaOut,
    RepealIn,
    ReturnIn,
    SuggestionDecisionIn,
    SuggestionOut,
    Table2Out,
)
from gongkai_catalog.settings import CatalogSettings
from gongkai_catalog.standard_catalog import FIELDS

router = APIRouter()
OfficePrincipal = Annotated[Principal, require_roles(Role.office, Role.admin)]
FiguresPrincipal = Annotated[Principal, require_roles(Role.office, Role.admin, Role.system)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def get_settings(request: Request) -> CatalogSettings:
    return request.app.state.settings


SettingsDep = Annotated[CatalogSettings, Depends(get_settings)]
Pages = Annotated[PageParams, Depends(page_params)]
#: The annual report exists since the 条例 took effect (2008-05-01).
Year = Annotated[int, Path(ge=2008, le=2100, description="年度")]

# --------------------------------------------------------------------------------------------
# Organizations (机关)
# --------------------------------------------------------------------------------------------


@router.post(
    "/organizations",
    status_code=201,
    response_model=OrganizationOut,
    tags=["机关"],
    summary="登记机关",
    responses=problem_responses(Unauthorized, Forbidden, Conflict),
)
async def create_organization(data: OrganizationCreate, session: SessionDep, _: OfficePrincipal) -> Organization:
    return await service.create_organization(session, data=data)


@router.get("/organizations", response_model=Page[OrganizationOut], tags=["机关"], summary="机关列表")
async def list_organizations(
    session: SessionDep,
    params: Pages,
    parent_id: Annotated[uuid.UUID | None, Query(description="上级机关")] = None,
    type: Annotated[OrganizationType | None, Query(description="机关类型")] = None,
) -> Page:
    stmt = select(Organization)
    if parent_id is not None:
        stmt = stmt.where(Organization.parent_id == parent_id)
    if type is not None:
        stmt = stmt.where(Organization.type == type)
    rows, cursor = await paginate(session, stmt, keys=[Organization.id], params=params, descending=False)
    return Page(items=[OrganizationOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/organizations/tree", response_model=list[OrganizationNode], tags=["机关"], summary="机关树")
async def organization_tree(session: SessionDep) -> list[OrganizationNode]:
    rows = (await session.scalars(select(Organization).order_by(Organization.name, Organization.id))).all()
    return service.build_tree(rows, OrganizationNode)


@router.get(
    "/organizations/{org_id}",
    response_model=OrganizationOut,
    tags=["机关"],
    summary="查看机关",
    responses=problem_responses(NotFound),
)
async def get_organization(org_id: uuid.UUID, session: SessionDep) -> Organization:
    return await service.get_organization(session, org_id)


@router.patch(
    "/organizations/{org_id}",
    response_model=OrganizationOut,
    tags=["机关"],
    summary="修改机关",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def update_organization(
    org_id: uuid.UUID, data: OrganizationUpdate, session: SessionDep, _: OfficePrincipal
) -> Organization:
    return await service.update_organization(session, org_id=org_id, data=data)


# --------------------------------------------------------------------------------------------
# Catalog structure
# --------------------------------------------------------------------------------------------


@router.get("/categories", response_model=list[CategoryNode], tags=["目录"], summary="目录栏目与类别树")
async def category_tree(session: SessionDep) -> list[CategoryNode]:
    rows = (await session.scalars(select(Category).order_by(Category.position, Category.name))).all()
    return service.build_tree(rows, CategoryNode)


@router.post(
    "/categories",
    status_code=201,
    response_model=CategoryOut,
    tags=["目录"],
    summary="新增目录类别",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def create_category(data: CategoryCreate, session: SessionDep, _: OfficePrincipal) -> Category:
    return await service.create_category(session, data=data)


@router.patch(
    "/categories/{category_id}",
    response_model=CategoryOut,
    tags=["目录"],
    summary="修改目录类别",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def update_category(
    category_id: uuid.UUID, data: CategoryUpdate, session: SessionDep, _: OfficePrincipal
) -> Category:
    return await service.update_category(session, category_id=category_id, data=data)


@router.get("/pilot-areas", response_model=list[PilotAreaOut], tags=["目录"], summary="标准化试点领域")
async def list_pilot_areas(session: SessionDep) -> list[PilotArea]:
    return list((await session.scalars(select(PilotArea).order_by(PilotArea.position, PilotArea.name))).all())


@router.post(
    "/pilot-areas",
    status_code=201,
    response_model=PilotAreaOut,
    tags=["目录"],
    summary="新增试点领域",
    responses=problem_responses(Unauthorized, Forbidden, Conflict),
)
async def create_pilot_area(data: PilotAreaIn, session: SessionDep, _: OfficePrincipal) -> PilotArea:
    return await service.create_pilot_area(session, data=data)


@router.put(
    "/pilot-areas/{area_id}",
    response_model=PilotAreaOut,
    tags=["目录"],
    summary="修改试点领域",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def update_pilot_area(
    area_id: uuid.UUID, data: PilotAreaIn, session: SessionDep, _: OfficePrincipal
) -> PilotArea:
    return await service.update_pilot_area(session, area_id=area_id, data=data)


@router.delete(
    "/pilot-areas/{area_id}",
    status_code=204,
    tags=["目录"],
    summary="删除试点领域",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def delete_pilot_area(area_id: uuid.UUID, session: SessionDep, _: OfficePrincipal) -> Response:
    await service.delete_pilot_area(session, area_id=area_id)
    return Response(status_code=204)


@router.get(
    "/organizations/{org_id}/catalog-entries",
    response_model=list[CatalogEntryOut],
    tags=["标准目录"],
    summary="政务公开事项标准目录",
    responses=problem_responses(NotFound),
)
async def list_catalog_entries(org_id: uuid.UUID, session: SessionDep) -> list[Any]:
    await service.get_organization(session, org_id)
    return await service.list_catalog_entries(session, org_id=org_id)


@router.post(
    "/organizations/{org_id}/catalog-entries",
    status_code=201,
    response_model=CatalogEntryOut,
    tags=["标准目录"],
    summary="新增标准目录条目",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def create_catalog_entry(
    org_id: uuid.UUID, data: CatalogEntryIn, session: SessionDep, principal: StaffPrincipal
) -> Any:
    return await service.create_catalog_entry(session, org_id=org_id, principal=principal, data=data)


@router.get(
    "/organizations/{org_id}/catalog-entries/export",
    tags=["标准目录"],
    summary="导出标准目录（xlsx）",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "xlsx 表格"}, **problem_responses(NotFound)},
)
async def export_catalog_entries(org_id: uuid.UUID, session: SessionDep) -> Response:
    data = await service.export_catalog_entries(session, org_id=org_id)
    return Response(
        content=data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="standard-catalog-{org_id}.xlsx"'},
    )


@router.post(
    "/organizations/{org_id}/catalog-entries/import",
    response_model=ImportResult,
    tags=["标准目录"],
    summary="导入标准目录（xlsx，表头为九项字段的中文名称；有任何错误行则全部不导入）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
            "description": "表头：" + "、".join(f.header for f in FIELDS) + "（可选：试点领域）",
        }
    },
)
async def import_catalog_entries(
    org_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    replace: Annotated[bool, Query(description="替换该机关现有的全部条目")] = False,
) -> ImportResult:
    data = await request.body()
    imported, replaced = await service.import_catalog_entries(
        session, org_id=org_id, principal=principal, data=data, replace=replace
    )
    return ImportResult(imported=imported, replaced=replaced)


@router.get(
    "/organizations/{org_id}/catalog-entries/{entry_id}",
    response_model=CatalogEntryOut,
    tags=["标准目录"],
    summary="查看标准目录条目",
    responses=problem_responses(NotFound),
)
async def get_catalog_entry(org_id: uuid.UUID, entry_id: uuid.UUID, session: SessionDep) -> Any:
    return await service.get_catalog_entry(session, org_id=org_id, entry_id=entry_id)


@router.put(
    "/organizations/{org_id}/catalog-entries/{entry_id}",
    response_model=CatalogEntryOut,
    tags=["标准目录"],
    summary="修改标准目录条目",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def update_catalog_entry(
    org_id: uuid.UUID, entry_id: uuid.UUID, data: CatalogEntryIn, session: SessionDep, principal: StaffPrincipal
) -> Any:
    return await service.update_catalog_entry(session, org_id=org_id, entry_id=entry_id, principal=principal, data=data)


@router.delete(
    "/organizations/{org_id}/catalog-entries/{entry_id}",
    status_code=204,
    tags=["标准目录"],
    summary="删除标准目录条目",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def delete_catalog_entry(
    org_id: uuid.UUID, entry_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal
) -> Response:
    await service.delete_catalog_entry(session, org_id=org_id, entry_id=entry_id, principal=principal)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------
# Negative lists (负面清单)
# --------------------------------------------------------------------------------------------


@router.get(
    "/organizations/{org_id}/negative-terms",
    response_model=list[NegativeTermOut],
    tags=["负面清单"],
    summary="机关的负面清单",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_negative_terms(org_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> list[Any]:
    principal.require_department(org_id)
    return await service.list_negative_terms(session, org_id=org_id)


@router.post(
    "/organizations/{org_id}/negative-terms",
    status_code=201,
    response_model=NegativeTermOut,
    tags=["负面清单"],
    summary="新增负面清单词语",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def add_negative_term(
    org_id: uuid.UUID, data: NegativeTermIn, session: SessionDep, principal: OfficePrincipal
) -> Any:
    return await service.add_negative_term(session, org_id=org_id, principal=principal, data=data)


@router.delete(
    "/organizations/{org_id}/negative-terms/{term_id}",
    status_code=204,
    tags=["负面清单"],
    summary="删除负面清单词语",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def delete_negative_term(
    org_id: uuid.UUID, term_id: uuid.UUID, session: SessionDep, _: OfficePrincipal
) -> Response:
    await service.delete_negative_term(session, org_id=org_id, term_id=term_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------


async def _item_out(session: Any, item: Item, settings: CatalogSettings, principal: Principal) -> ItemOut:
    out = ItemOut.model_validate(item)
    out.review_stage_name = service.stage_name(settings, item.review_stage)
    out.attachments = [
        AttachmentOut.model_validate(a) for a in await service.list_attachments(session, item_id=item.id)
    ]
    out.links = [_link_out(link) for link in await service.item_links(session, item=item, principal=principal)]
    return out


def _link_out(link: dict[str, Any]) -> ItemLinkOut:
    relation: LinkRelation = link["relation"]
    forward, backward = LINK_RELATION_LABELS[relation]
    name = {LinkRelation.interprets: "interpreted_by", LinkRelation.responds_to: "responded_by"}[relation]
    other: Item = link["item"]
    return ItemLinkOut(
        relation=name if link["inverse"] else relation.value,
        relation_label=backward if link["inverse"] else forward,
        item_id=other.id,
        title=other.title,
        kind=other.kind,
        index_number=other.index_number,
        document_number=other.document_number,
        status=other.status,
        published_on=other.published_on,
    )


@router.post(
    "/items",
    status_code=201,
    response_model=ItemOut,
    tags=["政府信息"],
    summary="新建信息（草稿）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def create_item(
    data: ItemCreate, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> ItemOut:
    item = await service.create_item(session, principal=principal, data=data)
    return await _item_out(session, item, settings, principal)


@router.post(
    "/items/archived",
    status_code=201,
    response_model=ItemOut,
    tags=["政府信息"],
    summary="导入存量信息（原平台已发布的信息，保留原发布日期和索引号；政务公开办）",
    description=(
        "迁移到本系统时，把原平台已经发布的信息按原发布日期导入为已发布信息：过去年度的目录、年度报告和考核"
        "由此完整。原索引号可一并导入（缺省时按发布日期的年份编制）；敏感内容检查照常进行；"
        "导入的政策不产生新的解读任务（三同步适用于新发布的政策）。"
    ),
    responses=problem_responses(Unauthorized, Forbidden, Conflict),
)
async def import_archived_item(
    data: ArchivedItemIn, session: SessionDep, principal: OfficePrincipal, settings: SettingsDep
) -> ItemOut:
    item = await service.import_archived_item(session, principal=principal, data=data)
    return await _item_out(session, item, settings, principal)


@router.get(
    "/items",
    response_model=Page[ItemSummaryOut],
    tags=["政府信息"],
    summary="信息列表（公众只见已发布信息；工作人员另见本部门草稿）",
)
async def list_items(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: Pages,
    organization_id: Annotated[uuid.UUID | None, Query(description="发布机构")] = None,
    category_id: Annotated[uuid.UUID | None, Query(description="目录类别")] = None,
    kind: Annotated[ItemKind | None, Query(description="文件类型")] = None,
    year: Annotated[int | None, Query(ge=1949, le=2100, description="发布年度")] = None,
    validity: Annotated[Validity | None, Query(description="有效性")] = None,
    status: Annotated[ItemStatus | None, Query(description="状态（工作人员）")] = None,
    index_number: Annotated[str | None, Query(max_length=40, description="索引号")] = None,
    document_number: Annotated[str | None, Query(max_length=100, description="文号")] = None,
) -> Page:
    if index_number is not None:
        problem = index_number_problem(index_number)
        if problem is not None:
            raise ValidationFailed.for_field("query.index_number", problem, "index_number_invalid")
        index_number = str(parse_index_number(index_number))
    if document_number is not None:
        try:
            document_number = normalize_document_number(document_number)
        except ValueError as exc:
            raise ValidationFailed.for_field("query.document_number", str(exc), "document_number_invalid") from None
    conditions = service.item_filters(
        principal,
        organization_id=organization_id,
        category_id=category_id,
        kind=kind,
        year=year,
        validity=validity,
        status=status,
        index_number=index_number,
        document_number=document_number,
    )
    stmt = select(Item).options(defer(Item.body)).where(*conditions)
    rows, cursor = await paginate(session, stmt, keys=[Item.id], params=params)
    return Page(items=[ItemSummaryOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/items/{item_id}",
    response_model=ItemOut,
    tags=["政府信息"],
    summary="查看信息",
    responses=problem_responses(NotFound),
)
async def get_item(
    item_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> ItemOut:
    item = await service.get_item(session, item_id=item_id, principal=principal)
    return await _item_out(session, item, settings, principal)


@router.patch(
    "/items/{item_id}",
    response_model=ItemOut,
    tags=["政府信息"],
    summary="修改草稿",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def update_item(
    item_id: uuid.UUID, data: ItemUpdate, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> ItemOut:
    item = await service.update_item(session, item_id=item_id, principal=principal, data=data)
    return await _item_out(session, item, settings, principal)


@router.get(
    "/items/{item_id}/deadline",
    response_model=DeadlineOut,
    tags=["政府信息"],
    summary="发布时限（条例第二十六条：生成日期起20个工作日），逐日说明",
    responses=problem_responses(NotFound),
)
async def item_deadline(item_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> dict:
    item = await service.get_item(session, item_id=item_id, principal=principal)
    return await service.deadline_trace(session, item)


@router.get(
    "/items/{item_id}/history",
    response_model=list[HistoryEntryOut],
    tags=["审核"],
    summary="信息的办理历史（起草、审查、发布、废止）",
    responses=problem_responses(Unauthorized, NotFound),
)
async def item_history(item_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> list[Any]:
    return await service.item_history(session, item_id=item_id, principal=principal)


@router.post(
    "/items/{item_id}/submit",
    response_model=ItemOut,
    tags=["审核"],
    summary="提交审查（保密审查→内容审核），先经敏感内容检查",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def submit_item(
    item_id: uuid.UUID,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    data: Annotated[OverrideIn | None, Body()] = None,
) -> ItemOut:
    item = await service.submit_item(
        session,
        item_id=item_id,
        principal=principal,
        override_reason=data.override_reason if data else None,
        settings=settings,
    )
    return await _item_out(session, item, settings, principal)


@router.post(
    "/items/{item_id}/approve",
    response_model=ItemOut,
    tags=["审核"],
    summary="审核通过当前环节（不得审核本人起草的信息）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def approve_item(
    item_id: uuid.UUID,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    data: Annotated[OpinionIn | None, Body()] = None,
) -> ItemOut:
    item = await service.approve_item(
        session, item_id=item_id, principal=principal, opinion=data.opinion if data else None, settings=settings
    )
    return await _item_out(session, item, settings, principal)


@router.post(
    "/items/{item_id}/return",
    response_model=ItemOut,
    tags=["审核"],
    summary="退回修改（附意见）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def return_item(
    item_id: uuid.UUID, data: ReturnIn, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> ItemOut:
    item = await service.return_item(
        session, item_id=item_id, principal=principal, opinion=data.opinion, settings=settings
    )
    return await _item_out(session, item, settings, principal)


@router.post(
    "/items/{item_id}/publish",
    response_model=ItemOut,
    tags=["政府信息"],
    summary="发布信息（须已审核；编制索引号）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def publish_item(
    item_id: uuid.UUID,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    data: Annotated[OverrideIn | None, Body()] = None,
) -> ItemOut:
    item = await service.publish_item(
        session,
        item_id=item_id,
        principal=principal,
        override_reason=data.override_reason if data else None,
        settings=settings,
    )
    return await _item_out(session, item, settings, principal)


@router.post(
    "/items/{item_id}/repeal",
    response_model=ItemOut,
    tags=["政府信息"],
    summary="废止（立、改、废）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def repeal_item(
    item_id: uuid.UUID,
    data: RepealIn,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(Role.reviewer, Role.office, Role.admin)],
    settings: SettingsDep,
) -> ItemOut:
    item = await service.repeal_item(
        session, item_id=item_id, principal=principal, repealed_on=data.repealed_on, reason=data.reason
    )
    return await _item_out(session, item, settings, principal)


@router.post(
    "/items/{item_id}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    tags=["政府信息"],
    summary="上传附件（请求体为文件内容，Content-Type 为其类型）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string"}}}}
    },
)
async def add_attachment(
    item_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    filename: Annotated[str, Query(min_length=1, max_length=255, description="文件名（含扩展名）")],
) -> Any:
    data = await request.body()
    return await service.add_attachment(
        session,
        item_id=item_id,
        principal=principal,
        filename=filename,
        content_type=request.headers.get("content-type", ""),
        data=data,
        settings=settings,
    )


@router.get(
    "/items/{item_id}/attachments/{attachment_id}",
    tags=["政府信息"],
    summary="下载附件",
    response_class=Response,
    responses=problem_responses(NotFound),
)
async def download_attachment(
    item_id: uuid.UUID, attachment_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    a = await service.get_attachment(session, item_id=item_id, attachment_id=attachment_id, principal=principal)
    return Response(
        content=a.data,
        media_type=a.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(a.filename)}",
            "ETag": f'"{a.sha256}"',
        },
    )


@router.delete(
    "/items/{item_id}/attachments/{attachment_id}",
    status_code=204,
    tags=["政府信息"],
    summary="删除草稿的附件",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def delete_attachment(
    item_id: uuid.UUID, attachment_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal
) -> Response:
    await service.delete_attachment(session, item_id=item_id, attachment_id=attachment_id, principal=principal)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------
# Annual report, table 二
# --------------------------------------------------------------------------------------------


@router.get(
    "/organizations/{org_id}/annual-report/{year}/table2",
    response_model=Table2Out,
    tags=["年度报告"],
    summary="年度报告表二：主动公开政府信息情况",
    responses=problem_responses(NotFound),
)
async def get_table2(org_id: uuid.UUID, year: Year, session: SessionDep) -> Table2Out:
    return await service.table2(session, org_id=org_id, year=year)


@router.put(
    "/organizations/{org_id}/annual-report/{year}/figures",
    response_model=Table2Out,
    tags=["年度报告"],
    summary="填报表二中目录不掌握的数字（行政许可、行政处罚、行政强制、行政事业性收费）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def put_annual_figures(
    org_id: uuid.UUID, year: Year, data: AnnualFiguresIn, session: SessionDep, principal: FiguresPrincipal
) -> Table2Out:
    return await service.put_annual_figures(session, org_id=org_id, year=year, principal=principal, data=data)


# --------------------------------------------------------------------------------------------
# 依申请转主动 suggestions
# --------------------------------------------------------------------------------------------


@router.get(
    "/suggestions",
    response_model=list[SuggestionOut],
    tags=["依申请转主动"],
    summary="主动公开建议（多人申请同类信息）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_suggestions(
    session: SessionDep,
    principal: StaffPrincipal,
    status: Annotated[SuggestionStatus | None, Query(description="状态")] = None,
) -> list[Suggestion]:
    return await service.list_suggestions(session, principal=principal, status=status)


@router.post(
    "/suggestions/{suggestion_id}/decision",
    response_model=SuggestionOut,
    tags=["依申请转主动"],
    summary="处理主动公开建议（采纳或不予采纳）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def decide_suggestion(
    suggestion_id: uuid.UUID, data: SuggestionDecisionIn, session: SessionDep, principal: OfficePrincipal
) -> Suggestion:
    return await service.decide_suggestion(
        session,
        suggestion_id=suggestion_id,
        principal=principal,
        accept=data.decision == "accept",
        note=data.note,
        item_id=data.item_id,
    )
