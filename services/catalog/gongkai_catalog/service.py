"""Catalog business rules. Never commits: the request or handler owns the transaction.

Where the rules come from (domain.md §1):
- 条例 art. 17 先审查后公开: a draft goes through 保密审查 and the content-review stages before it can be
  published; nobody approves their own draft; every step is recorded.
- 条例 art. 14-16 and the 负面清单: a sensitive-content check on submit and again before publication.
- 条例 art. 26: published within 20 working days of the 生成日期 (the publication clock).
- 条例 art. 12 and platform practice: 索引号 ``<agency code>/<YYYY>-<5-digit serial>``, unique, never reused.
- 立、改、废: supersede (linked both ways), repeal (废止), expiry (失效).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from gongkai_shared.auth import Principal, Role
from gongkai_shared.calendar import WorkingDayCalendar
from gongkai_shared.calendar_store import load_calendar
from gongkai_shared.contracts.catalog import (
    ITEM_DUE_SOON_V1,
    ITEM_OVERDUE_V1,
    ITEM_PUBLISHED_V1,
    ITEM_VALIDITY_CHANGED_V1,
    ORGANIZATION_CREATED_V1,
    ORGANIZATION_UPDATED_V1,
    POLICY_PUBLISHED_V1,
    POLICY_SUPERSEDED_V1,
    ItemDeadlineV1,
    ItemPublishedV1,
    ItemValidityChangedV1,
    OrganizationV1,
    PolicyPublishedV1,
    PolicySupersededV1,
)
from gongkai_shared.contracts.interpretation import InterpretationPublishedV1
from gongkai_shared.contracts.requests import TopicRepeatedV1
from gongkai_shared.contracts.sentiment import ResponsePublishedV1
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from gongkai_shared.events import Envelope, emit
from gongkai_shared.events.consumer import PermanentError
from gongkai_shared.timeutil import CHINA, china_date_of, china_today
from sqlalchemy import and_, delete, extract, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from gongkai_catalog import files, sensitive, standard_catalog
from gongkai_catalog.models import (
    ITEM_KIND_LABELS,
    ORGANIZATION_TYPE_LABELS,
    POLICY_KINDS,
    VALIDITY_LABELS,
    AnnualFigures,
    Attachment,
    CatalogEntry,
    Category,
    IndexCounter,
    Item,
    ItemEvent,
    ItemKind,
    ItemLink,
    ItemStatus,
    LinkRelation,
    NegativeTerm,
    Organization,
    PilotArea,
    Suggestion,
    SuggestionStatus,
    Validity,
    calendar_table,
    event_tables,
)
from gongkai_catalog.numbers import MAX_SERIAL, IndexNumber, format_index_number, parse_index_number
from gongkai_catalog.schemas import (
    AnnualFiguresIn,
    ArchivedItemIn,
    CatalogEntryIn,
    CategoryCreate,
    CategoryUpdate,
    DocumentCounts,
    ItemCreate,
    ItemUpdate,
    NegativeTermIn,
    OrganizationCreate,
    OrganizationUpdate,
    PilotAreaIn,
    Table2Out,
)
from gongkai_catalog.search import index_item
from gongkai_catalog.settings import CatalogSettings

log = structlog.get_logger("gongkai.catalog")

#: 条例 art. 26: published within 20 working days from the day the information was formed or changed.
PUBLICATION_WORKING_DAYS = 20
PUBLICATION_BASIS = "《中华人民共和国政府信息公开条例》第二十六条：自该政府信息形成或者变更之日起20个工作日内予以公开"
CONFIDENTIALITY_STAGE = "保密审查"
#: Who may approve, return and override: the reviewer role (architecture.md, "The edge").
REVIEW_ROLES = (Role.reviewer,)
OFFICE_ROLES = (Role.office, Role.admin)
_TREE_LOCK = 0x6B_43_54_52  # advisory lock key serialising changes to the organization tree
_CATEGORY_LOCK = 0x6B_43_43_54

ACTION_LABELS = {
    "created": "新建",
    "updated": "修改",
    "submitted": "提交审查",
    "approved": "审核通过",
    "returned": "退回修改",
    "sensitive_override": "放行敏感内容",
    "published": "发布",
    "archived": "存量导入（原平台已发布）",
    "superseded": "被新文件替代",
    "repealed": "废止",
    "expired": "失效",
    "attachment_added": "上传附件",
    "attachment_removed": "删除附件",
    "received": "由其他系统提交",
    "interpretation_linked": "关联政策解读",
    "response_linked": "关联回应关切",
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def is_office(principal: Principal) -> bool:
    return principal.has_any(*OFFICE_ROLES)


def stage_name(settings: CatalogSettings, stage: int | None) -> str | None:
    """0 is 保密审查; 1..N the content-review stages of the setting (初审/复审/终审 by default)."""
    if stage is None:
        return None
    if stage == 0:
        return CONFIDENTIALITY_STAGE
    names = settings.review_stages
    return names[stage - 1] if stage - 1 < len(names) else f"第{stage}审"


async def _advisory_lock(session: AsyncSession, key: int) -> None:
    await session.execute(select(func.pg_advisory_xact_lock(key)))


def _record(
    session: AsyncSession,
    item: Item,
    principal: Principal | None,
    action: str,
    *,
    at: dt.datetime | None = None,
    stage: str | None = None,
    decision: str | None = None,
    opinion: str | None = None,
    details: dict[str, Any] | None = None,
) -> ItemEvent:
    entry = ItemEvent(
        item_id=item.id,
        at=at or utcnow(),
        actor=principal.subject if principal else "system",
        actor_name=(principal.name or None) if principal else "系统",
        action=action,
        stage=stage,
        decision=decision,
        opinion=opinion,
        details=details,
    )
    session.add(entry)
    return entry


# --------------------------------------------------------------------------------------------
# Organizations
# --------------------------------------------------------------------------------------------


def organization_payload(org: Organization) -> OrganizationV1:
    return OrganizationV1(
        organization_id=org.id,
        code=org.code,
        name=org.name,
        type=org.type.value,
        type_label=ORGANIZATION_TYPE_LABELS[org.type],
        parent_id=org.parent_id,
        head_name=org.head_name,
        head_title=org.head_title,
        phone=org.phone,
        address=org.address,
        office_hours=org.office_hours,
    )


async def _code_taken(session: AsyncSession, code: str, *, other_than: uuid.UUID | None = None) -> bool:
    stmt = select(Organization.id).where(Organization.code == code)
    if other_than is not None:
        stmt = stmt.where(Organization.id != other_than)
    return await session.scalar(stmt) is not None


async def create_organization(session: AsyncSession, *, data: OrganizationCreate) -> Organization:
    """Register an organization (机关) and announce it. (A new node has no children: it cannot close a cycle.)"""
    if data.parent_id is not None and await session.get(Organization, data.parent_id) is None:
        raise ValidationFailed.for_field("body.parent_id", "上级机关不存在", "not_found")
    if data.code and await _code_taken(session, data.code):
        raise Conflict("机关代码已被使用", code="organization_code_taken")
    org = Organization(**data.model_dump())
    session.add(org)
    await session.flush()
    await emit(session, event_tables, ORGANIZATION_CREATED_V1, organization_payload(org))
    return org


async def _ancestors_include(
    session: AsyncSession, model: type[Organization] | type[Category], start: uuid.UUID, target: uuid.UUID
) -> bool:
    """Whether ``target`` is ``start`` or one of its ancestors (walking parent links)."""
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = await session.scalar(select(model.parent_id).where(model.id == current))
    return False


async def update_organization(session: AsyncSession, *, org_id: uuid.UUID, data: OrganizationUpdate) -> Organization:
    """Change an organization; a new parent that would make a cycle in the tree is refused."""
    await _advisory_lock(session, _TREE_LOCK)
    org = await session.get(Organization, org_id, with_for_update=True)
    if org is None:
        raise NotFound("机关不存在")
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "type"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.for_field(f"body.{required}", "不能为空", "missing")
    if changes.get("parent_id") is not None:
        parent_id = changes["parent_id"]
        if await session.get(Organization, parent_id) is None:
            raise ValidationFailed.for_field("body.parent_id", "上级机关不存在", "not_found")
        if await _ancestors_include(session, Organization, parent_id, org.id):
            raise ValidationFailed.for_field(
                "body.parent_id", "不能把机关设为自身或其下级机关的下级（机关树不能成环）", "tree_cycle"
            )
    if changes.get("code") and await _code_taken(session, changes["code"], other_than=org.id):
        raise Conflict("机关代码已被使用", code="organization_code_taken")
    for key, value in changes.items():
        setattr(org, key, value)
    await session.flush()
    await emit(session, event_tables, ORGANIZATION_UPDATED_V1, organization_payload(org))
    return org


async def get_organization(session: AsyncSession, org_id: uuid.UUID) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound("机关不存在")
    return org


async def _require_organization(session: AsyncSession, org_id: uuid.UUID, field: str) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise ValidationFailed.for_field(field, "机关不存在", "not_found")
    return org


def build_tree(rows: Sequence[Any], node_type: Any) -> list[Any]:
    """Nest rows by ``parent_id`` (an orphan whose parent is missing becomes a root)."""
    nodes = {r.id: node_type.model_validate(r) for r in rows}
    roots = []
    for row in rows:
        node = nodes[row.id]
        parent = nodes.get(row.parent_id) if row.parent_id else None
        if parent is None:
            roots.append(node)
        else:
            parent.children.append(node)
    return roots


# --------------------------------------------------------------------------------------------
# Categories, pilot areas, standard catalog entries, negative lists
# --------------------------------------------------------------------------------------------


async def create_category(session: AsyncSession, *, data: CategoryCreate) -> Category:
    if data.parent_id is not None and await session.get(Category, data.parent_id) is None:
        raise ValidationFailed.for_field("body.parent_id", "上级类别不存在", "not_found")
    category = Category(**data.model_dump())
    session.add(category)
    await session.flush()
    return category


async def update_category(session: AsyncSession, *, category_id: uuid.UUID, data: CategoryUpdate) -> Category:
    await _advisory_lock(session, _CATEGORY_LOCK)
    category = await session.get(Category, category_id, with_for_update=True)
    if category is None:
        raise NotFound("类别不存在")
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "scope", "position"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.for_field(f"body.{required}", "不能为空", "missing")
    if changes.get("parent_id") is not None:
        if await session.get(Category, changes["parent_id"]) is None:
            raise ValidationFailed.for_field("body.parent_id", "上级类别不存在", "not_found")
        if await _ancestors_include(session, Category, changes["parent_id"], category.id):
            raise ValidationFailed.for_field("body.parent_id", "目录类别不能成环", "tree_cycle")
    for key, value in changes.items():
        setattr(category, key, value)
    await session.flush()
    return category


async def create_pilot_area(session: AsyncSession, *, data: PilotAreaIn) -> PilotArea:
    if await session.scalar(select(PilotArea.id).where(PilotArea.name == data.name)):
        raise Conflict("试点领域已存在", code="pilot_area_exists")
    area = PilotArea(**data.model_dump())
    session.add(area)
    await session.flush()
    return area


async def update_pilot_area(session: AsyncSession, *, area_id: uuid.UUID, data: PilotAreaIn) -> PilotArea:
    area = await session.get(PilotArea, area_id, with_for_update=True)
    if area is None:
        raise NotFound("试点领域不存在")
    taken = await session.scalar(select(PilotArea.id).where(PilotArea.name == data.name, PilotArea.id != area_id))
    if taken:
        raise Conflict("试点领域已存在", code="pilot_area_exists")
    for key, value in data.model_dump().items():
        setattr(area, key, value)
    await session.flush()
    return area


async def delete_pilot_area(session: AsyncSession, *, area_id: uuid.UUID) -> None:
    area = await session.get(PilotArea, area_id)
    if area is None:
        raise NotFound("试点领域不存在")
    if await session.scalar(select(CatalogEntry.id).where(CatalogEntry.pilot_area_id == area_id).limit(1)):
        raise Conflict("仍有标准目录条目属于该试点领域", code="pilot_area_in_use")
    await session.delete(area)
    await session.flush()


def _require_catalog_editor(principal: Principal, org_id: uuid.UUID) -> None:
    principal.require_department(org_id)


async def create_catalog_entry(
    session: AsyncSession, *, org_id: uuid.UUID, principal: Principal, data: CatalogEntryIn
) -> CatalogEntry:
    _require_catalog_editor(principal, org_id)
    await get_organization(session, org_id)
    if data.pilot_area_id is not None and await session.get(PilotArea, data.pilot_area_id) is None:
        raise ValidationFailed.for_field("body.pilot_area_id", "试点领域不存在", "not_found")
    entry = CatalogEntry(organization_id=org_id, **data.model_dump())
    session.add(entry)
    await session.flush()
    return entry


async def get_catalog_entry(session: AsyncSession, *, org_id: uuid.UUID, entry_id: uuid.UUID) -> CatalogEntry:
    entry = await session.get(CatalogEntry, entry_id)
    if entry is None or entry.organization_id != org_id:
        raise NotFound("标准目录条目不存在")
    return entry


async def update_catalog_entry(
    session: AsyncSession, *, org_id: uuid.UUID, entry_id: uuid.UUID, principal: Principal, data: CatalogEntryIn
) -> CatalogEntry:
    _require_catalog_editor(principal, org_id)
    entry = await get_catalog_entry(session, org_id=org_id, entry_id=entry_id)
    if data.pilot_area_id is not None and await session.get(PilotArea, data.pilot_area_id) is None:
        raise ValidationFailed.for_field("body.pilot_area_id", "试点领域不存在", "not_found")
    for key, value in data.model_dump().items():
        setattr(entry, key, value)
    await session.flush()
    return entry


async def delete_catalog_entry(
    session: AsyncSession, *, org_id: uuid.UUID, entry_id: uuid.UUID, principal: Principal
) -> None:
    _require_catalog_editor(principal, org_id)
    entry = await get_catalog_entry(session, org_id=org_id, entry_id=entry_id)
    await session.delete(entry)
    await session.flush()


async def list_catalog_entries(session: AsyncSession, *, org_id: uuid.UUID) -> list[CatalogEntry]:
    stmt = (
        select(CatalogEntry)
        .where(CatalogEntry.organization_id == org_id)
        .order_by(CatalogEntry.position, CatalogEntry.id)
    )
    return list((await session.scalars(stmt)).all())


async def import_catalog_entries(
    session: AsyncSession, *, org_id: uuid.UUID, principal: Principal, data: bytes, replace: bool
) -> tuple[int, int]:
    """Import an xlsx (国办发〔2019〕54号 fields): all rows or none; every bad row named by number and column."""
    _require_catalog_editor(principal, org_id)
    await get_organization(session, org_id)
    rows, problems = standard_catalog.read_xlsx(data)
    areas = {a.name: a.id for a in (await session.scalars(select(PilotArea))).all()}
    entries: list[CatalogEntry] = []
    for number, values in rows:
        clean, row_problems = standard_catalog.check_entry(values)
        area_id = None
        area_name = str(values.get("pilot_area") or "").strip()
        if area_name:
            area_id = areas.get(area_name)
            if area_id is None:
                row_problems["pilot_area"] = f"试点领域“{area_name}”不在领域清单中"
        for attr, message in row_problems.items():
            header = standard_catalog.header_of(attr)
            problems.append(standard_catalog.ImportProblem(number, header, attr, f"第{number}行“{header}”：{message}"))
        if not row_problems:
            entries.append(
                CatalogEntry(organization_id=org_id, pilot_area_id=area_id, position=number - 1, **clean)  # type: ignore[arg-type]
            )
    if not rows and not problems:
        problems.append(standard_catalog.ImportProblem(2, "", "rows", "表格没有数据行"))
    if problems:
        raise ValidationFailed(
            f"导入失败：{len(problems)} 处错误，未导入任何条目",
            code="import_invalid",
            title="标准目录表格有误",
            errors=[
                FieldError(field=f"body.rows.{p.row}.{p.attr}" if p.row else "body", message=p.message, type="invalid")
                for p in problems
            ],
            extra={"rows": [{"row": p.row, "column": p.column, "message": p.message} for p in problems]},
        )
    replaced = 0
    if replace:
        result = await session.execute(delete(CatalogEntry).where(CatalogEntry.organization_id == org_id))
        replaced = result.rowcount or 0  # type: ignore[attr-defined]
    session.add_all(entries)
    await session.flush()
    return len(entries), replaced


async def export_catalog_entries(session: AsyncSession, *, org_id: uuid.UUID) -> bytes:
    org = await get_organization(session, org_id)
    areas = {a.id: a.name for a in (await session.scalars(select(PilotArea))).all()}
    rows = []
    for e in await list_catalog_entries(session, org_id=org_id):
        row = {f.attr: getattr(e, f.attr) for f in standard_catalog.FIELDS}
        row["pilot_area"] = areas.get(e.pilot_area_id) if e.pilot_area_id else None
        rows.append(row)
    return standard_catalog.write_xlsx(rows, title=f"{org.name}政务公开事项标准目录")


async def add_negative_term(
    session: AsyncSession, *, org_id: uuid.UUID, principal: Principal, data: NegativeTermIn
) -> NegativeTerm:
    await get_organization(session, org_id)
    term = data.term.strip()
    if not term:
        raise ValidationFailed.for_field("body.term", "词语不能为空", "missing")
    exists = await session.scalar(
        select(NegativeTerm.id).where(NegativeTerm.organization_id == org_id, NegativeTerm.term == term)
    )
    if exists:
        raise Conflict("该词语已在负面清单中", code="negative_term_exists")
    row = NegativeTerm(
        organization_id=org_id, term=term, category=data.category, note=data.note, created_by=principal.subject
    )
    session.add(row)
    await session.flush()
    return row


async def list_negative_terms(session: AsyncSession, *, org_id: uuid.UUID) -> list[NegativeTerm]:
    stmt = select(NegativeTerm).where(NegativeTerm.organization_id == org_id).order_by(NegativeTerm.term)
    return list((await session.scalars(stmt)).all())


async def delete_negative_term(session: AsyncSession, *, org_id: uuid.UUID, term_id: uuid.UUID) -> None:
    row = await session.get(NegativeTerm, term_id)
    if row is None or row.organization_id != org_id:
        raise NotFound("负面清单词语不存在")
    await session.delete(row)
    await session.flush()


# --------------------------------------------------------------------------------------------
# The publication clock (条例 art. 26)
# --------------------------------------------------------------------------------------------


def publication_due(calendar: WorkingDayCalendar, formed_on: dt.date) -> tuple[dt.date, bool]:
    """The last day to publish: 20 working days after the 生成日期 (the day itself not counted, domain.md §6).

    Provisional when the count crosses a year whose arrangement is not loaded yet.
    """
    result = calendar.add_working_days(formed_on, PUBLICATION_WORKING_DAYS, provisional=True)
    return result.end, result.provisional


async def _set_due(session: AsyncSession, item: Item) -> None:
    if item.formed_on is None:
        item.due_on, item.due_provisional = None, False
        return
    calendar = await load_calendar(session, calendar_table)
    item.due_on, item.due_provisional = publication_due(calendar, item.formed_on)


async def recompute_due_dates(session: AsyncSession, calendar: WorkingDayCalendar) -> int:
    """The calendar changed: recompute the deadline of every unpublished item; return how many moved."""
    items = (
        await session.scalars(
            select(Item).where(Item.status != ItemStatus.published, Item.formed_on.is_not(None)).with_for_update()
        )
    ).all()
    moved = 0
    for item in items:
        assert item.formed_on is not None
        due = publication_due(calendar, item.formed_on)
        if due != (item.due_on, item.due_provisional):
            item.due_on, item.due_provisional = due
            moved += 1
    await session.flush()
    return moved


async def deadline_trace(session: AsyncSession, item: Item) -> dict[str, Any]:
    """The art. 26 deadline with the days counted and skipped, for display."""
    if item.formed_on is None:
        raise NotFound("该信息没有生成日期")
    calendar = await load_calendar(session, calendar_table)
    trace = calendar.explain_add_working_days(item.formed_on, PUBLICATION_WORKING_DAYS, provisional=True)
    return {
        "basis": PUBLICATION_BASIS,
        "formed_on": item.formed_on,
        "working_days": PUBLICATION_WORKING_DAYS,
        "due_on": trace.end,
        "provisional": trace.provisional,
        "unknown_years": trace.unknown_years,
        "counted": [c.model_dump(mode="json") for c in trace.counted],
        "skipped": [s.model_dump(mode="json") for s in trace.skipped],
        "published_on": item.published_on,
        "published_late": item.published_late,
    }


def _deadline_payload(item: Item) -> ItemDeadlineV1:
    assert item.formed_on is not None and item.due_on is not None
    return ItemDeadlineV1(
        item_id=item.id,
        title=item.title,
        organization_id=item.organization_id,
        formed_on=item.formed_on,
        due_on=item.due_on,
        due_provisional=item.due_provisional,
        status=item.status.value,
    )


async def publication_clock_sweep(
    session: AsyncSession, *, settings: CatalogSettings, today: dt.date | None = None, batch: int = 500
) -> tuple[int, int]:
    """Emit due-soon and overdue once each for unpublished items (条例 art. 26); return (due_soon, overdue)."""
    today = today or china_today()
    calendar = await load_calendar(session, calendar_table)
    horizon = calendar.add_working_days(today, settings.due_soon_working_days, provisional=True).end
    now = utcnow()
    overdue = (
        await session.scalars(
            select(Item)
            .where(Item.status != ItemStatus.published, Item.overdue_sent_at.is_(None), Item.due_on < today)
            .order_by(Item.due_on)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for item in overdue:
        item.overdue_sent_at = now
        await emit(session, event_tables, ITEM_OVERDUE_V1, _deadline_payload(item))
    soon = (
        await session.scalars(
            select(Item)
            .where(
                Item.status != ItemStatus.published,
                Item.due_soon_sent_at.is_(None),
                Item.due_on >= today,
                Item.due_on <= horizon,
            )
            .order_by(Item.due_on)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for item in soon:
        item.due_soon_sent_at = now
        await emit(session, event_tables, ITEM_DUE_SOON_V1, _deadline_payload(item))
    await session.flush()
    return len(soon), len(overdue)


# --------------------------------------------------------------------------------------------
# Items: drafting
# --------------------------------------------------------------------------------------------


def _check_dates(*, effective_on: dt.date | None, abolish_on: dt.date | None) -> None:
    if effective_on and abolish_on and abolish_on < effective_on:
        raise ValidationFailed.for_field("body.abolish_on", "废止日期不能早于实施日期", "date_order")


async def _check_supersedes(session: AsyncSession, supersedes_id: uuid.UUID, *, item_id: uuid.UUID | None) -> Item:
    old = await session.get(Item, supersedes_id)
    if old is None or old.status != ItemStatus.published:
        raise ValidationFailed.for_field("body.supersedes_id", "被替代的文件不存在或尚未发布", "not_found")
    if item_id is not None and old.id == item_id:
        raise ValidationFailed.for_field("body.supersedes_id", "文件不能替代自身", "invalid")
    if old.superseded_by_id is not None:
        raise ValidationFailed.for_field("body.supersedes_id", "该文件已被其他文件替代", "already_superseded")
    return old


async def create_item(session: AsyncSession, *, principal: Principal, data: ItemCreate) -> Item:
    """Create a draft item for the principal's department; its art. 26 deadline starts at the 生成日期."""
    principal.require_department(data.organization_id)
    await _require_organization(session, data.organization_id, "body.organization_id")
    if data.category_id is not None and await session.get(Category, data.category_id) is None:
        raise ValidationFailed.for_field("body.category_id", "目录类别不存在", "not_found")
    if data.supersedes_id is not None:
        await _check_supersedes(session, data.supersedes_id, item_id=None)
    _check_dates(effective_on=data.effective_on, abolish_on=data.abolish_on)
    values = data.model_dump()
    # 生成日期 defaults to the 成文日期, else the day the item is registered (the clock must start somewhere).
    values["formed_on"] = data.formed_on or data.written_on or china_today()
    item = Item(**values, status=ItemStatus.draft, validity=Validity.effective, created_by=principal.subject)
    session.add(item)
    await _set_due(session, item)
    await session.flush()
    _record(session, item, principal, "created", stage="草稿")
    await session.flush()
    await index_item(session, item)
    return item


