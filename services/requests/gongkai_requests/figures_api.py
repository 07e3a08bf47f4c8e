"""Assessment figures of the requests service (考核评估; issue 8 point 2): read-only, counts only.

Per department, for a period [from, to]:
- replies (条例 art. 33): replies sent in the period, how many by the reply deadline, how many after it, and
  applications still unanswered whose reply deadline has passed (as of the end of the period, or today);
- 复议/诉讼 (table 四): cases filed in the period and those whose result is 纠正 (as of the same day).

No applicant's data leaves here: counts per department only. The catalog's assessment asks for them with a
one-minute system token (``requests:read`` and ``org:*``), or the office asks directly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from gongkai_shared.auth import ALL_ORGANIZATIONS_SCOPE, Principal, Role, require_roles
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Forbidden, Unauthorized, ValidationFailed, problem_responses
from gongkai_shared.timeutil import china_today
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from gongkai_requests.models import Application, Remedy, RemedyResult

router = APIRouter()

FiguresPrincipal = Annotated[Principal, require_roles(Role.staff, Role.reviewer, Role.office, Role.admin, Role.system)]


class DepartmentReplyFigures(BaseModel):
    department_id: uuid.UUID = Field(description="部门")
    replies: int = Field(description="期间内作出答复数")
    replies_on_time: int = Field(description="按期答复数（条例第三十三条）")
    replies_late: int = Field(description="超期答复数")
    overdue_unanswered: int = Field(description="截至统计日已超期未答复数")
    remedies: int = Field(description="期间内新收行政复议、行政诉讼案件数")
    remedies_corrected: int = Field(description="其中结果纠正数（表四“结果纠正”）")


class RequestsFiguresOut(BaseModel):
    start: dt.date = Field(description="期间开始")
    end: dt.date = Field(description="期间结束")
    as_of: dt.date = Field(description="统计截至日期")
    rows: list[DepartmentReplyFigures]


def _visible(principal: Principal) -> uuid.UUID | bool:
    """True: every department; a UUID: that one department."""
    if principal.roles & {Role.office, Role.admin}:
        return True
    if Role.system in principal.roles and not principal.roles & {Role.staff, Role.reviewer}:
        if not principal.has_scope("requests:read"):
            raise Forbidden("API 密钥缺少 requests:read 权限")
        if ALL_ORGANIZATIONS_SCOPE in principal.scopes:
            return True
    if principal.department_id is None:
        raise Forbidden("没有所属部门")
    return principal.department_id


@router.get(
    "/figures",
    response_model=RequestsFiguresOut,
    tags=["统计"],
    summary="考核数据：按期答复、超期答复、复议诉讼纠正（按部门）",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def figures(
    request: Request,
    session: SessionDep,
    principal: FiguresPrincipal,
    start: Annotated[dt.date, Query(alias="from", description="期间开始")],
    end: Annotated[dt.date, Query(alias="to", description="期间结束")],
    department_id: Annotated[uuid.UUID | None, Query(description="部门（缺省为可见的全部部门）")] = None,
) -> RequestsFiguresOut:
    if end < start:
        raise ValidationFailed.for_field("query.to", "结束日期不能早于开始日期", "date_order")
    today: Callable[[], dt.date] = getattr(request.app.state, "today", china_today)
    as_of = min(end, today())
    scope = _visible(principal)
    if department_id is not None:
        if scope is not True and scope != department_id:
            raise Forbidden("只能查看本部门的统计")
        scope = department_id
    a = Application
    replied_in = a.replied_on.between(start, end)
    # 条例 art. 33: the reply deadline (art. 30 restart, art. 32/34 pauses and an extension included) is
    # reply_due_on as the clock computed it; replied after it = 超期答复.
    apps = (
        select(
            a.department_id,
            func.count().filter(replied_in).label("replies"),
            func.count().filter(replied_in, a.reply_due_on.is_not(None), a.replied_on <= a.reply_due_on),
            func.count().filter(replied_in, a.reply_due_on.is_not(None), a.replied_on > a.reply_due_on),
            func.count().filter(
                a.received_on <= as_of,
                a.reply_due_on < as_of,
                (a.replied_on.is_(None) | (a.replied_on > as_of)),
                (a.closed_on.is_(None) | (a.closed_on > as_of)),
            ),
        )
        .where(a.received_on <= end)
        .group_by(a.department_id)
    )
    r = Remedy
    corrected = (r.result == RemedyResult.corrected) & r.concluded_on.is_not(None) & (r.concluded_on <= as_of)
    remedies = (
        select(r.department_id, func.count(), func.count().filter(corrected))
        .where(r.filed_on.between(start, end))
        .group_by(r.department_id)
    )
    if scope is not True:
        apps = apps.where(a.department_id == scope)
        remedies = remedies.where(r.department_id == scope)
    rows: dict[uuid.UUID, dict[str, int]] = {}
    for dept, replies, on_time, late, overdue in (await session.execute(apps)).all():
        rows[dept] = {
            "replies": replies,
            "replies_on_time": on_time,
            "replies_late": late,
            "overdue_unanswered": overdue,
        }
    for dept, n, n_corrected in (await session.execute(remedies)).all():
        rows.setdefault(dept, {}).update(remedies=n, remedies_corrected=n_corrected)
    zero = dict.fromkeys(DepartmentReplyFigures.model_fields.keys() - {"department_id"}, 0)
    return RequestsFiguresOut(
        start=start,
        end=end,
        as_of=as_of,
        rows=[
            DepartmentReplyFigures(department_id=dept, **{**zero, **values})
            for dept, values in sorted(rows.items(), key=lambda kv: str(kv[0]))
        ],
    )


__all__ = ["router"]
