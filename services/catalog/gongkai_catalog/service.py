"""Catalog business rules. Never commits: the request or handler owns the transaction."""

from __future__ import annotations

import uuid

from gongkai_shared.auth import Principal
from gongkai_shared.contracts.catalog import POLICY_PUBLISHED_V1, PolicyPublishedV1
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Conflict, NotFound, ValidationFailed
from gongkai_shared.events import emit
from gongkai_shared.timeutil import china_today
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog.models import POLICY_KINDS, Item, ItemStatus, Organization, event_tables
from gongkai_catalog.schemas import ItemCreate, OrganizationCreate


async def create_organization(session: AsyncSession, *, data: OrganizationCreate) -> Organization:
    """Register an organization (机关)."""
    if data.parent_id is not None and await session.get(Organization, data.parent_id) is None:
        raise ValidationFailed.for_field("body.parent_id", "上级机关不存在", "not_found")
    if data.code and await session.scalar(select(Organization.id).where(Organization.code == data.code)):
        raise Conflict("机关代码已被使用", code="organization_code_taken")
    org = Organization(name=data.name, code=data.code, parent_id=data.parent_id)
    session.add(org)
    await session.flush()
    return org


async def create_item(session: AsyncSession, *, principal: Principal, data: ItemCreate) -> Item:
    """Create a draft item for the principal's department."""
    principal.require_department(data.organization_id)
    if await session.get(Organization, data.organization_id) is None:
        raise ValidationFailed.for_field("body.organization_id", "发布机构不存在", "not_found")
    if data.supersedes_id is not None and await session.get(Item, data.supersedes_id) is None:
        raise ValidationFailed.for_field("body.supersedes_id", "被替代的文件不存在", "not_found")
    item = Item(**data.model_dump(), status=ItemStatus.draft, created_by=principal.subject)
    session.add(item)
    await session.flush()
    return item


async def get_item(session: AsyncSession, *, item_id: uuid.UUID, principal: Principal) -> Item:
    item = await session.get(Item, item_id)
    if item is None or (item.status != ItemStatus.published and not principal.can_act_for(item.organization_id)):
        raise NotFound("信息不存在")
    return item


async def publish_item(session: AsyncSession, *, item_id: uuid.UUID, principal: Principal) -> Item:
    """Publish a draft; a policy also announces ``catalog.policy.published`` (its interpretation is due).

    The review workflow (保密审查, 三审, 条例 art. 17) comes with issue 3; the skeleton publishes directly.
    """
    item = await session.get(Item, item_id, with_for_update=True)
    if item is None or not principal.can_act_for(item.organization_id):
        raise NotFound("信息不存在")
    if item.status == ItemStatus.published:
        raise Conflict("该信息已发布", code="already_published")
    item.status = ItemStatus.published
    item.published_at = utcnow()
    item.published_on = china_today()
    if item.kind in POLICY_KINDS:
        org = await session.get(Organization, item.organization_id)
        await emit(
            session,
            event_tables,
            POLICY_PUBLISHED_V1,
            PolicyPublishedV1(
                item_id=item.id,
                title=item.title,
                document_number=item.document_number,
                kind=item.kind.value,
                organization_id=item.organization_id,
                organization_name=org.name if org else None,
                body=item.body,
                written_on=item.written_on,
                published_on=item.published_on,
                effective_on=item.effective_on,
                supersedes_item_id=item.supersedes_id,
            ),
        )
    await session.flush()
    return item
