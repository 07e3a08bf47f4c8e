from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import time
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from gongkai_shared.auth import ALL_DEPARTMENTS, Principal, Role, StaffPrincipal, require_roles
from gongkai_shared.db import SessionDep, utcnow
from gongkai_shared.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, problem_responses
from gongkai_shared.pagination import Page, PageParams, page_params, paginate
from gongkai_shared.xlsx import worksheet_row
from pydantic import ValidationError
from sqlalchemy import select

from gongkai_sentiment import service
from gongkai_sentiment.models import (
    RESPONSE_KIND_LABELS,
    RISK_LABELS,
    STAGE_LABELS,
    Account,
    Alert,
    OpinionEvent,
    Organization,
    Post,
    ResponseKind,
    ResponseTask,
    Stage,
)
from gongkai_sentiment.schemas import (
    AccountIn,
    AccountOut,
    AccountUpdateIn,
    AlertOut,
    BatchIn,
    EvaluateIn,
    EventOut,
    FlagIn,
    IngestOut,
    NoteIn,
    PostOut,
    RespondIn,
    RouteIn,
    TaskOut,
)
from gongkai_sentiment.settings import SentimentSettings

router = APIRouter()


def get_settings(request: Request) -> SentimentSettings:
    return request.app.state.settings


SettingsDep = Annotated[SentimentSettings, Depends(get_settings)]
#: People of a department or the office, and connector systems (API keys) with sentiment:write.
IngestPrincipal = Annotated[Principal, require_roles(Role.staff, Role.reviewer, Role.office, Role.admin, Role.system)]
OfficePrincipal = Annotated[Principal, require_roles(Role.office, Role.admin)]


def _check_system_scope(principal: Principal) -> None:
    if Role.system in principal.roles and not principal.roles & {Role.staff, Role.office, Role.admin}:
        if not principal.has_scope("sentiment:write"):
            raise Forbidden("API 密钥缺少 sentiment:write 权限")


def _department_filter(stmt: Any, column: Any, principal: Principal) -> Any:
    if principal.roles & ALL_DEPARTMENTS:
        return stmt
    return stmt.where(column == principal.department_id)


# -------------------------------------------------------------------------------- collection


@router.post(
    "/posts/batch",
    response_model=IngestOut,
    tags=["收集"],
    summary="批量提交帖文（最多1000条；有不合格帖文则整批不保存）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def ingest_batch(
    data: BatchIn, session: SessionDep, principal: IngestPrincipal, settings: SettingsDep
) -> service.IngestResult:
    _check_system_scope(principal)
    return await service.ingest(session, data.posts, settings=settings, source="api")


@router.post(
    "/webhooks/hotline",
    response_model=IngestOut,
    tags=["收集"],
    summary="12345热线系统推送（HMAC-SHA256 签名）",
    description="请求头 X-Gongkai-Timestamp（Unix 秒）与 X-Gongkai-Signature: sha256=<hex>，"
    "签名为以共享密钥对“时间戳.请求体”计算的 HMAC-SHA256；缺签名、签名错误或时间过旧返回401。",
    responses=problem_responses(Unauthorized),
)
async def hotline_webhook(request: Request, session: SessionDep, settings: SettingsDep) -> service.IngestResult:
    secret = settings.webhook_secret.get_secret_value()
    if not secret:
        raise Unauthorized("未配置热线推送密钥", code="webhook_disabled")
    body = await request.body()
    stamp = request.headers.get("x-gongkai-timestamp", "")
    signature = request.headers.get("x-gongkai-signature", "")
    if not stamp or not signature:
        raise Unauthorized("缺少签名", code="signature_missing")
    try:
        moment = int(stamp)
    except ValueError as exc:
        raise Unauthorized("时间戳无效", code="signature_invalid") from exc
    if abs(time.time() - moment) > settings.webhook_tolerance_seconds:
        raise Unauthorized("签名已过期", code="signature_expired")
    expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip()):
        raise Unauthorized("签名不正确", code="signature_invalid")
    try:
        data = BatchIn.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        errors = getattr(exc, "errors", None)
        if callable(errors):
            from gongkai_shared.errors import validation_errors

            raise ValidationFailed(
                "请求体不合法", errors=validation_errors([{**e, "loc": ("body", *e["loc"])} for e in errors()])
            ) from exc
        raise ValidationFailed.for_field("body", "请求体不是 JSON", "json_invalid") from exc
    return await service.ingest(session, data.posts, settings=settings, source="webhook")