async def _visible_item(session: AsyncSession, item_id: uuid.UUID, principal: Principal, *, lock: bool) -> Item:
    item = await session.get(Item, item_id, with_for_update=lock)
    if item is None or (item.status != ItemStatus.published and not principal.can_act_for(item.organization_id)):
        raise NotFound("信息不存在")
    return item


async def get_item(session: AsyncSession, *, item_id: uuid.UUID, principal: Principal) -> Item:
    """Anyone reads a published item; drafts only by their department (and the office)."""
    return await _visible_item(session, item_id, principal, lock=False)


async def _editable_item(session: AsyncSession, item_id: uuid.UUID, principal: Principal) -> Item:
    item = await _visible_item(session, item_id, principal, lock=True)
    principal.require_department(item.organization_id)
    return item


async def update_item(session: AsyncSession, *, item_id: uuid.UUID, principal: Principal, data: ItemUpdate) -> Item:
    """Edit a draft (only drafts change: under review or published, the text is what was approved)."""
    item = await _editable_item(session, item_id, principal)
    if item.status != ItemStatus.draft:
        raise Conflict("只有草稿可以修改；审查中的信息请先退回", code="not_draft")
    changes = data.model_dump(exclude_unset=True)
    for required in ("title", "kind", "body"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.for_field(f"body.{required}", "不能为空", "missing")
    if changes.get("category_id") is not None and await session.get(Category, changes["category_id"]) is None:
        raise ValidationFailed.for_field("body.category_id", "目录类别不存在", "not_found")
    if changes.get("supersedes_id") is not None:
        await _check_supersedes(session, changes["supersedes_id"], item_id=item.id)
    _check_dates(
        effective_on=changes.get("effective_on", item.effective_on),
        abolish_on=changes.get("abolish_on", item.abolish_on),
    )
    if "keywords" in changes and changes["keywords"] is None:
        changes["keywords"] = []
    if "formed_on" in changes and changes["formed_on"] is None:
        changes["formed_on"] = changes.get("written_on", item.written_on) or china_date_of(item.created_at)
    for key, value in changes.items():
        setattr(item, key, value)
    if "formed_on" in changes:
        await _set_due(session, item)
    _record(session, item, principal, "updated", stage="草稿", details={"fields": sorted(changes)})
    await session.flush()
    await index_item(session, item)
    return item


# --------------------------------------------------------------------------------------------
# Attachments
# --------------------------------------------------------------------------------------------


async def add_attachment(
    session: AsyncSession,
    *,
    item_id: uuid.UUID,
    principal: Principal,
    filename: str,
    content_type: str,
    data: bytes,
    settings: CatalogSettings,
) -> Attachment:
    """Attach a file to a draft; bytes that are not what the declared type says are refused."""
    item = await _editable_item(session, item_id, principal)
    if item.status != ItemStatus.draft:
        raise Conflict("只有草稿可以添加附件", code="not_draft")
    problem = files.check_attachment(
        filename=filename, content_type=content_type, data=data, max_bytes=settings.max_attachment_bytes
    )
    if problem is not None:
        raise ValidationFailed.for_field(problem.field, problem.message, problem.type)
    attachment = Attachment(
        item_id=item.id,
        filename=filename,
        content_type=files.base_content_type(content_type),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        created_by=principal.subject,
    )
    session.add(attachment)
    await session.flush()
    _record(session, item, principal, "attachment_added", stage="草稿", details={"filename": filename})
    await session.flush()
    await index_item(session, item)  # text attachments are searchable
    return attachment


async def list_attachments(session: AsyncSession, *, item_id: uuid.UUID) -> list[Attachment]:
    # The bytes are deferred: a list needs the metadata only.
    stmt = (
        select(Attachment).options(defer(Attachment.data)).where(Attachment.item_id == item_id).order_by(Attachment.id)
    )
    return list((await session.scalars(stmt)).all())


async def get_attachment(
    session: AsyncSession, *, item_id: uuid.UUID, attachment_id: uuid.UUID, principal: Principal
) -> Attachment:
    await get_item(session, item_id=item_id, principal=principal)
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or attachment.item_id != item_id:
        raise NotFound("附件不存在")
    return attachment


async def delete_attachment(
    session: AsyncSession, *, item_id: uuid.UUID, attachment_id: uuid.UUID, principal: Principal
) -> None:
    item = await _editable_item(session, item_id, principal)
    if item.status != ItemStatus.draft:
        raise Conflict("只有草稿可以删除附件", code="not_draft")
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or attachment.item_id != item_id:
        raise NotFound("附件不存在")
    _record(session, item, principal, "attachment_removed", stage="草稿", details={"filename": attachment.filename})
    await session.delete(attachment)
    await session.flush()
    await index_item(session, item)


# --------------------------------------------------------------------------------------------
# The sensitive-content check (条例 art. 14-16; 负面清单)
# --------------------------------------------------------------------------------------------


async def scan_item(session: AsyncSession, item: Item) -> list[dict[str, Any]]:
    """Findings over title, summary, body and text attachments, with the organization's negative list.

    Each finding carries the masked match only, never the full number.
    """
    terms = (
        await session.scalars(select(NegativeTerm.term).where(NegativeTerm.organization_id == item.organization_id))
    ).all()
    texts: list[tuple[str, str]] = [("title", item.title), ("summary", item.summary or ""), ("body", item.body)]
    attachments = (
        await session.scalars(
            select(Attachment).where(Attachment.item_id == item.id, Attachment.content_type.like("text/%"))
        )
    ).all()
    for attachment in attachments:
        texts.append((f"attachments.{attachment.filename}", attachment.data.decode("utf-8", errors="replace")))
    findings: list[dict[str, Any]] = []
    for field, text in texts:
        if not text:
            continue
        for f in sensitive.scan(text, terms):
            findings.append(
                {
                    "field": field,
                    "kind": f.kind,
                    "start": f.start,
                    "end": f.end,
                    "masked": f.masked,
                    "message": f.message,
                    "confidence": f.confidence,
                    "key": f"{field}|{f.kind}|{f.start}|{f.end}|{f.masked}",
                }
            )
    return findings


async def _overridden_keys(session: AsyncSession, item: Item) -> set[str]:
    """Findings a reviewer let pass since the item's latest submission."""
    submitted_at = await session.scalar(
        select(func.max(ItemEvent.at)).where(ItemEvent.item_id == item.id, ItemEvent.action == "submitted")
    )
    if submitted_at is None:
        return set()
    details = (
        await session.scalars(
            select(ItemEvent.details).where(
                ItemEvent.item_id == item.id, ItemEvent.action == "sensitive_override", ItemEvent.at >= submitted_at
            )
        )
    ).all()
    return {f["key"] for d in details if d for f in d.get("findings", [])}


async def _sensitive_gate(
    session: AsyncSession,
    item: Item,
    principal: Principal,
    *,
    check: str,
    override_reason: str | None,
    at: dt.datetime,
) -> None:
    """Block on findings unless a reviewer overrides with a reason (recorded in the history)."""
    findings = await scan_item(session, item)
    if check == "publish":
        accepted = await _overridden_keys(session, item)
        findings = [f for f in findings if f["key"] not in accepted]
    if not findings:
        return
    what = "提交审查" if check == "submit" else "发布"
    if override_reason is None:
        raise ValidationFailed(
            f"发现 {len(findings)} 处敏感内容，不能{what}：请修改，或由审核人员说明理由后放行",
            code="sensitive_content",
            title="发现敏感内容",
            errors=[
                FieldError(field=f"item.{f['field']}", message=f"{f['message']}（{f['masked']}）", type=f["kind"])
                for f in findings
            ],
            extra={"findings": [{k: v for k, v in f.items() if k != "key"} for f in findings]},
        )
    if not principal.has_any(*REVIEW_ROLES):
        raise Forbidden("只有审核人员可以放行敏感内容检查结果", code="override_requires_reviewer")
    _record(
        session,
        item,
        principal,
        "sensitive_override",
        at=at,
        stage=what,
        decision="放行",
        opinion=override_reason,
        details={"check": check, "findings": findings},
    )


# --------------------------------------------------------------------------------------------
# Review (条例 art. 17 先审查后公开)
# --------------------------------------------------------------------------------------------


async def submit_item(
    session: AsyncSession,
    *,
    item_id: uuid.UUID,
    principal: Principal,
    override_reason: str | None,
    settings: CatalogSettings,
) -> Item:
    """A draft goes to 保密审查, after the sensitive check."""
    item = await _editable_item(session, item_id, principal)
    if item.status != ItemStatus.draft:
        raise Conflict("只有草稿可以提交审查", code="not_draft")
    at = utcnow()
    _record(session, item, principal, "submitted", at=at, stage=CONFIDENTIALITY_STAGE)
    await session.flush()
    await _sensitive_gate(session, item, principal, check="submit", override_reason=override_reason, at=at)
    item.status = ItemStatus.in_review
    item.review_stage = 0
    await session.flush()
    await index_item(session, item)
    return item


def _require_reviewer(principal: Principal, item: Item) -> None:
    if not principal.has_any(*REVIEW_ROLES):
        raise Forbidden("审核需要审核人员（reviewer）角色", code="reviewer_role_required")
    principal.require_department(item.organization_id)


async def approve_item(
    session: AsyncSession, *, item_id: uuid.UUID, principal: Principal, opinion: str | None, settings: CatalogSettings
) -> Item:
    """Pass the current stage: 保密审查 → 初审 → 复审 → 终审 → approved. Nobody approves their own draft."""
    item = await _visible_item(session, item_id, principal, lock=True)
    _require_reviewer(principal, item)
    if item.status != ItemStatus.in_review or item.review_stage is None:
        raise Conflict("该信息不在审查中", code="not_in_review")
    if principal.subject == item.created_by:
        raise Forbidden(
            "审核人不得审核本人起草的信息（先审查后公开，条例第十七条：起草与审核须分离）",
            code="own_draft_approval",
            title="不得审核本人起草的信息",
        )
    stage = item.review_stage
    _record(session, item, principal, "approved", stage=stage_name(settings, stage), decision="通过", opinion=opinion)
    if stage >= len(settings.review_stages):
        item.status = ItemStatus.approved
        item.review_stage = None
    else:
        item.review_stage = stage + 1
    await session.flush()
    await index_item(session, item)
    return item


async def return_item(
    session: AsyncSession, *, item_id: uuid.UUID, principal: Principal, opinion: str, settings: CatalogSettings
) -> Item:
    """Any stage sends the item back to draft with an opinion."""
    item = await _visible_item(session, item_id, principal, lock=True)
    _require_reviewer(principal, item)
    if item.status not in (ItemStatus.in_review, ItemStatus.approved):
        raise Conflict("该信息不在审查中", code="not_in_review")
    stage = stage_name(settings, item.review_stage) if item.status == ItemStatus.in_review else "待发布"
    _record(session, item, principal, "returned", stage=stage, decision="退回", opinion=opinion)
    item.status = ItemStatus.draft
    item.review_stage = None
    await session.flush()
    await index_item(session, item)
    return item


async def item_history(session: AsyncSession, *, item_id: uuid.UUID, principal: Principal) -> list[ItemEvent]:
    """Every step of the item's life; for staff of its department and the office (it names reviewers)."""
    item = await _visible_item(session, item_id, principal, lock=False)
    if not principal.can_act_for(item.organization_id):
        raise NotFound("信息不存在")
    stmt = select(ItemEvent).where(ItemEvent.item_id == item_id).order_by(ItemEvent.at, ItemEvent.id)
    return list((await session.scalars(stmt)).all())


# --------------------------------------------------------------------------------------------
# Publication
# --------------------------------------------------------------------------------------------


async def next_index_number(session: AsyncSession, *, agency_code: str, year: int) -> str:
    """The next 索引号 of (agency code, year).

    One statement: the upsert increments the counter row and keeps it locked (as ``SELECT … FOR
    UPDATE`` would) until this transaction ends, so concurrent publications queue on the row and never
    get the same serial; a rolled-back publication gives its serial back unused, a committed one is
    never given again (the counter only grows; items.index_number is unique as a last guard).
    """
    serial = await session.scalar(
        insert(IndexCounter)
        .values(agency_code=agency_code, year=year, last_serial=1)
        .on_conflict_do_update(
            index_elements=[IndexCounter.agency_code, IndexCounter.year],
            set_={"last_serial": IndexCounter.last_serial + 1},
        )
        .returning(IndexCounter.last_serial)
    )
    assert serial is not None
    if serial > MAX_SERIAL:
        raise Conflict(f"{year}年度索引号序号已用尽（最多{MAX_SERIAL}个）", code="index_numbers_exhausted")
    return format_index_number(agency_code, year, serial)


def _validity_payload(item: Item, reason: str | None) -> ItemValidityChangedV1:
    assert item.validity_changed_on is not None
    return ItemValidityChangedV1(
        item_id=item.id,
        title=item.title,
        document_number=item.document_number,
        index_number=item.index_number,
        kind=item.kind.value,
        is_policy=item.kind in POLICY_KINDS,
        organization_id=item.organization_id,
        validity=item.validity.value,
        validity_label=VALIDITY_LABELS[item.validity],
        changed_on=item.validity_changed_on,
        reason=reason,
    )


async def _supersede(session: AsyncSession, new: Item, principal: Principal | None, today: dt.date) -> Item:
    """Link the new version and the old both ways (both stay public); the old stops being in force."""
    assert new.supersedes_id is not None
    old = await session.get(Item, new.supersedes_id, with_for_update=True)
    if old is None or old.status != ItemStatus.published:
        raise Conflict("被替代的文件不存在或尚未发布", code="supersedes_invalid")
    if old.superseded_by_id is not None:
        raise Conflict("被替代的文件已被其他文件替代", code="already_superseded")
    old.superseded_by_id = new.id
    _record(
        session,
        old,
        principal,
        "superseded",
        decision="被替代",
        opinion=f"被《{new.title}》（{new.document_number or new.index_number}）替代",
        details={"superseded_by": str(new.id)},
    )
    # The old version is in force until the new one takes effect: at once, or by the expiry sweep
    # on the day before the new 实施日期.
    if old.validity == Validity.effective:
        if new.effective_on is None or new.effective_on <= today:
            old.validity = Validity.expired
            old.validity_changed_on = new.effective_on or today
            await emit(session, event_tables, ITEM_VALIDITY_CHANGED_V1, _validity_payload(old, "superseded"))
        else:
            last_day = new.effective_on - dt.timedelta(days=1)
            if old.abolish_on is None or old.abolish_on > last_day:
                old.abolish_on = last_day
    if old.kind in POLICY_KINDS:
        await emit(
            session,
            event_tables,
            POLICY_SUPERSEDED_V1,
            PolicySupersededV1(
                item_id=old.id,
                title=old.title,
                document_number=old.document_number,
                index_number=old.index_number,
                organization_id=old.organization_id,
                superseded_by_item_id=new.id,
                superseded_by_title=new.title,
                superseded_by_document_number=new.document_number,
                superseded_on=today,
                new_effective_on=new.effective_on,
            ),
        )
    return old


async def publish_item(
    session: AsyncSession,
    *,
    item_id: uuid.UUID,
    principal: Principal,
    override_reason: str | None = None,
    settings: CatalogSettings,
) -> Item:
    """Publish an approved item: sensitive check again, 索引号, lateness (art. 26), supersede links, events."""
    item = await _visible_item(session, item_id, principal, lock=True)
    principal.require_department(item.organization_id)
    if item.status == ItemStatus.published:
        raise Conflict("该信息已发布", code="already_published")
    if item.status != ItemStatus.approved:
        raise Conflict("未经保密审查和内容审核的信息不得发布（条例第十七条 先审查后公开）", code="review_required")
    org = await session.get(Organization, item.organization_id)
    assert org is not None
    if not org.code:
        raise Conflict("发布机构尚未登记机关代码，无法编制索引号", code="organization_code_missing")
    await _sensitive_gate(session, item, principal, check="publish", override_reason=override_reason, at=utcnow())
    await _publish(session, item, org, principal)
    return item


async def _publish(
    session: AsyncSession,
    item: Item,
    org: Organization,
    principal: Principal | None,
    *,
    opinion: str | None = None,
    details: dict[str, Any] | None = None,
    archived_on: dt.date | None = None,
    index_number: str | None = None,
) -> None:
    """The publication itself (the caller checked review and the sensitive content): 索引号, dates, lateness
    (art. 26), the supersede links, the search row, and the events, all in the caller's transaction.

    ``archived_on``: an item of the former platform (存量导入), published then, with its ``index_number`` if it
    had one; the events say ``archived`` so that no interpretation falls due for it now."""
    published_on = archived_on or china_today()
    if index_number is None:
        assert org.code
        index_number = await next_index_number(session, agency_code=org.code, year=published_on.year)
    item.index_number = index_number
    item.status = ItemStatus.published
    item.review_stage = None
    item.published_at = (
        utcnow() if archived_on is None else dt.datetime.combine(archived_on, dt.time(), CHINA).astimezone(dt.UTC)
    )
    item.published_on = published_on
    item.publisher = item.publisher or org.name
    item.published_late = item.due_on is not None and published_on > item.due_on
    _record(
        session,
        item,
        principal,
        "published" if archived_on is None else "archived",
        stage="发布" if archived_on is None else "存量导入",
        decision=("逾期发布" if item.published_late else "按期发布") if archived_on is None else "导入",
        opinion=opinion,
        details={
            "index_number": item.index_number,
            "due_on": item.due_on.isoformat() if item.due_on else None,
            **({"published_on": archived_on.isoformat()} if archived_on else {}),
            **(details or {}),
        },
    )
    old = await _supersede(session, item, principal, published_on) if item.supersedes_id else None
    await session.flush()
    await index_item(session, item)
    if old is not None:
        await index_item(session, old)
    await emit(
        session,
        event_tables,
        ITEM_PUBLISHED_V1,
        ItemPublishedV1(
            item_id=item.id,
            index_number=item.index_number,
            title=item.title,
            summary=item.summary,
            document_number=item.document_number,
            kind=item.kind.value,
            kind_label=ITEM_KIND_LABELS[item.kind],
            is_policy=item.kind in POLICY_KINDS,
            organization_id=item.organization_id,
            category_id=item.category_id,
            keywords=list(item.keywords or []),
            formed_on=item.formed_on,
            published_on=published_on,
            due_on=item.due_on,
            published_late=bool(item.published_late),
            origin=item.origin,
            origin_id=item.origin_id,
            interprets_item_id=await _interpreted_policy(session, item),
            archived=archived_on is not None,
        ),
    )
    if item.kind in POLICY_KINDS:
        await emit(
            session,
            event_tables,
            POLICY_PUBLISHED_V1,
            PolicyPublishedV1(
                item_id=item.id,
                title=item.title,
                document_number=item.document_number,
                index_number=item.index_number,
                kind=item.kind.value,
                kind_label=ITEM_KIND_LABELS[item.kind],
                organization_id=item.organization_id,
                organization_name=org.name,
                body=item.body,
                summary=item.summary,
                written_on=item.written_on,
                formed_on=item.formed_on,
                published_on=published_on,
                effective_on=item.effective_on,
                abolish_on=item.abolish_on,
                publisher=item.publisher,
                subject_category=item.subject_category,
                keywords=list(item.keywords or []),
                supersedes_item_id=item.supersedes_id,
                supersedes_document_number=old.document_number if old else None,
                head_name=org.head_name,
                archived=archived_on is not None,
            ),
        )


#: The earliest 发布日期 an imported item may carry.
MIN_ARCHIVED_ON = dt.date(1949, 10, 1)


async def import_archived_item(session: AsyncSession, *, principal: Principal, data: ArchivedItemIn) -> Item:
    """存量信息导入: an item the office published on its former platform, brought over as published with its own
    发布日期 and 索引号 (or one numbered in that date's year). It was reviewed when it was first published; the
    sensitive-content check still runs (a reviewer may let findings pass, as at publication). Its art. 26
    lateness is computed from its 生成日期 like any other item's; no interpretation falls due for it now."""
    if data.published_on > china_today():
        raise ValidationFailed.for_field("body.published_on", "原发布日期不能晚于今天", "future_date")
    if data.published_on < MIN_ARCHIVED_ON:
        raise ValidationFailed.for_field("body.published_on", "原发布日期不能早于1949年10月1日", "date_range")
    for name in ("written_on", "formed_on"):
        value = getattr(data, name)
        if value is not None and value > data.published_on:
            raise ValidationFailed.for_field(f"body.{name}", "成文日期和生成日期不能晚于发布日期", "date_order")
    parsed: IndexNumber | None = None
    if data.index_number is not None:
        try:
            parsed = parse_index_number(data.index_number)
        except ValueError as exc:
            raise ValidationFailed.for_field("body.index_number", str(exc), "index_number_invalid") from None
        if await session.scalar(select(Item.id).where(Item.index_number == str(parsed))) is not None:
            raise Conflict(f"索引号 {parsed} 已被使用", code="index_number_taken")
    policy: Item | None = None
    if data.interprets_item_id is not None:
        if data.kind != ItemKind.interpretation:
            raise ValidationFailed.for_field(
                "body.interprets_item_id", "只有政策解读可以关联所解读的政策", "not_allowed"
            )
        policy = await session.get(Item, data.interprets_item_id)
        if policy is None or policy.status != ItemStatus.published or policy.kind not in POLICY_KINDS:
            raise ValidationFailed.for_field("body.interprets_item_id", "所解读的政策不存在或尚未发布", "not_found")
    values = data.model_dump(exclude={"published_on", "index_number", "interprets_item_id", "override_reason"})
    values["formed_on"] = data.formed_on or data.written_on or data.published_on
    item = await create_item(session, principal=principal, data=ItemCreate(**values))
    org = await session.get(Organization, item.organization_id)
    assert org is not None
    if parsed is None and not org.code:
        raise Conflict("发布机构尚未登记机关代码，无法编制索引号（或请填写原索引号）", code="organization_code_missing")
    await _sensitive_gate(session, item, principal, check="publish", override_reason=data.override_reason, at=utcnow())
    if parsed is not None and parsed.agency_code == org.code and parsed.month is None:
        # A number given by hand must never be given again by the counter of its year.
        await session.execute(
            insert(IndexCounter)
            .values(agency_code=parsed.agency_code, year=parsed.year, last_serial=parsed.serial)
            .on_conflict_do_update(
                index_elements=[IndexCounter.agency_code, IndexCounter.year],
                set_={"last_serial": func.greatest(IndexCounter.last_serial, parsed.serial)},
            )
        )
    if policy is not None:  # 双向关联: the policy shows this interpretation, the interpretation its policy
        session.add(ItemLink(item_id=item.id, target_id=policy.id, relation=LinkRelation.interprets))
        _record(
            session,
            policy,
            principal,
            "interpretation_linked",
            decision="关联",
            opinion=f"关联政策解读《{item.title}》（存量导入）",
            details={"linked_item_id": str(item.id)},
        )
        await session.flush()
    await _publish(
        session, item, org, principal, archived_on=data.published_on, index_number=str(parsed) if parsed else None
    )
    return item


# --------------------------------------------------------------------------------------------
# Lifecycle: repeal and expiry (立、改、废)
# --------------------------------------------------------------------------------------------


async def repeal_item(
    session: AsyncSession, *, item_id: uuid.UUID, principal: Principal, repealed_on: dt.date, reason: str
) -> Item:
    """Mark a published item 废止 with its date; it stays public, showing its validity."""
    item = await _visible_item(session, item_id, principal, lock=True)
    principal.require_department(item.organization_id)
    if item.status != ItemStatus.published:
        raise Conflict("只有已发布的信息可以废止", code="not_published")
    if item.validity == Validity.repealed:
        raise Conflict("该信息已废止", code="already_repealed")
    if item.effective_on and repealed_on < item.effective_on:
        raise ValidationFailed.for_field("body.repealed_on", "废止日期不能早于实施日期", "date_order")
    if repealed_on > china_today():
        raise ValidationFailed.for_field(
            "body.repealed_on", "废止日期不能晚于今天（预定的废止请在起草时填写废止日期）", "future_date"
        )
    item.validity = Validity.repealed
    item.validity_changed_on = repealed_on
    item.abolish_on = repealed_on
    _record(session, item, principal, "repealed", decision="废止", opinion=reason, details={"on": str(repealed_on)})
    await session.flush()
    await index_item(session, item)
    await emit(session, event_tables, ITEM_VALIDITY_CHANGED_V1, _validity_payload(item, reason))
    return item


async def expiry_sweep(session: AsyncSession, *, today: dt.date | None = None, batch: int = 500) -> int:
    """Published items whose 废止日期 (end date) has come become 失效; return how many."""
    today = today or china_today()
    items = (
        await session.scalars(
            select(Item)
            .where(
                Item.status == ItemStatus.published,
                Item.validity == Validity.effective,
                Item.abolish_on.is_not(None),
                Item.abolish_on <= today,
            )
            .order_by(Item.abolish_on)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for item in items:
        item.validity = Validity.expired
        item.validity_changed_on = item.abolish_on
        _record(session, item, None, "expired", decision="失效", opinion=f"废止日期 {item.abolish_on} 已到")
        await emit(session, event_tables, ITEM_VALIDITY_CHANGED_V1, _validity_payload(item, "expired"))
    await session.flush()
    for item in items:
        await index_item(session, item)
    return len(items)


# --------------------------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------------------------


def item_filters(
    principal: Principal,
    *,
    organization_id: uuid.UUID | None = None,
    category_id: uuid.UUID | None = None,
    kind: ItemKind | None = None,
    year: int | None = None,
    validity: Validity | None = None,
    status: ItemStatus | None = None,
    index_number: str | None = None,
    document_number: str | None = None,
) -> list[Any]:
    """WHERE clauses of an item list: the public sees published items only; staff also their drafts."""
    conditions: list[Any] = []
    if is_office(principal):
        pass
    elif principal.department_id is not None and not principal.is_anonymous:
        conditions.append(or_(Item.status == ItemStatus.published, Item.organization_id == principal.department_id))
    else:
        conditions.append(Item.status == ItemStatus.published)
    if organization_id is not None:
        conditions.append(Item.organization_id == organization_id)
    if category_id is not None:
        conditions.append(Item.category_id == category_id)
    if kind is not None:
        conditions.append(Item.kind == kind)
    if year is not None:
        conditions.append(extract("year", Item.published_on) == year)
    if validity is not None:
        conditions.append(and_(Item.validity == validity, Item.status == ItemStatus.published))
    if status is not None:
        conditions.append(Item.status == status)
    if index_number is not None:
        conditions.append(Item.index_number == index_number)
    if document_number is not None:
        conditions.append(Item.document_number == document_number)
    return conditions


async def attachments_by_item(session: AsyncSession, item_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list]:
    ids = list(item_ids)
    out: dict[uuid.UUID, list] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = select(Attachment).options(defer(Attachment.data)).where(Attachment.item_id.in_(ids)).order_by(Attachment.id)
    for a in (await session.scalars(stmt)).all():
        out[a.item_id].append(a)
    return out


# --------------------------------------------------------------------------------------------
# Annual report, table 二 (国办公开办函〔2021〕30号; 条例 art. 20 (一)(五)(六)(八))
# --------------------------------------------------------------------------------------------


async def _document_counts(
    session: AsyncSession, *, org_id: uuid.UUID, kind: ItemKind, year: int, as_of: dt.date
) -> DocumentCounts:
    base = [Item.organization_id == org_id, Item.kind == kind, Item.status == ItemStatus.published]
    issued_on = func.coalesce(Item.written_on, Item.published_on)
    issued = await session.scalar(select(func.count()).where(*base, extract("year", issued_on) == year))
    repealed = await session.scalar(
        select(func.count()).where(
            *base, Item.validity == Validity.repealed, extract("year", Item.validity_changed_on) == year
        )
    )
    in_force = await session.scalar(
        select(func.count()).where(
            *base,
            Item.published_on <= as_of,
            or_(Item.validity == Validity.effective, Item.validity_changed_on > as_of),
        )
    )
    return DocumentCounts(issued=issued or 0, repealed=repealed or 0, in_force=in_force or 0)


async def table2(session: AsyncSession, *, org_id: uuid.UUID, year: int) -> Table2Out:
    """规章 and 行政规范性文件 from the catalog; the other figures as supplied."""
    await get_organization(session, org_id)
    as_of = min(dt.date(year, 12, 31), china_today())
    figures = await session.get(AnnualFigures, (org_id, year))
    return Table2Out(
        organization_id=org_id,
        year=year,
        as_of=as_of,
        regulations=await _document_counts(session, org_id=org_id, kind=ItemKind.regulation, year=year, as_of=as_of),
        normative_documents=await _document_counts(
            session, org_id=org_id, kind=ItemKind.normative_document, year=year, as_of=as_of
        ),
        licensing_decisions=figures.licensing_decisions if figures else None,
        penalty_decisions=figures.penalty_decisions if figures else None,
        enforcement_decisions=figures.enforcement_decisions if figures else None,
        fee_amount=figures.fee_amount if figures else None,
        supplied_by=figures.updated_by if figures else None,
        supplied_at=figures.updated_at if figures else None,
    )


async def put_annual_figures(
    session: AsyncSession, *, org_id: uuid.UUID, year: int, principal: Principal, data: AnnualFiguresIn
) -> Table2Out:
    await get_organization(session, org_id)
    values = data.model_dump()
    await session.execute(
        insert(AnnualFigures)
        .values(organization_id=org_id, year=year, updated_by=principal.subject, **values)
        .on_conflict_do_update(
            index_elements=[AnnualFigures.organization_id, AnnualFigures.year],
            set_={**values, "updated_by": principal.subject, "updated_at": utcnow()},
        )
    )
    session.expire_all()
    return await table2(session, org_id=org_id, year=year)


# --------------------------------------------------------------------------------------------
# 依申请转主动: repeated topics of applications become suggestions in the office's queue
# --------------------------------------------------------------------------------------------


async def on_topic_repeated(session: AsyncSession, envelope: Envelope) -> None:
    """``requests.topic.repeated``: open (or grow) the department's suggestion for that topic (domain.md §2)."""
    event = TopicRepeatedV1.model_validate(envelope.data)
    title = event.suggested_title.strip()[:500]
    existing = await session.scalar(
        select(Suggestion)
        .where(
            Suggestion.organization_id == event.department_id,
            Suggestion.title == title,
            Suggestion.status == SuggestionStatus.open,
        )
        .with_for_update()
    )
    event_id = str(envelope.id)
    applications = [str(a) for a in event.application_ids]
    if existing is None:
        session.add(
            Suggestion(
                organization_id=event.department_id,
                title=title,
                applicant_count=event.applicant_count,
                application_ids=applications,
                source_event_ids=[event_id],
                status=SuggestionStatus.open,
            )
        )
    elif event_id not in existing.source_event_ids:
        existing.application_ids = sorted(set(existing.application_ids) | set(applications))
        existing.applicant_count = max(existing.applicant_count, event.applicant_count)
        existing.source_event_ids = [*existing.source_event_ids, event_id]
    await session.flush()


async def list_suggestions(
    session: AsyncSession, *, principal: Principal, status: SuggestionStatus | None
) -> list[Suggestion]:
    stmt = select(Suggestion).order_by(Suggestion.applicant_count.desc(), Suggestion.id)
    if not is_office(principal):
        stmt = stmt.where(Suggestion.organization_id == principal.department_id)
    if status is not None:
        stmt = stmt.where(Suggestion.status == status)
    return list((await session.scalars(stmt)).all())


async def decide_suggestion(
    session: AsyncSession,
    *,
    suggestion_id: uuid.UUID,
    principal: Principal,
    accept: bool,
    note: str | None,
    item_id: uuid.UUID | None,
) -> Suggestion:
    """The office accepts (optionally naming the item that now publishes it) or dismisses, with a note."""
    suggestion = await session.get(Suggestion, suggestion_id, with_for_update=True)
    if suggestion is None:
        raise NotFound("建议不存在")
    if suggestion.status != SuggestionStatus.open:
        raise Conflict("该建议已处理", code="suggestion_decided")
    if not accept and not note:
        raise ValidationFailed.for_field("body.note", "不予采纳须说明理由", "missing")
    if item_id is not None:
        item = await session.get(Item, item_id)
        if item is None or item.organization_id != suggestion.organization_id:
            raise ValidationFailed.for_field("body.item_id", "信息不存在或不属于该部门", "not_found")
    suggestion.status = SuggestionStatus.accepted if accept else SuggestionStatus.dismissed
    suggestion.item_id = item_id if accept else None
    suggestion.decided_by = principal.subject
    suggestion.decided_at = utcnow()
    suggestion.decision_note = note
    await session.flush()
    return suggestion


# --------------------------------------------------------------------------------------------
# Links from other services (issue 3 point 8; issue 5 point 6): 政策解读 items, 双向关联
# --------------------------------------------------------------------------------------------

INTERPRETATION_ORIGIN = "interpretation"
#: The history entry of a 政策解读 published from the interpretation service, whose review it passed there.
FROM_INTERPRETATION = "由政策解读系统发布"
INTERPRETATION_SYSTEM = Principal(subject="system:interpretation", name="政策解读系统", roles=frozenset({Role.system}))


def interpretation_body(event: InterpretationPublishedV1) -> str:
    """The 政策解读 item's body: the interpretation's text, its forms (with their links or attachments) and its
    Q&A (简明问答), in that order (domain.md §4: forms other than text count, and are shown)."""
    parts = [event.text.strip()] if event.text.strip() else []
    forms = []
    for f in event.forms:
        where = f.url or (f"附件 {f.attachment_id}" if f.attachment_id else "")
        line = f"【{f.form_label}】{f.title or ''}"
        forms.append(f"{line}：{where}" if where else line)
    if forms:
        parts.append("解读形式：\n" + "\n".join(forms))
    if event.qa_pairs:
        parts.append("简明问答：\n" + "\n".join(f"问：{q.question}\n答：{q.answer}" for q in event.qa_pairs))
    return "\n\n".join(parts)


async def _interpreted_policy(session: AsyncSession, item: Item) -> uuid.UUID | None:
    if item.kind != ItemKind.interpretation:
        return None
    return await session.scalar(
        select(ItemLink.target_id).where(ItemLink.item_id == item.id, ItemLink.relation == LinkRelation.interprets)
    )


async def on_interpretation_published(session: AsyncSession, envelope: Envelope) -> None:
    """``interpretation.interpretation.published``: publish a 政策解读 item linked both ways with its policy.

    The interpretation went through review in the interpretation service (三同步: 同步审签), so the item is
    published at once, for the policy's organization, with its own 索引号. The sensitive-content check still
    runs (a leaked ID number is a leak whoever reviewed it): with findings the item waits in 保密审查 for
    a catalog reviewer instead. Idempotent beyond the inbox: one item per interpretation (``origin_id``).
    An interpretation of a policy the catalog does not hold cannot be linked: a dead letter with the reason.
    """
    event = InterpretationPublishedV1.model_validate(envelope.data)
    done = await session.scalar(
        select(Item.id).where(Item.origin == INTERPRETATION_ORIGIN, Item.origin_id == event.interpretation_id)
    )
    if done is not None:
        return
    policy = await session.get(Item, event.policy_item_id, with_for_update=True)
    if policy is None:
        raise PermanentError(
            f"解读所对应的政策文件不在目录中（policy_item_id={event.policy_item_id}），无法发布并关联政策解读"
        )
    if policy.status != ItemStatus.published:
        raise PermanentError(f"解读所对应的政策文件尚未发布（policy_item_id={policy.id}），无法发布政策解读")
    org = await session.get(Organization, policy.organization_id)
    assert org is not None
    if not org.code:
        raise PermanentError(
            f"机关“{org.name}”尚未登记机关代码，无法编制索引号；登记后可重放该事件（deadletter replay）"
        )
    item = Item(
        organization_id=policy.organization_id,
        category_id=policy.category_id,
        title=event.title.strip()[:500]
        or f"《{policy.title}》{'补充解读' if event.kind == 'supplementary' else '政策解读'}"[:500],
        # A 补充解读 answers a public-opinion event about the policy (国办发〔2016〕61号): say so.
        summary=f"对《{policy.title}》{f'（{policy.document_number}）' if policy.document_number else ''}的"
        + ("补充解读（回应社会关切）" if event.kind == "supplementary" else "解读"),
        kind=ItemKind.interpretation,
        body=interpretation_body(event),
        publisher=org.name,
        subject_category=policy.subject_category,
        keywords=list(policy.keywords or []),
        written_on=event.published_on,
        formed_on=event.published_on,
        status=ItemStatus.in_review,
        review_stage=0,
        validity=Validity.effective,
        created_by=INTERPRETATION_SYSTEM.subject,
        origin=INTERPRETATION_ORIGIN,
        origin_id=event.interpretation_id,
    )
    source = {
        "interpretation_id": str(event.interpretation_id),
        "task_id": str(event.task_id),
        "head_name": event.head_name,
        "on_time": event.on_time,
        "quality_score": event.quality_score,
        "interpretation_published_on": event.published_on.isoformat(),
    }
    await _receive(
        session,
        item,
        org,
        INTERPRETATION_SYSTEM,
        reviewed="政策解读已在政策解读系统审核通过",
        published=FROM_INTERPRETATION,
        details=source,
        link=(LinkRelation.interprets, policy, "interpretation_linked", f"关联政策解读《{item.title}》"),
    )


async def _receive(
    session: AsyncSession,
    item: Item,
    org: Organization,
    system: Principal,
    *,
    reviewed: str,
    published: str,
    details: dict[str, Any],
    link: tuple[LinkRelation, Item, str, str] | None,
) -> None:
    """An item another system reviewed and published: record it, link it, check it, publish it.

    The sensitive-content check still runs (a leaked ID number is a leak whoever reviewed the text, issue 3
    point 5): with findings the item waits in 保密审查 for a catalog reviewer, unannounced, instead.
    """
    session.add(item)
    await _set_due(session, item)
    await session.flush()
    _record(session, item, system, "received", stage=CONFIDENTIALITY_STAGE, opinion=reviewed, details=details)
    if link is not None:
        relation, target, action, opinion = link
        session.add(ItemLink(item_id=item.id, target_id=target.id, relation=relation))
        _record(
            session,
            target,
            system,
            action,
            decision="关联",
            opinion=opinion,
            details={"linked_item_id": str(item.id), **details},
        )
    await session.flush()
    findings = await scan_item(session, item)
    if findings:
        _record(
            session,
            item,
            system,
            "submitted",
            stage=CONFIDENTIALITY_STAGE,
            decision="待审核",
            opinion=f"敏感内容检查发现 {len(findings)} 处，须审核人员处理后发布（不自动发布）",
            details={"findings": [{k: v for k, v in f.items() if k != "key"} for f in findings]},
        )
        log.warning("received_item_held_for_review", item_id=str(item.id), origin=item.origin, findings=len(findings))
        await session.flush()
        await index_item(session, item)
        return
    await _publish(session, item, org, system, opinion=published, details=details)


# 回应关切 from the sentiment service (国办发〔2016〕61号、80号; domain.md §5)

SENTIMENT_ORIGIN = "sentiment"
FROM_SENTIMENT = "由舆情回应系统发布"
SENTIMENT_SYSTEM = Principal(subject="system:sentiment", name="舆情回应系统", roles=frozenset({Role.system}))
_RESPONSE_NS = uuid.UUID("3b7f0d0e-5a41-4d38-9c55-8f1d2e6a9b20")


def response_origin_id(event: ResponsePublishedV1) -> uuid.UUID:
    """One item per response. A response task may publish several (权威发布, then a 新闻发布会); the payload has no
    response id, so the id is derived from the task, the kind and the time: the same event gives the same id."""
    return uuid.uuid5(_RESPONSE_NS, f"{event.response_task_id}|{event.kind}|{event.published_at.isoformat()}")


async def on_response_published(session: AsyncSession, envelope: Envelope) -> None:
    """``sentiment.response.published``: publish a 回应关切 item for the responsible department (issue 3 point 8),
    linked to the policy it concerns when the catalog holds it. Idempotent (``origin_id``). A response with no
    department the catalog knows cannot be published: a dead letter with the reason."""
    event = ResponsePublishedV1.model_validate(envelope.data)
    origin_id = response_origin_id(event)
    if await session.scalar(select(Item.id).where(Item.origin == SENTIMENT_ORIGIN, Item.origin_id == origin_id)):
        return
    policy = await session.get(Item, event.policy_item_id, with_for_update=True) if event.policy_item_id else None
    if policy is not None and policy.status != ItemStatus.published:
        policy = None  # only a published item can be shown as what the response answers
    department = event.department_id or (policy.organization_id if policy else None)
    if department is None:
        raise PermanentError("回应没有责任部门（department_id 为空，也未关联目录中的政策），无法发布回应关切")
    org = await session.get(Organization, department)
    if org is None:
        raise PermanentError(f"责任部门不在目录的机关中（department_id={department}），无法发布回应关切")
    if not org.code:
        raise PermanentError(
            f"机关“{org.name}”尚未登记机关代码，无法编制索引号；登记后可重放该事件（deadletter replay）"
        )
    published_on = china_date_of(event.published_at)
    body = [event.content.strip(), f"回应形式：{event.kind_label}", f"所回应的舆情：{event.event_title}"]
    if event.url:
        body.append(f"原文链接：{event.url}")
    item = Item(
        organization_id=org.id,
        category_id=policy.category_id if policy else None,
        title=event.title.strip()[:500] or f"关于“{event.event_title}”的回应"[:500],
        summary=f"{event.kind_label}：回应“{event.event_title}”"[:5000],
        kind=ItemKind.response,
        body="\n\n".join(b for b in body if b),
        publisher=org.name,
        keywords=[event.topic[:50]] if event.topic else [],
        written_on=published_on,
        formed_on=published_on,
        status=ItemStatus.in_review,
        review_stage=0,
        validity=Validity.effective,
        created_by=SENTIMENT_SYSTEM.subject,
        origin=SENTIMENT_ORIGIN,
        origin_id=origin_id,
    )
    details = {
        "response_task_id": str(event.response_task_id),
        "event_id": str(event.event_id),
        "kind": event.kind,
        "on_time": event.on_time,
        "responded_at": event.published_at.isoformat(),
    }
    await _receive(
        session,
        item,
        org,
        SENTIMENT_SYSTEM,
        reviewed="回应已由责任部门在舆情回应系统发布",
        published=FROM_SENTIMENT,
        details=details,
        link=(LinkRelation.responds_to, policy, "response_linked", f"关联回应关切《{item.title}》") if policy else None,
    )


async def item_links(session: AsyncSession, *, item: Item, principal: Principal) -> list[dict[str, Any]]:
    """The items linked to ``item``, seen from it (双向关联): a policy lists its 政策解读, an interpretation its
    policy. Only linked items the caller may see (published, or their department's)."""
    out: list[dict[str, Any]] = []
    outgoing = await session.execute(
        select(ItemLink.relation, Item).join(Item, Item.id == ItemLink.target_id).where(ItemLink.item_id == item.id)
    )
    incoming = await session.execute(
        select(ItemLink.relation, Item).join(Item, Item.id == ItemLink.item_id).where(ItemLink.target_id == item.id)
    )
    for rows, inverse in ((outgoing, False), (incoming, True)):
        for relation, other in rows.all():
            if other.status != ItemStatus.published and not principal.can_act_for(other.organization_id):
                continue
            out.append({"relation": relation, "inverse": inverse, "item": other})
    out.sort(key=lambda r: (r["inverse"], r["item"].published_at or utcnow(), r["item"].id))
    return out
