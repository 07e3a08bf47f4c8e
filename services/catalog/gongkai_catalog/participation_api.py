"""Routes of public participation and supervision (issue 9): consultations (意见征集), column freshness,
rectification lists (问题整改) and the assessment figures. Thin: the rules are in participation.py,
freshness.py and rectification.py."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from gongkai_shared.auth import CurrentPrincipal, Principal, Role, StaffPrincipal, require_roles
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, problem_responses
from gongkai_shared.timeutil import china_today
from sqlalchemy import select

from gongkai_catalog import freshness, participation, rectification
from gongkai_catalog.models import Item, Organization
from gongkai_catalog.participation_models import (
    CONSULTATION_STATUS_LABELS,
    CommentStatus,
    Consultation,
    ConsultationStatus,
    FindingStatus,
    RectificationFinding,
)
from gongkai_catalog.participation_schemas import (
    ColumnStateOut,
    CommentIn,
    CommentOut,
    CommentReceipt,
    ConsultationCreate,
    ConsultationOut,
    DocumentRef,
    FiguresOut,
    FindingAnswer,
    FindingClose,
    FindingCreate,
    FindingOut,
    FindingReturn,
    ModerationIn,
    NoticeIn,
    NoticeOut,
    PointIn,
    PointOut,
    PointUpdate,
    ReportIn,
)
from gongkai_catalog.settings import CatalogSettings

router = APIRouter()
OfficePrincipal = Annotated[Principal, require_roles(Role.office, Role.admin)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONSULTATIONS = "意见征集"
FRESHNESS = "栏目更新"
RECTIFICATION = "问题整改"


def get_settings(request: Request) -> CatalogSettings:
    return request.app.state.settings


SettingsDep = Annotated[CatalogSettings, Depends(get_settings)]


def _ref(item: Item | None) -> DocumentRef | None:
    if item is None:
        return None
    return DocumentRef(
        id=item.id,
        title=item.title,
        index_number=item.index_number,
        status=item.status.value,
        published_on=item.published_on,
    )


def _consultation_out(
    c: Consultation, counts: dict[str, int], draft: Item | None, report: Item | None, today: dt.date
) -> ConsultationOut:
    accepting = c.status == ConsultationStatus.open and not participation.period_ended(c, today)
    status = ConsultationStatus.closed if c.status == ConsultationStatus.open and not accepting else c.status
    return ConsultationOut(
        id=c.id,
        organization_id=c.organization_id,
        title=c.title,
        basis=c.basis,
        channels=c.channels,
        period_days=c.period_days,
        shortened_reason=c.shortened_reason,
        status=status,
        status_label=CONSULTATION_STATUS_LABELS[status],
        opened_on=c.opened_on,
        closes_on=c.closes_on,
        accepting_comments=accepting,
        report_due_on=c.report_due_on,
        draft=_ref(draft),
        report=_ref(report),
        comments_received=counts["received"],
        comments_valid=counts["valid"],
        comments_adopted=counts["adopted"],
    )


async def _view(session: SessionDep, consultation_id: uuid.UUID, principal: Principal) -> ConsultationOut:
    c, counts, draft, report = await participation.get_consultation(
        session, consultation_id=consultation_id, principal=principal
    )
    return _consultation_out(c, counts, draft, report, china_today())


# --------------------------------------------------------------------------------------------
# Consultations (意见征集)
# --------------------------------------------------------------------------------------------


@router.post(
    "/consultations",
    status_code=201,
    response_model=ConsultationOut,
    tags=[CONSULTATIONS],
    summary="登记征求意见事项（决策草案、决策依据、期限）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def create_consultation(
    data: ConsultationCreate, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> ConsultationOut:
    c = await participation.create_consultation(session, principal=principal, data=data, settings=settings)
    return await _view(session, c.id, principal)


@router.get("/consultations", response_model=list[ConsultationOut], tags=[CONSULTATIONS], summary="征求意见事项列表")
async def list_consultations(
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: Annotated[uuid.UUID | None, Query(description="决策承办机关")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ConsultationOut]:
    stmt = select(Consultation.id).order_by(Consultation.id.desc()).limit(limit)
    if organization_id is not None:
        stmt = stmt.where(Consultation.organization_id == organization_id)
    if organization_id is None or not principal.can_act_for(organization_id):
        stmt = stmt.where(Consultation.status != ConsultationStatus.draft)
    ids = (await session.scalars(stmt)).all()
    return [await _view(session, cid, principal) for cid in ids]


@router.get(
    "/consultations/{consultation_id}",
    response_model=ConsultationOut,
    tags=[CONSULTATIONS],
    summary="查看征求意见事项（公众可见：草案、期限、意见数量、反馈情况）",
    responses=problem_responses(NotFound),
)
async def get_consultation(
    consultation_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ConsultationOut:
    return await _view(session, consultation_id, principal)


@router.post(
    "/consultations/{consultation_id}/open",
    response_model=ConsultationOut,
    tags=[CONSULTATIONS],
    summary="开始征求意见",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def open_consultation(
    consultation_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> ConsultationOut:
    await participation.open_consultation(
        session, consultation_id=consultation_id, principal=principal, settings=settings
    )
    return await _view(session, consultation_id, principal)


@router.post(
    "/consultations/{consultation_id}/comments",
    status_code=201,
    response_model=CommentReceipt,
    tags=[CONSULTATIONS],
    summary="提交意见（无需登录；姓名和联系方式不公开）",
    responses=problem_responses(NotFound, Conflict),
)
async def submit_comment(
    consultation_id: uuid.UUID, data: CommentIn, session: SessionDep, settings: SettingsDep
) -> CommentReceipt:
    comment = await participation.submit_comment(session, consultation_id=consultation_id, data=data, settings=settings)
    return CommentReceipt(id=comment.id, submitted_on=comment.submitted_on)


@router.get(
    "/consultations/{consultation_id}/comments",
    response_model=list[CommentOut],
    tags=[CONSULTATIONS],
    summary="意见列表（本机关工作人员）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def list_comments(
    consultation_id: uuid.UUID,
    session: SessionDep,
    principal: StaffPrincipal,
    status: Annotated[CommentStatus | None, Query(description="状态")] = None,
) -> list:
    return await participation.list_comments(
        session, consultation_id=consultation_id, principal=principal, status=status
    )


@router.post(
    "/consultations/{consultation_id}/comments/{comment_id}/moderate",
    response_model=CommentOut,
    tags=[CONSULTATIONS],
    summary="审核意见（受理，或以垃圾信息、辱骂、个人信息、无关为由不予受理）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def moderate_comment(
    consultation_id: uuid.UUID,
    comment_id: uuid.UUID,
    data: ModerationIn,
    session: SessionDep,
    principal: StaffPrincipal,
) -> object:
    return await participation.moderate_comment(
        session,
        consultation_id=consultation_id,
        comment_id=comment_id,
        principal=principal,
        accept=data.decision == "accept",
        reason=data.reason,
        note=data.note,
    )


async def _points(session: SessionDep, consultation_id: uuid.UUID) -> list[PointOut]:
    return [
        PointOut(id=p.id, summary=p.summary, adopted=p.adopted, response=p.response, comments=n)
        for p, n in await participation.list_points(session, consultation_id)
    ]


@router.get(
    "/consultations/{consultation_id}/points",
    response_model=list[PointOut],
    tags=[CONSULTATIONS],
    summary="主要观点及采纳情况",
    responses=problem_responses(NotFound),
)
async def list_points(consultation_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> list[PointOut]:
    await participation.list_comments(session, consultation_id=consultation_id, principal=principal, status=None)
    return await _points(session, consultation_id)


@router.post(
    "/consultations/{consultation_id}/points",
    status_code=201,
    response_model=list[PointOut],
    tags=[CONSULTATIONS],
    summary="归纳主要观点（归入意见、采纳与否及理由）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def create_point(
    consultation_id: uuid.UUID, data: PointIn, session: SessionDep, principal: StaffPrincipal
) -> list[PointOut]:
    await participation.create_point(session, consultation_id=consultation_id, principal=principal, data=data)
    return await _points(session, consultation_id)


@router.patch(
    "/consultations/{consultation_id}/points/{point_id}",
    response_model=list[PointOut],
    tags=[CONSULTATIONS],
    summary="修改主要观点、采纳情况",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def update_point(
    consultation_id: uuid.UUID, point_id: uuid.UUID, data: PointUpdate, session: SessionDep, principal: StaffPrincipal
) -> list[PointOut]:
    await participation.update_point(
        session, consultation_id=consultation_id, point_id=point_id, principal=principal, data=data
    )
    return await _points(session, consultation_id)


@router.post(
    "/consultations/{consultation_id}/feedback-report",
    response_model=ConsultationOut,
    tags=[CONSULTATIONS],
    summary="生成意见采纳情况反馈并提交审查（征求意见期满后）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def feedback_report(
    consultation_id: uuid.UUID,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    data: ReportIn | None = None,
) -> ConsultationOut:
    await participation.prepare_feedback_report(
        session,
        consultation_id=consultation_id,
        principal=principal,
        settings=settings,
        override_reason=data.override_reason if data else None,
    )
    return await _view(session, consultation_id, principal)


# --------------------------------------------------------------------------------------------
# Column freshness
# --------------------------------------------------------------------------------------------


@router.get(
    "/columns/freshness",
    response_model=list[ColumnStateOut],
    tags=[FRESHNESS],
    summary="栏目更新情况（空白栏目、超期未更新栏目）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def column_freshness(
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="机关（缺省为全部，仅政务公开办）")] = None,
    state: Annotated[str | None, Query(pattern="^(empty|fresh|stale|no_rhythm)$", description="只看该状态")] = None,
    as_of: Annotated[dt.date | None, Query(description="截至日期（缺省为今天）")] = None,
) -> list[ColumnStateOut]:
    if organization_id is None:
        if not principal.can_act_for(None):
            raise ValidationFailed.for_field("query.organization_id", "请指定本机关", "missing")
    else:
        principal.require_department(organization_id)
    states = await freshness.column_states(session, settings=settings, today=as_of, organization_id=organization_id)
    return [
        ColumnStateOut(
            organization_id=s.organization_id,
            organization_name=s.organization_name,
            category_id=s.category_id,
            category_name=s.category_name,
            category_key=s.category_key,
            rhythm=s.rhythm,
            rhythm_label=freshness.RHYTHM_LABELS[s.rhythm],
            state=s.state,
            state_label=freshness.STATE_LABELS[s.state],
            published_count=s.published_count,
            last_published_on=s.last_published_on,
            fresh_until=s.fresh_until,
            stale_since=s.stale_since,
            days_silent=s.days_silent,
        )
        for s in states
        if state is None or s.state == state
    ]


# --------------------------------------------------------------------------------------------
# Rectification lists (问题整改, 销号管理)
# --------------------------------------------------------------------------------------------


def _finding_out(f: RectificationFinding, today: dt.date) -> FindingOut:
    out = FindingOut.model_validate(f)
    out.overdue = f.status != FindingStatus.closed and today > f.deadline
    return out


@router.post(
    "/rectification/findings",
    status_code=201,
    response_model=FindingOut,
    tags=[RECTIFICATION],
    summary="交办整改问题",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def create_finding(data: FindingCreate, session: SessionDep, principal: OfficePrincipal) -> FindingOut:
    f = await rectification.create_finding(session, principal=principal, data=data)
    return _finding_out(f, china_today())


@router.get(
    "/rectification/findings",
    response_model=list[FindingOut],
    tags=[RECTIFICATION],
    summary="整改清单（政务公开办看全部，部门看本部门）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_findings(
    session: SessionDep,
    principal: StaffPrincipal,
    department_id: Annotated[uuid.UUID | None, Query(description="责任部门")] = None,
    start: Annotated[dt.date | None, Query(alias="from", description="发现日期起")] = None,
    end: Annotated[dt.date | None, Query(alias="to", description="发现日期止")] = None,
    status: Annotated[FindingStatus | None, Query(description="状态")] = None,
) -> list[FindingOut]:
    rows = await rectification.list_findings(
        session, principal=principal, department_id=department_id, start=start, end=end, status=status
    )
    today = china_today()
    return [_finding_out(f, today) for f in rows]


@router.get(
    "/rectification/findings/export",
    tags=[RECTIFICATION],
    summary="导出整改清单（xlsx）",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **problem_responses(Unauthorized, Forbidden)},
)
async def export_findings(
    session: SessionDep,
    principal: StaffPrincipal,
    department_id: Annotated[uuid.UUID | None, Query(description="责任部门")] = None,
    start: Annotated[dt.date | None, Query(alias="from", description="发现日期起")] = None,
    end: Annotated[dt.date | None, Query(alias="to", description="发现日期止")] = None,
) -> Response:
    rows = await rectification.list_findings(
        session, principal=principal, department_id=department_id, start=start, end=end
    )
    name = "各部门"
    if department_id is not None:
        name = await session.scalar(select(Organization.name).where(Organization.id == department_id)) or name
    period = f"{start or '—'}至{end or '—'}"
    data = await rectification.export_findings(session, rows, title=f"{name}政务公开问题整改清单（{period}）")
    filename = quote(f"整改清单-{name}.xlsx")
    return Response(
        content=data, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"}
    )


@router.get(
    "/rectification/findings/{finding_id}",
    response_model=FindingOut,
    tags=[RECTIFICATION],
    summary="查看整改事项",
    responses=problem_responses(Unauthorized, NotFound),
)
async def get_finding(finding_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> FindingOut:
    f = await rectification.get_finding(session, finding_id=finding_id, principal=principal)
    return _finding_out(f, china_today())


@router.post(
    "/rectification/findings/{finding_id}/answer",
    response_model=FindingOut,
    tags=[RECTIFICATION],
    summary="部门反馈整改情况（附佐证材料）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def answer_finding(
    finding_id: uuid.UUID, data: FindingAnswer, session: SessionDep, principal: StaffPrincipal
) -> FindingOut:
    f = await rectification.answer_finding(session, finding_id=finding_id, principal=principal, data=data)
    return _finding_out(f, china_today())


@router.post(
    "/rectification/findings/{finding_id}/close",
    response_model=FindingOut,
    tags=[RECTIFICATION],
    summary="销号",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def close_finding(
    finding_id: uuid.UUID, session: SessionDep, principal: OfficePrincipal, data: FindingClose | None = None
) -> FindingOut:
    f = await rectification.close_finding(
        session, finding_id=finding_id, principal=principal, note=data.note if data else None
    )
    return _finding_out(f, china_today())


@router.post(
    "/rectification/findings/{finding_id}/return",
    response_model=FindingOut,
    tags=[RECTIFICATION],
    summary="退回重新整改",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def return_finding(
    finding_id: uuid.UUID, data: FindingReturn, session: SessionDep, principal: OfficePrincipal
) -> FindingOut:
    f = await rectification.return_finding(session, finding_id=finding_id, principal=principal, reason=data.reason)
    return _finding_out(f, china_today())


@router.post(
    "/rectification/notices",
    status_code=201,
    response_model=NoticeOut,
    tags=[RECTIFICATION],
    summary="起草整改情况通报并提交审查",
    responses=problem_responses(Unauthorized, Forbidden, Conflict),
)
async def prepare_notice(
    data: NoticeIn, session: SessionDep, principal: OfficePrincipal, settings: SettingsDep
) -> NoticeOut:
    item = await rectification.prepare_notice(session, principal=principal, data=data, settings=settings)
    return NoticeOut(item_id=item.id, title=item.title, status=item.status.value)


# --------------------------------------------------------------------------------------------
# Figures for the assessment
# --------------------------------------------------------------------------------------------


@router.get(
    "/participation/figures",
    response_model=FiguresOut,
    tags=[CONSULTATIONS, FRESHNESS, RECTIFICATION],
    summary="考核数据：意见征集、栏目更新、问题整改",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def figures(
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    organization_id: Annotated[uuid.UUID, Query(description="机关")],
    start: Annotated[dt.date, Query(alias="from", description="期间开始")],
    end: Annotated[dt.date, Query(alias="to", description="期间结束")],
) -> FiguresOut:
    principal.require_department(organization_id)
    if end < start:
        raise ValidationFailed.for_field("query.to", "结束日期不能早于开始日期", "date_order")
    if await session.get(Organization, organization_id) is None:
        raise NotFound("机关不存在")
    today = china_today()
    as_of = min(end, today)
    columns = await freshness.column_states(session, settings=settings, today=as_of, organization_id=organization_id)
    return FiguresOut(
        organization_id=organization_id,
        start=start,
        end=end,
        as_of=as_of,
        **await participation.consultation_figures(
            session, organization_id=organization_id, start=start, end=end, today=today
        ),
        columns=len(columns),
        columns_stale=sum(s.state == "stale" for s in columns),
        columns_empty=sum(s.state == "empty" for s in columns),
        **await rectification.finding_figures(
            session, department_id=organization_id, start=start, end=end, today=today
        ),
    )


__all__ = ["router"]
