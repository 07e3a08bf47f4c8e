"""Rectification lists (问题整改清单, 销号管理; issue 9 point 3). Never commits.

The seeds (000, 002): the office hands each department a list of problems to rectify (交办清单) and closes each one
(销号) only when it is done. Here: the office records a finding against a department (from its own checks, a
higher-level notice or a third-party evaluation) with a requirement and a deadline; the department answers with
what it did and its evidence; the office closes it or sends it back. A finding still open after its deadline is
flagged once (``catalog.finding.overdue``). A list per department and period is exported (xlsx) and can be
published as a notice (通报) through the catalog's review (条例 art. 17 先审查后公开).
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

from gongkai_shared.auth import Principal
from gongkai_shared.contracts.catalog import FINDING_OVERDUE_V1, FindingOverdueV1
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Conflict, NotFound, ValidationFailed
from gongkai_shared.events import emit
from gongkai_shared.timeutil import china_today
from gongkai_shared.xlsx import worksheet_row
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog import service as catalog
from gongkai_catalog.models import Item, ItemKind, Organization, event_tables
from gongkai_catalog.participation_models import (
    FINDING_SOURCE_LABELS,
    FINDING_STATUS_LABELS,
    FindingStatus,
    RectificationFinding,
)
from gongkai_catalog.schemas import ItemCreate
from gongkai_catalog.settings import CatalogSettings

__all__ = [
    "NOTICE_ORIGIN",
    "answer_finding",
    "close_finding",
    "create_finding",
    "export_findings",
    "finding_figures",
    "get_finding",
    "list_findings",
    "overdue_sweep",
    "prepare_notice",
    "return_finding",
]

NOTICE_ORIGIN = "rectification"
OPEN_STATUSES = (FindingStatus.assigned, FindingStatus.answered, FindingStatus.returned)
#: A fixed namespace: the notice of one (publisher, department, period) has one origin id, so it is drafted once.
_NOTICE_NS = uuid.UUID("0b7f3c4e-9a1d-4e57-8d0c-6a2f9e1b5c33")


def _step(finding: RectificationFinding, principal: Principal, action: str, note: str | None = None) -> None:
    finding.history = [
        *(finding.history or []),
        {
            "at": utcnow().isoformat(),
            "actor": principal.subject,
            "name": principal.name,
            "action": action,
            "note": note,
        },
    ]


async def create_finding(
    session: AsyncSession, *, principal: Principal, data: Any, today: dt.date | None = None
) -> RectificationFinding:
    """The office records a finding against a department (a department that exists), due by ``deadline``."""
    today = today or china_today()
    org = await session.get(Organization, data.department_id)
    if org is None:
        raise ValidationFailed.for_field("body.department_id", "整改责任部门不存在", "not_found")
    found_on = data.found_on or today
    if data.deadline < found_on:
        raise ValidationFailed.for_field("body.deadline", "整改期限不能早于发现问题的日期", "date_order")
    finding = RectificationFinding(
        department_id=org.id,
        source=data.source,
        source_reference=data.source_reference,
        problem=data.problem.strip(),
        requirement=data.requirement.strip(),
        found_on=found_on,
        deadline=data.deadline,
        status=FindingStatus.assigned,
        evidence=[],
        history=[],
        created_by=principal.subject,
    )
    _step(finding, principal, "交办", f"整改期限{data.deadline.isoformat()}")
    session.add(finding)
    await session.flush()
    return finding


async def get_finding(
    session: AsyncSession, *, finding_id: uuid.UUID, principal: Principal, lock: bool = False
) -> RectificationFinding:
    """The office sees every finding; a department its own."""
    finding = await session.get(RectificationFinding, finding_id, with_for_update=lock)
    if finding is None or not principal.can_act_for(finding.department_id):
        raise NotFound("整改事项不存在")
    return finding


async def answer_finding(
    session: AsyncSession, *, finding_id: uuid.UUID, principal: Principal, data: Any, today: dt.date | None = None
) -> RectificationFinding:
    """The department says what it did, with evidence; the office then closes it or sends it back."""
    finding = await get_finding(session, finding_id=finding_id, principal=principal, lock=True)
    principal.require_department(finding.department_id)
    if finding.status not in (FindingStatus.assigned, FindingStatus.returned):
        raise Conflict(f"该事项{FINDING_STATUS_LABELS[finding.status]}，不能再反馈", code="finding_not_awaiting_answer")
    answer = data.answer.strip()
    if not answer:
        raise ValidationFailed.for_field("body.answer", "整改情况不能为空", "missing")
    finding.answer = answer
    finding.evidence = list(data.evidence)
    finding.answered_on = today or china_today()
    finding.answered_by = principal.subject
    finding.status = FindingStatus.answered
    _step(finding, principal, "反馈整改情况", answer[:200])
    await session.flush()
    return finding


async def close_finding(
    session: AsyncSession,
    *,
    finding_id: uuid.UUID,
    principal: Principal,
    note: str | None,
    today: dt.date | None = None,
) -> RectificationFinding:
    """销号: the office accepts the department's answer. Refused without one."""
    finding = await get_finding(session, finding_id=finding_id, principal=principal, lock=True)
    if finding.status == FindingStatus.closed:
        raise Conflict("该事项已销号", code="finding_closed")
    if finding.status != FindingStatus.answered or not finding.answer:
        raise Conflict(
            "责任部门尚未反馈整改情况，不能销号", code="finding_not_answered", title="未反馈整改情况不能销号"
        )
    finding.status = FindingStatus.closed
    finding.closed_on = today or china_today()
    finding.closed_by = principal.subject
    _step(finding, principal, "销号", note)
    await session.flush()
    return finding


