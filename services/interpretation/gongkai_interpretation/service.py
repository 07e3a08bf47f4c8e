"""Interpretation rules. Never commits: the request or the event handler owns the transaction."""

from __future__ import annotations

import uuid

from gongkai_shared.auth import Principal
from gongkai_shared.calendar import WorkingDayCalendar
from gongkai_shared.calendar_store import load_calendar
from gongkai_shared.contracts.catalog import PolicyPublishedV1
from gongkai_shared.contracts.interpretation import TASK_CREATED_V1, TaskCreatedV1
from gongkai_shared.errors import NotFound
from gongkai_shared.events import Envelope, emit
from gongkai_shared.ids import uuid7
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_interpretation.models import InterpretationTask, TaskStatus, calendar_table, event_tables


def due_date(calendar: WorkingDayCalendar, task: InterpretationTask) -> tuple:
    """三同步 (domain.md §4): due N working days after the policy's publication (0 = same day)."""
    result = calendar.explain_add_working_days(task.published_on, task.due_working_days, provisional=True)
    return result.end, result.provisional


async def on_policy_published(session: AsyncSession, envelope: Envelope, *, due_working_days: int) -> None:
    """Create the one interpretation task of a published policy and announce it."""
    policy = PolicyPublishedV1.model_validate(envelope.data)
    calendar = await load_calendar(session, calendar_table)
    published_on = policy.published_on
    due = calendar.explain_add_working_days(published_on, due_working_days, provisional=True)
    # One task per policy, even when the same policy is announced twice under two event ids.
    created = await session.scalar(
        insert(InterpretationTask)
        .values(
            id=uuid7(),
            policy_item_id=policy.item_id,
            policy_title=policy.title,
            policy_document_number=policy.document_number,
            organization_id=policy.organization_id,
            published_on=published_on,
            due_working_days=due_working_days,
            due_on=due.end,
            due_provisional=due.provisional,
            status=TaskStatus.assigned,
        )
        .on_conflict_do_nothing(index_elements=["policy_item_id"])
        .returning(InterpretationTask.id)
    )
    if created is None:
        return
    await emit(
        session,
        event_tables,
        TASK_CREATED_V1,
        TaskCreatedV1(
            task_id=created,
            policy_item_id=policy.item_id,
            policy_title=policy.title,
            organization_id=policy.organization_id,
            published_on=published_on,
            due_on=due.end,
            due_provisional=due.provisional,
        ),
    )


async def recompute_due_dates(session: AsyncSession, calendar: WorkingDayCalendar) -> int:
    """The calendar changed: recompute the due date of every open task; return how many moved."""
    tasks = (
        await session.scalars(
            select(InterpretationTask).where(InterpretationTask.status != TaskStatus.published).with_for_update()
        )
    ).all()
    moved = 0
    for task in tasks:
        due_on, provisional = due_date(calendar, task)
        if (due_on, provisional) != (task.due_on, task.due_provisional):
            task.due_on, task.due_provisional = due_on, provisional
            moved += 1
    await session.flush()
    return moved


async def get_task(session: AsyncSession, *, task_id: uuid.UUID, principal: Principal) -> InterpretationTask:
    task = await session.get(InterpretationTask, task_id)
    if task is None or not principal.can_act_for(task.organization_id):
        raise NotFound("解读任务不存在")
    return task
