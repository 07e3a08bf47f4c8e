from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from gongkai_shared.auth import CurrentPrincipal, Principal, Role, StaffPrincipal, require_roles
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Conflict, Forbidden, NotFound, Unauthorized, problem_responses
from gongkai_shared.pagination import Page, PageParams, page_params, paginate
from sqlalchemy import select

from gongkai_catalog import service
from gongkai_catalog.models import Item, ItemStatus, Organization
from gongkai_catalog.schemas import ItemCreate, ItemOut, OrganizationCreate, OrganizationOut

router = APIRouter()
OfficePrincipal = Annotated[Principal, require_roles(Role.office, Role.admin)]


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
async def list_organizations(session: SessionDep, params: Annotated[PageParams, Depends(page_params)]) -> Page:
    rows, cursor = await paginate(
        session, select(Organization), keys=[Organization.id], params=params, descending=False
    )
    return Page(items=[OrganizationOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/items",
    status_code=201,
    response_model=ItemOut,
    tags=["政府信息"],
    summary="新建信息（草稿）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def create_item(data: ItemCreate, session: SessionDep, principal: StaffPrincipal) -> Item:
    return await service.create_item(session, principal=principal, data=data)


@router.get("/items", response_model=Page[ItemOut], tags=["政府信息"], summary="已发布信息列表")
async def list_items(session: SessionDep, params: Annotated[PageParams, Depends(page_params)]) -> Page:
    stmt = select(Item).where(Item.status == ItemStatus.published)
    rows, cursor = await paginate(session, stmt, keys=[Item.id], params=params)
    return Page(items=[ItemOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/items/{item_id}",
    response_model=ItemOut,
    tags=["政府信息"],
    summary="查看信息",
    responses=problem_responses(NotFound),
)
async def get_item(item_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Item:
    return await service.get_item(session, item_id=item_id, principal=principal)


@router.post(
    "/items/{item_id}/publish",
    response_model=ItemOut,
    tags=["政府信息"],
    summary="发布信息",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def publish_item(item_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> Item:
    return await service.publish_item(session, item_id=item_id, principal=principal)