async def return_finding(
    session: AsyncSession, *, finding_id: uuid.UUID, principal: Principal, reason: str
) -> RectificationFinding:
    """The office sends the answer back: the department must rectify again (same deadline)."""
    finding = await get_finding(session, finding_id=finding_id, principal=principal, lock=True)
    if finding.status != FindingStatus.answered:
        raise Conflict("只有已反馈的事项可以退回", code="finding_not_answered")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.for_field("body.reason", "退回须说明理由", "missing")
    finding.status = FindingStatus.returned
    finding.return_reason = reason
    _step(finding, principal, "退回重新整改", reason)
    await session.flush()
    return finding


async def list_findings(
    session: AsyncSession,
    *,
    principal: Principal,
    department_id: uuid.UUID | None,
    start: dt.date | None,
    end: dt.date | None,
    status: FindingStatus | None = None,
) -> list[RectificationFinding]:
    """Findings recorded in [start, end] (found_on), for one department or (the office) all."""
    stmt = select(RectificationFinding)
    if department_id is not None:
        if not principal.can_act_for(department_id):
            return []
        stmt = stmt.where(RectificationFinding.department_id == department_id)
    elif not principal.can_act_for(None):
        stmt = stmt.where(RectificationFinding.department_id == principal.department_id)
    if start is not None:
        stmt = stmt.where(RectificationFinding.found_on >= start)
    if end is not None:
        stmt = stmt.where(RectificationFinding.found_on <= end)
    if status is not None:
        stmt = stmt.where(RectificationFinding.status == status)
    stmt = stmt.order_by(RectificationFinding.found_on, RectificationFinding.id)
    return list((await session.scalars(stmt)).all())


def finding_state(f: RectificationFinding, today: dt.date) -> str:
    """按期销号 / 逾期销号 / 逾期未整改 / the status label."""
    if f.status == FindingStatus.closed:
        assert f.closed_on is not None
        return "按期销号" if f.closed_on <= f.deadline else "逾期销号"
    if today > f.deadline:
        return "逾期未销号"
    return FINDING_STATUS_LABELS[f.status]


async def _department_names(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = (await session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(ids)))).all()
    return dict(rows)


EXPORT_HEADERS = [
    "序号",
    "责任部门",
    "问题来源",
    "问题描述",
    "整改要求",
    "发现日期",
    "整改期限",
    "整改情况",
    "佐证材料",
    "状态",
    "销号日期",
]


async def export_findings(
    session: AsyncSession, findings: list[RectificationFinding], *, title: str, today: dt.date | None = None
) -> bytes:
    """The list as an xlsx workbook: a title row, then one row per finding."""
    today = today or china_today()
    names = await _department_names(session, {f.department_id for f in findings})
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "整改清单"
    ws.append(worksheet_row([title]))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(EXPORT_HEADERS))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(EXPORT_HEADERS)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for i, f in enumerate(findings, start=1):
        ws.append(
            worksheet_row(
                [
                    i,
                    names.get(f.department_id, ""),
                    FINDING_SOURCE_LABELS[f.source] + (f"（{f.source_reference}）" if f.source_reference else ""),
                    f.problem,
                    f.requirement,
                    f.found_on.isoformat(),
                    f.deadline.isoformat(),
                    f.answer or "",
                    "\n".join(f.evidence or []),
                    finding_state(f, today),
                    f.closed_on.isoformat() if f.closed_on else "",
                ]
            )
        )
    for column, width in zip("ABCDEFGHIJK", (6, 20, 16, 40, 40, 12, 12, 40, 30, 12, 12), strict=True):
        ws.column_dimensions[column].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def notice_text(
    findings: list[RectificationFinding], names: dict[uuid.UUID, str], *, period: str, today: dt.date
) -> tuple[str, str]:
    """(summary, body) of a 通报: the counts, then each finding with its state."""
    closed = sum(f.status == FindingStatus.closed for f in findings)
    on_time = sum(finding_state(f, today) == "按期销号" for f in findings)
    overdue = sum(finding_state(f, today) == "逾期未销号" for f in findings)
    summary = f"{period}共交办整改问题{len(findings)}个，已销号{closed}个（按期{on_time}个），逾期未销号{overdue}个。"
    lines = [summary, ""]
    for i, f in enumerate(findings, start=1):
        lines.append(
            f"{i}. {names.get(f.department_id, '')}：{f.problem}（{FINDING_SOURCE_LABELS[f.source]}；"
            f"整改要求：{f.requirement}；整改期限：{f.deadline.isoformat()}；状态：{finding_state(f, today)}）"
        )
    return summary, "\n".join(lines)


