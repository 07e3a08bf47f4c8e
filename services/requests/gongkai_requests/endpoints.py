from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from gongkai_shared.auth import Principal, Role, StaffPrincipal, require_roles
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Conflict, Forbidden, NotFound, Unauthorized, problem_responses
from gongkai_shared.pagination import Page, PageParams, page_params
from gongkai_shared.timeutil import china_today
from sqlalchemy import select

from gongkai_requests import service
from gongkai_requests.clock import DeadlineStatus
from gongkai_requests.models import (
    STATUS_LABELS,
    ApplicantType,
    Application,
    ApplicationStatus,
    Correspondence,
    Remedy,
    Transfer,
)
from gongkai_requests.notices import render_notice_docx, render_notice_html
from gongkai_requests.outcomes import Outcome, outcome_rule
from gongkai_requests.schemas import (
    AnnualStatisticsOut,
    ApplicationIn,
    ApplicationOut,
    CloseIn,
    CorrespondenceIn,
    CorrespondenceOut,
    DeadlinesOut,
    DeadlineSummary,
    DeliveryIn,
    EntryIn,
    EntryOut,
    ExplainedDeadline,
    ExplainOut,
    FeeNoticeIn,
    FeeOut,
    FeePaymentIn,
    FollowIn,
    FollowView,
    OrganizationIn,
    OrganizationOut,
    OutcomeIn,
    PublicDeadline,
    PublicReply,
    RemedyIn,
    RemedyOut,
    RemedyUpdate,
    StaffApplicationIn,
    SubmissionOut,
    Table3RowOut,
    Table4CellOut,
    TransferIn,
    TransferOut,
    WorkItem,
)
from gongkai_requests.settings import RequestsSettings
from gongkai_requests.statistics import TABLE3_COLUMN_LABELS

router = APIRouter()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
OfficePrincipal = Annotated[Principal, require_roles(Role.office, Role.admin)]


def get_settings(request: Request) -> RequestsSettings:
    return request.app.state.settings


def get_today(request: Request) -> dt.date:
    """China's date (the law's day). Tests may set ``app.state.today`` to a fixed-date function."""
    today: Callable[[], dt.date] = getattr(request.app.state, "today", china_today)
    return today()


Settings = Annotated[RequestsSettings, Depends(get_settings)]
Today = Annotated[dt.date, Depends(get_today)]


def _submission(app: Application, secret: str | None) -> SubmissionOut:
    return SubmissionOut(
        id=app.id,
        tracking_code=app.tracking_code,
        secret=secret,
        received_on=app.received_on,
        receipt_note=app.receipt_note,
        reply_due_on=app.reply_due_on,
        reply_due_provisional=app.reply_due_provisional,
        status=app.status,
    )


def application_out(app: Application, *, masked: bool) -> ApplicationOut:
    return ApplicationOut(
        id=app.id,
        tracking_code=app.tracking_code,
        channel=app.channel,
        department_id=app.department_id,
        applicant=service.applicant_out(app, masked=masked),
        title=app.title,
        document_number=app.document_number,
        description=app.description,
        wanted_form=app.wanted_form,
        delivery_method=app.delivery_method,
        received_on=app.received_on,
        receipt_note=app.receipt_note,
        status=app.status,
        outcome=Outcome(app.outcome) if app.outcome else None,
        outcome_details=app.outcome_details,
        decided_on=app.decided_on,
        replied_on=app.replied_on,
        closed_on=app.closed_on,
        close_reason=app.close_reason,
        repeat_of_id=app.repeat_of_id,
        published_match=app.published_match,
        reply_due_on=app.reply_due_on,
        reply_due_provisional=app.reply_due_provisional,
        clock_paused=app.clock_paused,
        deadlines=[DeadlineSummary.model_validate(d) for d in app.deadlines or []],
    )


# -- public ------------------------------------------------------------------------------------


@router.post(
    "/applications",
    status_code=201,
    response_model=SubmissionOut,
    tags=["申请（公众）"],
    summary="网上提交政府信息公开申请（无需账号）",
    responses=problem_responses(Conflict),
)
async def submit_application(
    data: ApplicationIn,
    session: SessionDep,
    settings: Settings,
    today: Today,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="幂等键：重试提交返回同一申请")
    ] = None,
) -> SubmissionOut:
    app, secret, created = await service.submit_online(
        session, data=data, idempotency_key=idempotency_key, settings=settings, today=today
    )
    if not created:
        response.status_code = 200
    return _submission(app, secret)


