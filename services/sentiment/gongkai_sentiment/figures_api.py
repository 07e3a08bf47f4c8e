"""Assessment figures of the sentiment service (考核评估; issue 8 point 2): read-only, counts per department.

- Responses (domain.md §5; 国办发〔2016〕61号 48 hours, 80号 5 hours / 24 hours): the response tasks raised in the
  period; a task is on time when every deadline was met by its due time, late when one was met after it, and
  overdue when a deadline is still open past its due time (as of the end of the period, or now).
- Government accounts (国办发〔2018〕123号, 国办秘函〔2019〕19号): the accounts registered and those silent for
  more than ``account_silence_days`` (default 14) now. Silence is a current state (the registry keeps only the
  last update), so it is reported as of today whatever the period.

The catalog's assessment asks with a one-minute system token (``sentiment:read`` and ``org:*``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from gongkai_shared.auth import ALL_ORGANIZATIONS_SCOPE, Principal, Role, require_roles
from gongkai_shared.db import SessionDep, utcnow
from gongkai_shared.errors import Forbidden, Unauthorized, ValidationFailed, problem_responses
from pydantic import BaseModel, Field
from sqlalchemy import select

from gongkai_sentiment.models import Account, ResponseTask
from gongkai_sentiment.service import silent_days
from gongkai_sentiment.settings import SentimentSettings

router = APIRouter()

FiguresPrincipal = Annotated[Principal, require_roles(Role.staff, Role.reviewer, Role.office, Role.admin, Role.system)]
CHINA = dt.timezone(dt.timedelta(hours=8))


def _settings(request: Request) -> SentimentSettings:
    return request.app.state.settings


class DepartmentSentimentFigures(BaseModel):
    department_id: uuid.UUID = Field(description="部门")
    responses_due: int = Field(description="期间内需回应的舆情任务数")
    responses_on_time: int = Field(description="按时回应数（各项期限均按时完成）")
    responses_late: int = Field(description="超时回应数")
    responses_overdue: int = Field(description="截至统计时超期未回应数")
    accounts: int = Field(description="政务新媒体账号数")
    accounts_silent: int = Field(description="超过规定天数未更新的账号数（当前）")


class SentimentFiguresOut(BaseModel):
    start: dt.date = Field(description="期间开始")
    end: dt.date = Field(description="期间结束")
    silence_limit_days: int = Field(description="账号未更新天数上限")
    rows: list[DepartmentSentimentFigures]


def _scope(principal: Principal) -> uuid.UUID | None:
    """None: every department."""
    if principal.roles & {Role.office, Role.admin}:
        return None
    if Role.system in principal.roles and not principal.roles & {Role.staff, Role.reviewer}:
        if not principal.has_scope("sentiment:read"):
            raise Forbidden("API 密钥缺少 sentiment:read 权限")
        if ALL_ORGANIZATIONS_SCOPE in principal.scopes:
            return None
    if principal.department_id is None:
        raise Forbidden("没有所属部门")
    return principal.department_id


def _task_result(task: ResponseTask, as_of: dt.datetime) -> str:
    """on_time / late / overdue / open (not yet due) for one task's deadlines."""
    result = "on_time"
    for d in task.deadlines:
        due = dt.datetime.fromisoformat(d["due_at"])
        met = dt.datetime.fromisoformat(d["met_at"]) if d.get("met_at") else None
        if met is not None and met <= as_of:
            if met > due and result == "on_time":
                result = "late"
        elif due < as_of:
            return "overdue"
        else:
            result = "open" if result == "on_time" else result
    return result


@router.get(
    "/figures",
    response_model=SentimentFiguresOut,
    tags=["回应"],
    summary="考核数据：舆情按时回应、政务新媒体超期未更新（按部门）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def figures(
    session: SessionDep,
    principal: FiguresPrincipal,
    settings: Annotated[SentimentSettings, Depends(_settings)],
    start: Annotated[dt.date, Query(alias="from", description="期间开始")],
    end: Annotated[dt.date, Query(alias="to", description="期间结束")],
) -> SentimentFiguresOut:
    if end < start:
        raise ValidationFailed.for_field("query.to", "结束日期不能早于开始日期", "date_order")
    scope = _scope(principal)
    now = utcnow()
    period_start = dt.datetime.combine(start, dt.time(), CHINA)
    period_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), CHINA)
    as_of = min(now, period_end)
    tasks = select(ResponseTask).where(
        ResponseTask.department_id.is_not(None),
        ResponseTask.created_at >= period_start,
        ResponseTask.created_at < period_end,
    )
    accounts = select(Account)
    if scope is not None:
        tasks = tasks.where(ResponseTask.department_id == scope)
        accounts = accounts.where(Account.organization_id == scope)
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    counters = DepartmentSentimentFigures.model_fields.keys() - {"department_id"}

    def row(dept: uuid.UUID) -> dict[str, Any]:
        return rows.setdefault(dept, dict.fromkeys(counters, 0))

    for task in (await session.scalars(tasks)).all():
        r = row(task.department_id)  # type: ignore[arg-type]
        r["responses_due"] += 1
        result = _task_result(task, as_of)
        if result == "on_time":
            r["responses_on_time"] += 1
        elif result == "late":
            r["responses_late"] += 1
        elif result == "overdue":
            r["responses_overdue"] += 1
    for account in (await session.scalars(accounts)).all():
        r = row(account.organization_id)
        r["accounts"] += 1
        days = silent_days(account, now)
        if days is not None and days > settings.account_silence_days:
            r["accounts_silent"] += 1
    return SentimentFiguresOut(
        start=start,
        end=end,
        silence_limit_days=settings.account_silence_days,
        rows=[
            DepartmentSentimentFigures(department_id=d, **v) for d, v in sorted(rows.items(), key=lambda kv: str(kv[0]))
        ],
    )


__all__ = ["router"]