@router.get(
    "/posts",
    response_model=Page[PostOut],
    tags=["收集"],
    summary="帖文列表",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_posts(
    session: SessionDep,
    principal: StaffPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    event_id: Annotated[uuid.UUID | None, Query(description="按舆情事件筛选")] = None,
    channel: Annotated[str | None, Query(description="按渠道筛选")] = None,
) -> Page:
    stmt = _department_filter(select(Post), Post.department_id, principal)
    if event_id is not None:
        stmt = stmt.where(Post.event_id == event_id)
    if channel is not None:
        stmt = stmt.where(Post.channel == channel)
    rows, cursor = await paginate(session, stmt, keys=[Post.id], params=params)
    return Page(items=[PostOut.model_validate(r) for r in rows], next_cursor=cursor)


# -------------------------------------------------------------------------------- events and alerts


@router.get(
    "/events",
    response_model=Page[EventOut],
    tags=["舆情事件"],
    summary="舆情事件列表",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_events(
    session: SessionDep,
    principal: StaffPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    min_level: Annotated[int, Query(ge=0, le=3, description="最低风险等级")] = 0,
    active: Annotated[bool | None, Query(description="仅活跃事件")] = None,
    topic: Annotated[str | None, Query(description="领域")] = None,
) -> Page:
    stmt = _department_filter(select(OpinionEvent), OpinionEvent.department_id, principal)
    stmt = stmt.where(OpinionEvent.risk_level >= min_level, OpinionEvent.detected_at.is_not(None))
    if active is not None:
        stmt = stmt.where(OpinionEvent.active.is_(active))
    if topic is not None:
        stmt = stmt.where(OpinionEvent.topic == topic)
    rows, cursor = await paginate(session, stmt, keys=[OpinionEvent.id], params=params)
    return Page(items=[EventOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/events/{event_id}",
    response_model=EventOut,
    tags=["舆情事件"],
    summary="查看舆情事件",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_event(event_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> OpinionEvent:
    event = await session.get(OpinionEvent, event_id)
    if event is None:
        raise NotFound("没有这个舆情事件")
    service.require_event_access(principal, event)
    return event


@router.post(
    "/events/{event_id}/flags",
    response_model=EventOut,
    tags=["舆情事件"],
    summary="标记61号必须回应情形（如上级要求回应）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def flag_event(
    event_id: uuid.UUID, data: FlagIn, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> OpinionEvent:
    return await service.flag_event(
        session, event_id=event_id, category=data.category, principal=principal, settings=settings
    )


@router.post(
    "/events/{event_id}/close",
    response_model=EventOut,
    tags=["舆情事件"],
    summary="结束舆情事件（不再并入新帖文）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def close_event(event_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> OpinionEvent:
    return await service.close_event(session, event_id=event_id, principal=principal)


@router.get(
    "/alerts",
    response_model=Page[AlertOut],
    tags=["预警"],
    summary="预警列表",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_alerts(
    session: SessionDep,
    principal: StaffPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    unacknowledged: Annotated[bool, Query(description="仅未确认")] = False,
) -> Page:
    stmt = select(Alert).join(OpinionEvent, OpinionEvent.id == Alert.event_id)
    stmt = _department_filter(stmt, OpinionEvent.department_id, principal)
    if unacknowledged:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    rows, cursor = await paginate(session, stmt, keys=[Alert.id], params=params)
    return Page(items=[AlertOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    tags=["预警"],
    summary="确认预警",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def acknowledge(alert_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> Alert:
    return await service.acknowledge_alert(session, alert_id=alert_id, principal=principal)


# -------------------------------------------------------------------------------- responses and ledger


def _task_out(task: ResponseTask, settings: SentimentSettings, now: dt.datetime) -> TaskOut:
    out = TaskOut.model_validate(task)
    out.status = service.task_status(task, now, settings.due_soon_hours)
    return out


@router.get(
    "/responses",
    response_model=Page[TaskOut],
    tags=["回应"],
    summary="回应任务（可筛选即将到期、已超期）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_responses(
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    params: Annotated[PageParams, Depends(page_params)],
    due: Annotated[str | None, Query(description="due_soon（即将到期）/ overdue（已超期）")] = None,
    event_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page:
    now = utcnow()
    stmt = _department_filter(select(ResponseTask), ResponseTask.department_id, principal)
    if event_id is not None:
        stmt = stmt.where(ResponseTask.event_id == event_id)
    if due == "overdue":
        stmt = stmt.where(ResponseTask.stage != Stage.closed.value, ResponseTask.next_due_at < now)
    elif due == "due_soon":
        stmt = stmt.where(
            ResponseTask.stage != Stage.closed.value,
            ResponseTask.next_due_at >= now,
            ResponseTask.next_due_at <= now + dt.timedelta(hours=settings.due_soon_hours),
        )
    elif due is not None:
        raise ValidationFailed.for_field("query.due", "可选 due_soon 或 overdue", "invalid")
    rows, cursor = await paginate(session, stmt, keys=[ResponseTask.id], params=params)
    return Page(items=[_task_out(r, settings, now) for r in rows], next_cursor=cursor)


@router.get(
    "/responses/{task_id}",
    response_model=TaskOut,
    tags=["回应"],
    summary="查看回应任务",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_response(
    task_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> TaskOut:
    task = await service.get_task(session, task_id=task_id, principal=principal)
    return _task_out(task, settings, utcnow())


@router.post(
    "/responses/{task_id}/consult",
    response_model=TaskOut,
    tags=["回应"],
    summary="会商",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def consult(
    task_id: uuid.UUID, data: NoteIn, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> TaskOut:
    task = await service.record_consultation(session, task_id=task_id, note=data.note, principal=principal)
    return _task_out(task, settings, utcnow())


@router.post(
    "/responses/{task_id}/assess",
    response_model=TaskOut,
    tags=["回应"],
    summary="研判",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def assess(
    task_id: uuid.UUID, data: NoteIn, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> TaskOut:
    task = await service.record_assessment(session, task_id=task_id, note=data.note, principal=principal)
    return _task_out(task, settings, utcnow())


@router.post(
    "/responses/{task_id}/respond",
    response_model=TaskOut,
    tags=["回应"],
    summary="回应（权威发布、新闻发布会、接受采访、回复网民）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def respond(
    task_id: uuid.UUID, data: RespondIn, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> TaskOut:
    try:
        kind = ResponseKind(data.kind)
    except ValueError as exc:
        raise ValidationFailed.for_field(
            "body.kind",
            "回应方式可选：" + "、".join(f"{k.value}({v})" for k, v in RESPONSE_KIND_LABELS.items()),
            "invalid",
        ) from exc
    task = await service.publish_response(
        session, task_id=task_id, kind=kind, title=data.title, content=data.content, url=data.url, principal=principal
    )
    return _task_out(task, settings, utcnow())


@router.post(
    "/responses/{task_id}/evaluate",
    response_model=TaskOut,
    tags=["回应"],
    summary="评估并办结",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def evaluate(
    task_id: uuid.UUID, data: EvaluateIn, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> TaskOut:
    task = await service.evaluate(session, task_id=task_id, reported=data.reported, note=data.note, principal=principal)
    return _task_out(task, settings, utcnow())


LEDGER_COLUMNS = [
    "事件",
    "领域",
    "风险等级",
    "预警时间",
    "责任部门",
    "环节",
    "期限",
    "回应",
    "回应时间",
    "是否按时",
    "热度（预警时/当前）",
    "热度是否回落",
    "是否上报",
]


async def _ledger_rows(session: Any, principal: Principal, settings: SentimentSettings) -> list[list[Any]]:
    stmt = (
        select(ResponseTask, OpinionEvent, Alert)
        .join(OpinionEvent, OpinionEvent.id == ResponseTask.event_id)
        .join(Alert, Alert.id == ResponseTask.alert_id)
        .order_by(Alert.raised_at)
    )
    stmt = _department_filter(stmt, ResponseTask.department_id, principal)
    out = []
    now = utcnow()
    names = dict((await session.execute(select(Organization.id, Organization.name))).all())
    for task, event, alert in (await session.execute(stmt)).all():
        deadlines = "；".join(
            f"{d['label']} {d['due_at'][:16].replace('T', ' ')}（{d['basis']}）" for d in task.deadlines
        )
        responses = "；".join(f"{r['kind_label']}：{r['title']}" for r in task.responses)
        first_at = task.responses[0]["at"][:16].replace("T", " ") if task.responses else ""
        on_time = (
            "是"
            if task.deadlines and all(d.get("met_at") and d["met_at"] <= d["due_at"] for d in task.deadlines)
            else ("超期" if service.task_status(task, now, settings.due_soon_hours) == "overdue" else "否")
        )
        out.append(
            [
                event.title,
                event.topic,
                RISK_LABELS[task.level],
                alert.raised_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M"),
                names.get(task.department_id, str(task.department_id or "")),
                STAGE_LABELS[Stage(task.stage)],
                deadlines,
                responses,
                first_at,
                on_time,
                f"{task.heat_at_alert:g} / {event.heat:g}",
                {True: "是", False: "否", None: ""}[task.heat_fell],
                {True: "是", False: "否", None: ""}[task.reported],
            ]
        )
    return out


@router.get(
    "/ledger",
    tags=["回应"],
    summary="舆情回应台账",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def ledger(session: SessionDep, principal: StaffPrincipal, settings: SettingsDep) -> dict[str, Any]:
    rows = await _ledger_rows(session, principal, settings)
    return {"columns": LEDGER_COLUMNS, "rows": rows}


@router.get(
    "/ledger.xlsx",
    tags=["回应"],
    summary="导出舆情回应台账（xlsx）",
    response_class=Response,
    responses=problem_responses(Unauthorized, Forbidden),
)
async def ledger_xlsx(session: SessionDep, principal: StaffPrincipal, settings: SettingsDep) -> Response:
    from openpyxl import Workbook

    rows = await _ledger_rows(session, principal, settings)
    wb = Workbook()
    ws = wb.active
    ws.title = "舆情回应台账"
    ws.append(LEDGER_COLUMNS)
    for row in rows:
        ws.append(worksheet_row(row))
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename*=UTF-8''" + quote("舆情回应台账.xlsx")},
    )


# -------------------------------------------------------------------------------- accounts and routes


@router.post(
    "/accounts",
    response_model=AccountOut,
    status_code=201,
    tags=["政务新媒体"],
    summary="登记政务新媒体账号",
    responses=problem_responses(Unauthorized, Forbidden, Conflict),
)
async def register_account(
    data: AccountIn, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> dict[str, Any]:
    account = await service.register_account(
        session,
        organization_id=data.organization_id,
        platform=data.platform,
        handle=data.handle,
        name=data.name,
        settings=settings,
        principal=principal,
    )
    return service.account_row(account, utcnow())


@router.get(
    "/accounts",
    response_model=list[AccountOut],
    tags=["政务新媒体"],
    summary="政务新媒体账号",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_accounts(session: SessionDep, principal: StaffPrincipal) -> list[dict[str, Any]]:
    stmt = _department_filter(select(Account), Account.organization_id, principal).order_by(Account.organization_id)
    now = utcnow()
    return [service.account_row(a, now) for a in (await session.scalars(stmt)).all()]


@router.put(
    "/accounts/{account_id}/last-update",
    response_model=AccountOut,
    tags=["政务新媒体"],
    summary="报送账号最近更新时间",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def report_update(
    account_id: uuid.UUID, data: AccountUpdateIn, session: SessionDep, principal: IngestPrincipal
) -> dict[str, Any]:
    account = await service.report_account_update(session, account_id=account_id, at=data.at, principal=principal)
    return service.account_row(account, utcnow())


@router.get(
    "/accounts/compliance",
    tags=["政务新媒体"],
    summary="政务新媒体检查清单（超期未更新、一个主体同一平台多个账号）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def account_compliance(session: SessionDep, principal: OfficePrincipal, settings: SettingsDep) -> dict:
    return await service.compliance(session, settings=settings)


@router.put(
    "/topic-routes/{topic}",
    tags=["舆情事件"],
    summary="设置领域的主管部门（谁主管谁负责）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def set_route(topic: str, data: RouteIn, session: SessionDep, principal: OfficePrincipal) -> dict[str, Any]:
    route = await service.set_topic_route(session, topic=topic, organization_id=data.organization_id)
    return {"topic": route.topic, "organization_id": route.organization_id}