@router.post(
    "/follow",
    response_model=FollowView,
    tags=["申请（公众）"],
    summary="申请人凭查询码和密钥查看办理进度（不含个人信息）",
    responses=problem_responses(NotFound),
)
async def follow_application(data: FollowIn, session: SessionDep, settings: Settings, today: Today) -> FollowView:
    app, state, rows = await service.follow(
        session, tracking_code=data.tracking_code, secret=data.secret, settings=settings, today=today
    )
    replies = []
    if app.replied_on is not None and app.outcome is not None:
        rule = outcome_rule(app.outcome)
        replies.append(PublicReply(replied_on=app.replied_on, outcome_label=rule.report_label, decision=rule.decision))
    return FollowView(
        tracking_code=app.tracking_code,
        status=app.status,
        status_label=STATUS_LABELS[app.status],
        received_on=app.received_on,
        deadlines=[
            PublicDeadline(label=d.label, due_on=d.due_on, provisional=d.provisional, status=d.status)
            for d in state.deadlines
            if d.status is not DeadlineStatus.void
        ],
        replies=replies,
        events=service.public_events(rows),
    )


# -- staff: intake and reading -----------------------------------------------------------------


@router.post(
    "/staff/applications",
    status_code=201,
    response_model=SubmissionOut,
    tags=["申请（工作人员）"],
    summary="登记信函、当面、传真或口头提出的申请（条例第二十九条、第三十一条）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def register_application(
    data: StaffApplicationIn, session: SessionDep, principal: StaffPrincipal, settings: Settings, today: Today
) -> SubmissionOut:
    app, secret = await service.register(session, principal=principal, data=data, settings=settings, today=today)
    return _submission(app, secret)


@router.get(
    "/applications",
    response_model=Page[WorkItem],
    tags=["申请（工作人员）"],
    summary="工作清单：按答复期限排序（本部门；政务公开办可看全部）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def work_list(
    session: SessionDep,
    principal: StaffPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    department_id: Annotated[uuid.UUID | None, Query(description="部门（政务公开办可选任一部门）")] = None,
    status: Annotated[list[ApplicationStatus] | None, Query(description="状态，可多选")] = None,
    due_from: Annotated[dt.date | None, Query(description="答复期限不早于")] = None,
    due_to: Annotated[dt.date | None, Query(description="答复期限不晚于")] = None,
    applicant_type: Annotated[ApplicantType | None, Query(description="申请人类型")] = None,
    outcome: Annotated[Outcome | None, Query(description="处理结果")] = None,
) -> Page:
    rows, cursor = await service.work_list(
        session,
        principal=principal,
        params=params,
        department_id=department_id,
        statuses=status,
        due_from=due_from,
        due_to=due_to,
        applicant_type=applicant_type,
        outcome=outcome,
    )
    items = []
    for r in rows:
        item = WorkItem.model_validate(r)
        if r.applicant_type is ApplicantType.natural_person:
            item.applicant_name = service.mask_name(r.applicant_name)
        items.append(item)
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationOut,
    tags=["申请（工作人员）"],
    summary="查看申请（承办部门和政务公开办可见完整个人信息，每次查看均记录）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_application(application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> ApplicationOut:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    unmasked = service.may_see_personal_data(principal, app)
    if unmasked:
        await service.log_personal_data_read(
            session, principal=principal, application_id=app.id, purpose="view_application"
        )
    return application_out(app, masked=not unmasked)