async def prepare_notice(
    session: AsyncSession,
    *,
    principal: Principal,
    data: Any,
    settings: CatalogSettings,
    today: dt.date | None = None,
) -> Item:
    """Draft the 通报 of a department's (or every department's) findings in a period and submit it to review."""
    today = today or china_today()
    publisher = await session.get(Organization, data.organization_id)
    if publisher is None:
        raise ValidationFailed.for_field("body.organization_id", "发布机关不存在", "not_found")
    if data.department_id is not None and await session.get(Organization, data.department_id) is None:
        raise ValidationFailed.for_field("body.department_id", "整改责任部门不存在", "not_found")
    if data.end < data.start:
        raise ValidationFailed.for_field("body.end", "结束日期不能早于开始日期", "date_order")
    findings = await list_findings(
        session, principal=principal, department_id=data.department_id, start=data.start, end=data.end
    )
    if not findings:
        raise Conflict("该期间没有整改事项，无需通报", code="no_findings")
    names = await _department_names(session, {f.department_id for f in findings})
    period = f"{data.start:%Y年%m月%d日}至{data.end:%Y年%m月%d日}"
    summary, body = notice_text(findings, names, period=period, today=today)
    scope = names.get(data.department_id, "") if data.department_id else "各部门"
    title = data.title or f"关于{scope}政务公开问题整改情况的通报（{period}）"
    origin_id = uuid.uuid5(_NOTICE_NS, f"{publisher.id}|{data.department_id}|{data.start}|{data.end}|{today}")
    existing = await session.scalar(select(Item).where(Item.origin == NOTICE_ORIGIN, Item.origin_id == origin_id))
    if existing is not None:
        raise Conflict("本期整改通报已起草", code="notice_exists", extra={"item_id": str(existing.id)})
    item = await catalog.create_item(
        session,
        principal=principal,
        data=ItemCreate(
            organization_id=publisher.id,
            category_id=data.category_id,
            title=title,
            summary=summary,
            kind=ItemKind.other_document,
            body=body,
            keywords=["政务公开", "整改通报"],
        ),
    )
    item.origin, item.origin_id = NOTICE_ORIGIN, origin_id
    await session.flush()
    await catalog.submit_item(session, item_id=item.id, principal=principal, override_reason=None, settings=settings)
    return item


async def overdue_sweep(session: AsyncSession, *, today: dt.date | None = None, batch: int = 500) -> int:
    """Flag each finding still open after its deadline, once (``catalog.finding.overdue``)."""
    today = today or china_today()
    late = (
        await session.scalars(
            select(RectificationFinding)
            .where(
                RectificationFinding.status.in_(OPEN_STATUSES),
                RectificationFinding.deadline < today,
                RectificationFinding.overdue_sent_at.is_(None),
            )
            .order_by(RectificationFinding.deadline)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for f in late:
        f.overdue_sent_at = utcnow()
        await emit(
            session,
            event_tables,
            FINDING_OVERDUE_V1,
            FindingOverdueV1(
                finding_id=f.id,
                department_id=f.department_id,
                source=f.source.value,
                problem=f.problem,
                deadline=f.deadline,
                status=f.status.value,
            ),
        )
    await session.flush()
    return len(late)


async def finding_figures(
    session: AsyncSession, *, department_id: uuid.UUID, start: dt.date, end: dt.date, today: dt.date
) -> dict[str, int]:
    """Findings recorded in [start, end]: open, closed on time, closed late, overdue (open past the deadline)."""
    rows = (
        await session.scalars(
            select(RectificationFinding).where(
                RectificationFinding.department_id == department_id,
                RectificationFinding.found_on >= start,
                RectificationFinding.found_on <= end,
            )
        )
    ).all()
    states = [finding_state(f, today) for f in rows]
    return {
        "findings": len(rows),
        "findings_open": sum(f.status != FindingStatus.closed for f in rows),
        "findings_closed_on_time": states.count("按期销号"),
        "findings_closed_late": states.count("逾期销号"),
        "findings_overdue": states.count("逾期未销号"),
    }
