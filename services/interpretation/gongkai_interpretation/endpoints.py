from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from gongkai_shared.auth import ALL_DEPARTMENTS, StaffPrincipal
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Forbidden, NotFound, Unauthorized, problem_responses
from gongkai_shared.pagination import Page, PageParams, page_params, paginate
from sqlalchemy import select

from gongkai_interpretation import service
from gongkai_interpretation.models import InterpretationTask
from gongkai_interpretation.schemas import TaskOut

router = APIRouter()


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
) -> Page:
    stmt = select(InterpretationTask)
    if not principal.roles & ALL_DEPARTMENTS:
        stmt = stmt.where(InterpretationTask.organization_id == principal.department_id)
    if policy_item_id is not None:
        stmt = stmt.where(InterpretationTask.policy_item_id == policy_item_id)
    rows, cursor = await paginate(session, stmt, keys=[InterpretationTask.id], params=params)
    return Page(items=[TaskOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/tasks/{task_id}",
    response_model=TaskOut,
    tags=["解读任务"],
    summary="查看解读任务",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_task(task_id: uuid.UUID, session: SessionDep, principal: StaffPrincipal) -> InterpretationTask:
    return await service.get_task(session, task_id=task_id, principal=principal)
