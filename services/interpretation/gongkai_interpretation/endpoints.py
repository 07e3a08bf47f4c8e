from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from gongkai_shared.auth import ALL_DEPARTMENTS, Principal, Role, StaffPrincipal, require_roles
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Conflict, Forbidden, NotFound, Unauthorized, UpstreamUnavailable, problem_responses
from gongkai_shared.pagination import Page, PageParams, page_params, paginate
from sqlalchemy import select

from gongkai_interpretation import service
from gongkai_interpretation.models import InterpretationTask, TaskKind, TaskStatus
from gongkai_interpretation.schemas import (
    AssignmentIn,
    ContentIn,
    DraftIn,
    FiguresOut,
    HistoryOut,
    OpinionIn,
    PublishIn,
    QualityOut,
    RegisterIn,
    ReturnIn,
    TaskOut,
)
from gongkai_interpretation.settings import InterpretationSettings

router = APIRouter()


def get_settings(request: Request) -> InterpretationSettings:
    return request.app.state.settings


SettingsDep = Annotated[InterpretationSettings, Depends(get_settings)]


@router.get(
    "/tasks",
    response_model=Page[TaskOut],
    tags=["解读任务"],
    summary="解读任务列表",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_tasks(
    session: SessionDep,
    principal: StaffPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    policy_item_id: Annotated[uuid.UUID | None, Query(description="按政策文件筛选")] = None,
    status: Annotated[TaskStatus | None, Query(description="按状态筛选")] = None,
    kind: Annotated[TaskKind | None, Query(description="按类型筛选：regular 政策解读 / supplementary 补充解读")] = None,
    opinion_event_id: Annotated[uuid.UUID | None, Query(description="按引起补充解读的舆情事件筛选")] = None,
) -> Page:
    stmt = select(InterpretationTask)
    if not principal.roles & ALL_DEPARTMENTS:
        stmt = stmt.where(InterpretationTask.organization_id == principal.department_id)
    if policy_item_id is not None:
        stmt = stmt.where(InterpretationTask.policy_item_id == policy_item_id)
    if status is not None:
        stmt = stmt.where(InterpretationTask.status == status)
    if kind is not None:
        stmt = stmt.where(InterpretationTask.kind == kind)
    if opinion_event_id is not None:
        stmt = stmt.where(InterpretationTask.opinion_event_id == opinion_event_id)
    rows, cursor = await paginate(session, stmt, keys=[InterpretationTask.id], params=params)
    return Page(items=[TaskOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/tasks",
    response_model=TaskOut,
    status_code=201,
    tags=["解读任务"],
    summary="政策发布前登记解读（三同步）",
    responses=problem_responses(Unauthorized, Forbidden, Conflict),
)
async def register_task(
    data: RegisterIn, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep
) -> InterpretationTask:
    return await service.register_early(
        session, data=data, principal=principal, due_working_days=settings.due_working_days
    )


@router.get(
    "/tasks/{task_id}",
    response_model=TaskOut,
    tags=["解读任务"],
    summary="查看解读任务",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_task(task_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> InterpretationTask:
    return await service.get_task(session, task_id=task_id, principal=principal)


@router.patch(
    "/tasks/{task_id}/assignment",
    response_model=TaskOut,
    tags=["解读任务"],
    summary="设置第一解读人和起草人",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def set_assignment(
    task_id: uuid.UUID, data: AssignmentIn, session: SessionDep, principal: StaffPrincipal
) -> InterpretationTask:
    return await service.set_assignment(session, task_id=task_id, data=data, principal=principal)


@router.put(
    "/tasks/{task_id}/content",
    response_model=TaskOut,
    tags=["解读内容"],
    summary="保存解读内容（正文、形式、问答）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def set_content(
    task_id: uuid.UUID, data: ContentIn, session: SessionDep, principal: StaffPrincipal
) -> InterpretationTask:
    return await service.set_content(session, task_id=task_id, data=data, principal=principal)


@router.post(
    "/tasks/{task_id}/draft",
    tags=["解读内容"],
    summary="依据政策原文生成解读草稿",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict, UpstreamUnavailable),
)
async def make_draft(
    task_id: uuid.UUID,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    data: DraftIn | None = None,
) -> dict[str, Any]:
    backend = data.backend if data is not None else "deterministic"
    return await service.make_task_draft(
        session, task_id=task_id, principal=principal, settings=settings, backend=backend
    )


@router.get(
    "/tasks/{task_id}/quality",
    response_model=QualityOut,
    tags=["解读内容"],
    summary="发布前质量检查",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def quality(task_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal, settings: SettingsDep) -> Any:
    task = await service.get_task(session, task_id=task_id, principal=principal)
    return service.quality_of(task, min_score=settings.quality_min_score).as_dict()


@router.post(
    "/tasks/{task_id}/submit",
    response_model=TaskOut,
    tags=["解读流程"],
    summary="送审",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def submit(
    task_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal, data: OpinionIn | None = None
) -> InterpretationTask:
    return await service.submit(
        session, task_id=task_id, principal=principal, opinion=data.opinion if data is not None else None
    )


@router.post(
    "/tasks/{task_id}/return",
    response_model=TaskOut,
    tags=["解读流程"],
    summary="退回修改",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def return_task(
    task_id: uuid.UUID, data: ReturnIn, session: SessionDep, principal: StaffPrincipal
) -> InterpretationTask:
    return await service.return_to_drafting(session, task_id=task_id, principal=principal, opinion=data.opinion)


@router.post(
    "/tasks/{task_id}/publish",
    response_model=TaskOut,
    tags=["解读流程"],
    summary="审核通过并发布解读",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def publish(
    task_id: uuid.UUID,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    data: PublishIn | None = None,
) -> InterpretationTask:
    data = data or PublishIn()
    task, _ = await service.publish(
        session,
        task_id=task_id,
        principal=principal,
        opinion=data.opinion,
        override_reason=data.override_reason,
        min_score=settings.quality_min_score,
    )
    return task


@router.get(
    "/tasks/{task_id}/history",
    response_model=list[HistoryOut],
    tags=["解读流程"],
    summary="办理记录（谁、何时、意见）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def history(task_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> Any:
    return await service.history(session, task_id=task_id, principal=principal)


#: Staff (their department), the office, or another service's system token with ``interpretation:read``
#: (the catalog's assessment reads every department's figures with ``org:*``).
FiguresPrincipal = Annotated[Principal, require_roles(Role.staff, Role.reviewer, Role.office, Role.admin, Role.system)]


@router.get(
    "/figures",
    response_model=FiguresOut,
    tags=["统计"],
    summary="解读率、按时率、非文字形式占比、平均质量评分",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def figures(
    session: SessionDep,
    principal: FiguresPrincipal,
    start: Annotated[dt.date, Query(description="政策发布日期起")],
    end: Annotated[dt.date, Query(description="政策发布日期止")],
    organization_id: Annotated[uuid.UUID | None, Query(description="机关")] = None,
) -> Any:
    return await service.figures(session, start=start, end=end, principal=principal, organization_id=organization_id)