@router.get(
    "/applications/{application_id}/deadlines",
    response_model=DeadlinesOut,
    tags=["法定期限"],
    summary="当前各项法定期限",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_deadlines(
    application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal, settings: Settings, today: Today
) -> DeadlinesOut:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    state = await service.clock_state(session, app, settings=settings, today=today)
    return DeadlinesOut(
        application_id=app.id,
        received_on=app.received_on,
        reply_started_on=state.reply_started_on,
        paused=state.paused,
        deadlines=[DeadlineSummary.model_validate(d.model_dump()) for d in state.deadlines],
    )


@router.get(
    "/applications/{application_id}/deadlines/explain",
    response_model=ExplainOut,
    tags=["法定期限"],
    summary="逐步说明每个期限：依据的事件、条款、计入的工作日、跳过的节假日",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def explain_deadlines(
    application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal, settings: Settings, today: Today
) -> ExplainOut:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    state = await service.clock_state(session, app, settings=settings, today=today)
    return ExplainOut(application_id=app.id, deadlines=[ExplainedDeadline.of(d) for d in state.deadlines])


# -- the ledger ---------------------------------------------------------------------------------


@router.get(
    "/applications/{application_id}/ledger",
    response_model=list[EntryOut],
    tags=["法定期限"],
    summary="法定事件台账",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_ledger(application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> list:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    return await service.ledger_rows(session, app.id)


@router.post(
    "/applications/{application_id}/ledger",
    status_code=201,
    response_model=EntryOut,
    tags=["法定期限"],
    summary="登记法定事件（补正、征求意见、延期、第三十五条期限、答复）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def add_entry(
    application_id: uuid.UUID,
    data: EntryIn,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: Settings,
    today: Today,
) -> object:
    return await service.add_entry(
        session, principal=principal, application_id=application_id, data=data, settings=settings, today=today
    )


# -- outcome and notices --------------------------------------------------------------------------


@router.post(
    "/applications/{application_id}/outcome",
    response_model=ApplicationOut,
    tags=["处理结果"],
    summary="作出处理决定（年报表三的一行）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def record_outcome(
    application_id: uuid.UUID,
    data: OutcomeIn,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: Settings,
    today: Today,
) -> ApplicationOut:
    app = await service.record_outcome(
        session, principal=principal, application_id=application_id, data=data, settings=settings, today=today
    )
    return application_out(app, masked=True)


@router.get(
    "/applications/{application_id}/notice.html",
    tags=["处理结果"],
    summary="答复告知书（HTML 预览）",
    response_class=HTMLResponse,
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def notice_html(
    application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal, settings: Settings
) -> HTMLResponse:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    ctx = await service.notice_context(session, app=app, settings=settings)
    await service.log_personal_data_read(session, principal=principal, application_id=app.id, purpose="notice_html")
    return HTMLResponse(render_notice_html(ctx))


@router.get(
    "/applications/{application_id}/notice.docx",
    tags=["处理结果"],
    summary="答复告知书（Word 文档，供存档打印）",
    response_class=Response,
    responses={
        200: {"content": {DOCX: {}}, "description": "Word 文档"},
        **problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
    },
)
async def notice_docx(
    application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal, settings: Settings
) -> Response:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    ctx = await service.notice_context(session, app=app, settings=settings)
    await service.log_personal_data_read(session, principal=principal, application_id=app.id, purpose="notice_docx")
    filename = f"notice-{app.tracking_code}.docx"
    return Response(
        render_notice_docx(ctx),
        media_type=DOCX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- correspondence, closing ----------------------------------------------------------------------


@router.get(
    "/applications/{application_id}/correspondence",
    response_model=list[CorrespondenceOut],
    tags=["送达"],
    summary="来往信件",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def list_correspondence(application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> list:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    return list(
        (
            await session.scalars(
                select(Correspondence)
                .where(Correspondence.application_id == app.id)
                .order_by(Correspondence.created_at, Correspondence.id)
            )
        ).all()
    )


@router.post(
    "/applications/{application_id}/correspondence",
    status_code=201,
    response_model=CorrespondenceOut,
    tags=["送达"],
    summary="登记来件或发件（渠道、邮件号、寄出与送达日期）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def add_correspondence(
    application_id: uuid.UUID, data: CorrespondenceIn, session: SessionDep, principal: StaffPrincipal, today: Today
) -> object:
    return await service.add_correspondence(
        session, principal=principal, application_id=application_id, data=data, today=today
    )


@router.post(
    "/applications/{application_id}/correspondence/{correspondence_id}/delivered",
    response_model=CorrespondenceOut,
    tags=["送达"],
    summary="登记送达",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def mark_delivered(
    application_id: uuid.UUID,
    correspondence_id: uuid.UUID,
    data: DeliveryIn,
    session: SessionDep,
    principal: StaffPrincipal,
    today: Today,
) -> object:
    return await service.mark_delivered(
        session,
        principal=principal,
        application_id=application_id,
        correspondence_id=correspondence_id,
        data=data,
        today=today,
    )


@router.post(
    "/applications/{application_id}/close",
    response_model=ApplicationOut,
    tags=["送达"],
    summary="办结（须答复已送达，或记录理由）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def close_application(
    application_id: uuid.UUID,
    data: CloseIn,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: Settings,
    today: Today,
) -> ApplicationOut:
    app = await service.close(
        session, principal=principal, application_id=application_id, data=data, settings=settings, today=today
    )
    return application_out(app, masked=True)


# -- fees ------------------------------------------------------------------------------------------


@router.post(
    "/applications/{application_id}/fee-notice",
    status_code=201,
    response_model=FeeOut,
    tags=["信息处理费"],
    summary="发出收费通知（按件或按量，二者只能选一）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def fee_notice(
    application_id: uuid.UUID,
    data: FeeNoticeIn,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: Settings,
    today: Today,
) -> object:
    return await service.fee_notice(
        session, principal=principal, application_id=application_id, data=data, settings=settings, today=today
    )


@router.post(
    "/applications/{application_id}/fee-payment",
    response_model=FeeOut,
    tags=["信息处理费"],
    summary="登记缴费",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def fee_payment(
    application_id: uuid.UUID,
    data: FeePaymentIn,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: Settings,
    today: Today,
) -> object:
    return await service.fee_payment(
        session, principal=principal, application_id=application_id, data=data, settings=settings, today=today
    )


# -- remedies, transfers ------------------------------------------------------------------------------


@router.get(
    "/applications/{application_id}/remedies",
    response_model=list[RemedyOut],
    tags=["复议与诉讼"],
    summary="行政复议、行政诉讼",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def list_remedies(application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> list:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    return list((await session.scalars(select(Remedy).where(Remedy.application_id == app.id))).all())


@router.post(
    "/applications/{application_id}/remedies",
    status_code=201,
    response_model=RemedyOut,
    tags=["复议与诉讼"],
    summary="登记行政复议或行政诉讼",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def add_remedy(
    application_id: uuid.UUID, data: RemedyIn, session: SessionDep, principal: StaffPrincipal, today: Today
) -> object:
    return await service.add_remedy(session, principal=principal, application_id=application_id, data=data, today=today)


@router.patch(
    "/applications/{application_id}/remedies/{remedy_id}",
    response_model=RemedyOut,
    tags=["复议与诉讼"],
    summary="登记复议或诉讼结果（维持、纠正、其他、尚未审结）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def update_remedy(
    application_id: uuid.UUID,
    remedy_id: uuid.UUID,
    data: RemedyUpdate,
    session: SessionDep,
    principal: StaffPrincipal,
    today: Today,
) -> object:
    return await service.update_remedy(
        session, principal=principal, application_id=application_id, remedy_id=remedy_id, data=data, today=today
    )


@router.get(
    "/applications/{application_id}/transfers",
    response_model=list[TransferOut],
    tags=["移交"],
    summary="移交记录",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def list_transfers(application_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> list:
    app = await service.get_application(session, application_id=application_id, principal=principal)
    return list(
        (await session.scalars(select(Transfer).where(Transfer.application_id == app.id).order_by(Transfer.at))).all()
    )


@router.post(
    "/applications/{application_id}/transfers",
    status_code=201,
    response_model=TransferOut,
    tags=["移交"],
    summary="移交其他部门办理（须说明理由）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def transfer(
    application_id: uuid.UUID, data: TransferIn, session: SessionDep, principal: StaffPrincipal
) -> object:
    return await service.transfer(session, principal=principal, application_id=application_id, data=data)


# -- organizations ----------------------------------------------------------------------------------------


@router.put(
    "/organizations/{organization_id}",
    response_model=OrganizationOut,
    tags=["机关"],
    summary="登记受理机关（目录服务的机关事件之外，由政务公开办登记）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def put_organization(
    organization_id: uuid.UUID, data: OrganizationIn, session: SessionDep, _: OfficePrincipal
) -> object:
    return await service.put_organization(session, organization_id=organization_id, data=data)


# -- statistics --------------------------------------------------------------------------------------------


#: Staff of the department, the office, or a system token with ``requests:read`` (annual tables hold counts only).
StatisticsPrincipal = Annotated[
    Principal, require_roles(Role.staff, Role.reviewer, Role.office, Role.admin, Role.system)
]


@router.get(
    "/statistics/{department_id}/{year}",
    response_model=AnnualStatisticsOut,
    tags=["统计"],
    summary="年度报告表三、表四（含格式校验）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def annual_statistics(
    department_id: uuid.UUID,
    year: Annotated[int, Path(ge=2008, le=2100)],
    session: SessionDep,
    principal: StatisticsPrincipal,
) -> AnnualStatisticsOut:
    # Another service (the catalog composing the annual report) reads with a system token that
    # carries ``requests:read`` and the organization's ``org:`` scope; counts only, no personal data.
    if Role.system in principal.roles and not principal.has_scope("requests:read"):
        raise Forbidden("该系统未获授权读取依申请公开数据")
    if not principal.can_act_for(department_id):
        raise NotFound("没有这个部门的统计")
    table3, table4 = await service.annual_tables(session, department_id=department_id, year=year)
    return AnnualStatisticsOut(
        department_id=department_id,
        year=year,
        table3_columns=list(TABLE3_COLUMN_LABELS),
        table3=[
            Table3RowOut(key=r.key, label=r.label, level=r.level, values=list(r.values) if r.values else None)
            for r in table3.rows()
        ],
        table4=[
            Table4CellOut(block=b, column=c, value=v)
            for (b, c), v in zip(table4.headers(), table4.values(), strict=True)
        ],
        checks=table3.checks() + table4.checks(),
        fees_collected=await service.annual_fees(session, department_id=department_id, year=year),
    )
