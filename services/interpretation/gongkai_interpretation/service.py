"""Interpretation rules. Never commits: the request or the event handler owns the transaction.

domain.md §4: every policy is interpreted (三同步) at the latest N working days after publication
(default 3, 0 = the same day) by whoever drafted it (谁起草、谁解读), the department head being the
第一解读人; the interpretation covers the content elements, comes in several forms, must not merely
excerpt or compress the document, and policy and interpretation link to each other (双向关联).

A public-opinion event that misreads a policy (sentiment.event.escalated) opens a supplementary
interpretation (补充解读) of it, due in hours after the escalation (domain.md §5, 国办发〔2016〕61号: a
response within 48 hours; 重大/特别重大: a press conference within 24 hours).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog
from gongkai_shared.auth import ALL_ORGANIZATIONS_SCOPE, Principal, Role
from gongkai_shared.calendar import WorkingDayCalendar
from gongkai_shared.calendar_store import load_calendar
from gongkai_shared.contracts.catalog import (
    OrganizationV1,
    PolicyPublishedV1,
    PolicySupersededV1,
)
from gongkai_shared.contracts.interpretation import (
    INTERPRETATION_PUBLISHED_V1,
    TASK_CREATED_V1,
    TASK_DUE_SOON_V1,
    TASK_OVERDUE_V1,
    InterpretationFormV1,
    InterpretationPublishedV1,
    QAPairV1,
    TaskCreatedV1,
    TaskDeadlineV1,
)
from gongkai_shared.contracts.sentiment import OpinionEventV1
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Conflict, FieldError, Forbidden, NotFound, UpstreamUnavailable, ValidationFailed
from gongkai_shared.events import Envelope, emit
from gongkai_shared.events.consumer import PermanentError
from gongkai_shared.ids import uuid7
from gongkai_shared.timeutil import CHINA, china_date_of, china_today
from sqlalchemy import and_, case, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_interpretation import quality as quality_check
from gongkai_interpretation.diff import diff_policies
from gongkai_interpretation.drafting import Draft, make_draft
from gongkai_interpretation.models import (
    FORM_LABELS,
    TASK_KIND_LABELS,
    InterpretationForm,
    InterpretationTask,
    Organization,
    PendingSupplementary,
    TaskEvent,
    TaskKind,
    TaskStatus,
    calendar_table,
    event_tables,
)
from gongkai_interpretation.schemas import AssignmentIn, ContentIn, RegisterIn
from gongkai_interpretation.settings import InterpretationSettings

LlmComplete = Callable[..., Awaitable[str]]
log = structlog.get_logger("gongkai.interpretation")

#: Forms that are not plain text: evaluations count their share (domain.md §4).
NON_TEXT = frozenset(f.value for f in InterpretationForm if f is not InterpretationForm.text)
REVIEWERS = (Role.reviewer, Role.office, Role.admin)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def due_date(calendar: WorkingDayCalendar, task: InterpretationTask) -> tuple:
    """三同步 (domain.md §4): due N working days after the policy's publication (0 = same day)."""
    assert task.published_on is not None
    result = calendar.explain_add_working_days(task.published_on, task.due_working_days, provisional=True)
    return result.end, result.provisional


_BRACKETS = str.maketrans(
    {"[": "〔", "［": "〕", "【": "〔", "(": "〔", "（": "〔", "]": "〕", "］": "〕", "】": "〕", ")": "〕", "）": "〕"}
)


def document_reference(document_number: str) -> str:
    """A 文号 as a matching key: spaces dropped, its brackets as 〔〕 (示范政发[2026]1号 = 示范政发〔2026〕1号)."""
    normal = re.sub(r"\s+", "", document_number).translate(_BRACKETS)
    normal = normal.replace("〔〔", "〔")  # "［" maps to "〔" on the left
    return f"doc:{normal}"


def item_reference(item_id: uuid.UUID) -> str:
    return f"item:{item_id}"


def _actor(principal: Principal) -> str:
    return principal.name or principal.subject


def _record(
    session: AsyncSession,
    task: InterpretationTask,
    *,
    actor: str,
    action: str,
    from_status: TaskStatus | None = None,
    to_status: TaskStatus | None = None,
    opinion: str | None = None,
) -> None:
    session.add(
        TaskEvent(
            id=uuid7(),
            task_id=task.id,
            at=utcnow(),
            actor=actor,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            opinion=opinion,
        )
    )


def _differences(old: InterpretationTask | None, new_body: str, old_item_id: uuid.UUID) -> dict[str, Any]:
    """新旧政策差异 of a policy against the one it supersedes, clause by clause."""
    if old is None or not old.policy_body:
        return {
            "available": False,
            "old_item_id": str(old_item_id),
            "reason": "被替代的旧政策全文不在本服务（发布早于本系统），无法逐条比对",
        }
    diff = diff_policies(old.policy_body, new_body)
    return {
        "available": True,
        "old_item_id": str(old_item_id),
        "old_title": old.policy_title,
        "old_document_number": old.policy_document_number,
        **diff.as_dict(),
    }


async def _task_for_policy(
    session: AsyncSession, item_id: uuid.UUID, *, lock: bool = False
) -> InterpretationTask | None:
    """The regular task of a policy (there is one; supplementary tasks are not "the" interpretation)."""
    stmt = select(InterpretationTask).where(
        InterpretationTask.policy_item_id == item_id, InterpretationTask.kind == TaskKind.regular
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def _lock_policy(session: AsyncSession, item_id: uuid.UUID) -> None:
    """Serialise, per policy, the arrival of the policy and of opinion events about it (one transaction-scoped
    advisory lock): an opinion event waiting for its policy is never left behind by a policy committed at the
    same moment, and two escalations of one event never race for its task."""
    key = int.from_bytes(item_id.bytes[:8], "big", signed=True)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


# --------------------------------------------------------------------------------------------
# Events consumed
# --------------------------------------------------------------------------------------------


async def on_policy_published(session: AsyncSession, envelope: Envelope, *, due_working_days: int) -> None:
    """Create the one interpretation task of a published policy (or link the one registered early)."""
    policy = PolicyPublishedV1.model_validate(envelope.data)
    if policy.archived:
        # 存量导入: published long ago on the former platform; 三同步 applies to policies published now, so no
        # interpretation falls due (its old interpretation, if any, is imported as an item of its own).
        log.info("archived_policy_skipped", policy_item_id=str(policy.item_id))
        return
    if not policy.body.strip():
        # Without the text there is nothing to interpret or draft from: dead-letter with the reason.
        raise PermanentError(
            f"政策 {policy.item_id} 的事件没有全文（body 为空），无法建立解读任务 (policy event without text)"
        )
    await _lock_policy(session, policy.item_id)
    if await _task_for_policy(session, policy.item_id) is not None:
        return  # the same policy announced twice (under two event ids): still one task
    calendar = await load_calendar(session, calendar_table)
    published_on = policy.published_on
    due = calendar.explain_add_working_days(published_on, due_working_days, provisional=True)
    org = await session.get(Organization, policy.organization_id)
    head_name = getattr(policy, "head_name", None) or (org.head_name if org else None)
    head_title = org.head_title if org else None
    differences = None
    if policy.supersedes_item_id is not None:
        old = await _task_for_policy(session, policy.supersedes_item_id)
        differences = _differences(old, policy.body, policy.supersedes_item_id)

    references = [item_reference(policy.item_id)]
    if policy.document_number:
        references.append(document_reference(policy.document_number))
    early = await session.scalar(
        select(InterpretationTask)
        .where(InterpretationTask.policy_item_id.is_(None), InterpretationTask.policy_reference.in_(references))
        .order_by(InterpretationTask.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    fields: dict[str, Any] = dict(
        policy_item_id=policy.item_id,
        policy_title=policy.title,
        policy_document_number=policy.document_number,
        policy_kind=policy.kind,
        policy_body=policy.body,
        supersedes_item_id=policy.supersedes_item_id,
        published_on=published_on,
        due_working_days=due_working_days,
        due_on=due.end,
        due_provisional=due.provisional,
        differences=differences,
    )
    if early is not None:
        # 三同步: registered before the policy, linked now that it is published.
        for key, value in fields.items():
            setattr(early, key, value)
        if not early.head_set_by_staff:
            early.head_name, early.head_title = head_name or early.head_name, head_title or early.head_title
        _record(session, early, actor="system", action="linked", opinion=f"政策发布，已关联：{policy.title}")
        await session.flush()
        task_id, head = early.id, early.head_name
    else:
        task_id = await session.scalar(
            insert(InterpretationTask)
            .values(
                id=uuid7(),
                organization_id=policy.organization_id,
                head_name=head_name,
                head_title=head_title,
                status=TaskStatus.assigned,
                policy_reference=references[0],
                **fields,
            )
            .on_conflict_do_nothing(index_elements=["policy_item_id"], index_where=text("kind = 'regular'"))
            .returning(InterpretationTask.id)
        )
        if task_id is None:
            return
        head = head_name
        session.add(
            TaskEvent(
                id=uuid7(),
                task_id=task_id,
                at=utcnow(),
                actor="system",
                action="assigned",
                to_status=TaskStatus.assigned.value,
                opinion=f"政策发布，分派至起草部门；第一解读人：{head_name or '未登记'}",
            )
        )
    await emit(
        session,
        event_tables,
        TASK_CREATED_V1,
        TaskCreatedV1(
            task_id=task_id,
            policy_item_id=policy.item_id,
            policy_title=policy.title,
            organization_id=early.organization_id if early is not None else policy.organization_id,
            published_on=published_on,
            due_on=due.end,
            due_provisional=due.provisional,
            head_name=head,
            registered_early=early is not None,
        ),
    )
    await _open_pending_supplementary(session, policy.item_id)


async def on_policy_superseded(session: AsyncSession, envelope: Envelope) -> None:
    """A new policy replaced an old one: its task carries the clause differences (新旧政策差异)."""
    event = PolicySupersededV1.model_validate(envelope.data)
    task = await _task_for_policy(session, event.superseded_by_item_id, lock=True)
    if task is None or not task.policy_body:
        return  # not here yet: catalog.policy.published carries supersedes_item_id and computes them then
    if task.differences is not None and task.differences.get("available"):
        return
    old = await _task_for_policy(session, event.item_id)
    task.supersedes_item_id = event.item_id
    task.differences = _differences(old, task.policy_body, event.item_id)
    _record(session, task, actor="system", action="differences", opinion=f"替代旧政策：{event.title}")
    await session.flush()


async def on_organization(session: AsyncSession, envelope: Envelope) -> None:
    """Keep the catalog's organizations: the head is the 第一解读人 of their open tasks."""
    org = OrganizationV1.model_validate(envelope.data)
    now = envelope.occurred_at
    await session.execute(
        insert(Organization)
        .values(
            id=org.organization_id, name=org.name, head_name=org.head_name, head_title=org.head_title, updated_at=now
        )
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"name": org.name, "head_name": org.head_name, "head_title": org.head_title, "updated_at": now},
            where=Organization.updated_at <= now,  # an older update arriving late changes nothing
        )
    )
    if org.head_name:
        await session.execute(
            InterpretationTask.__table__.update()
            .where(
                InterpretationTask.organization_id == org.organization_id,
                InterpretationTask.status != TaskStatus.published,
                InterpretationTask.head_set_by_staff.is_(False),
            )
            .values(head_name=org.head_name, head_title=org.head_title)
        )


# --------------------------------------------------------------------------------------------
# Supplementary interpretation (补充解读) of a policy the public misreads
# --------------------------------------------------------------------------------------------

#: 国办发〔2016〕61号 must-respond categories (the sentiment service's codes), as the drafter reads them.
MUST_RESPOND_LABELS = {
    "misread_policy": "重大政策误读误解",
    "wide_impact": "涉及公众切身利益、影响面广",
    "moral_shock": "冲击道德底线的民生事件",
    "emergency": "突发事件和自然灾害",
    "ordered": "上级政府要求回应",
}
RISK_LEVEL_LABELS = ("一般", "较大", "重大", "特别重大")


def supplementary_hours(risk_level: int, settings: InterpretationSettings) -> float:
    """Hours to answer an opinion event of ``risk_level`` (domain.md §5, 国办发〔2016〕61号): a response within
    48 hours; 重大/特别重大 (level ≥ ``supplementary_major_level``): a press conference within 24 hours."""
    if risk_level >= settings.supplementary_major_level:
        return settings.supplementary_major_hours
    return settings.supplementary_hours


def _level_label(level: int) -> str:
    return RISK_LEVEL_LABELS[level] if 0 <= level < len(RISK_LEVEL_LABELS) else str(level)


def _china_time(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def opinion_snapshot(event: OpinionEventV1, escalated_at: dt.datetime) -> dict[str, Any]:
    """What the drafter needs to know about what was misread: the event's title, keywords and a summary.
    The payload carries no author identity (the sentiment service keeps authors pseudonymous)."""
    labels = [MUST_RESPOND_LABELS.get(c, c) for c in event.must_respond]
    summary = (
        f"舆情事件“{event.title}”（{event.topic}，风险等级：{event.risk_level_label}）："
        f"帖文{event.post_count}条、转发{event.repost_count}条，负面占比{event.negative_share:.0%}"
        + (f"；关键词：{'、'.join(event.keywords)}" if event.keywords else "")
        + (f"；必须回应情形（国办发〔2016〕61号）：{'、'.join(labels)}" if labels else "")
        + "。"
    )
    return {
        "event_id": str(event.event_id),
        "title": event.title,
        "topic": event.topic,
        "keywords": list(event.keywords),
        "summary": summary,
        "risk_level": event.risk_level,
        "risk_level_label": event.risk_level_label,
        "must_respond": list(event.must_respond),
        "must_respond_labels": labels,
        "heat": event.heat,
        "trend": event.trend,
        "post_count": event.post_count,
        "repost_count": event.repost_count,
        "channel_counts": dict(event.channel_counts),
        "negative_share": event.negative_share,
        "department_id": str(event.department_id) if event.department_id else None,
        "first_seen_at": event.first_seen_at.isoformat(),
        "last_seen_at": event.last_seen_at.isoformat(),
        "escalated_at": escalated_at.isoformat(),
    }


async def on_opinion_event(session: AsyncSession, envelope: Envelope, *, settings: InterpretationSettings) -> None:
    """``sentiment.event.escalated`` (and ``sentiment.event.detected`` at the same level): a public-opinion event
    about a policy opens ONE supplementary interpretation of it (补充解读), due ``supplementary_hours`` after the
    escalation. A later escalation of the same event to a higher level may bring the deadline forward, never
    opens a second task. An event about a policy not here yet waits for it (``pending_supplementary``)."""
    event = OpinionEventV1.model_validate(envelope.data)
    if event.policy_item_id is None or event.risk_level < settings.supplementary_min_level:
        return  # not about a policy, or not serious enough: nothing to interpret (the sentiment service responds)
    at = envelope.occurred_at
    if utcnow() - at > dt.timedelta(hours=settings.supplementary_max_age_hours):
        log.info("opinion_event_too_old", event_id=str(event.event_id), escalated_at=at.isoformat())
        return  # its response window is long past (e.g. the stream's history replayed to a new consumer)
    hours = supplementary_hours(event.risk_level, settings)
    due_at = at + dt.timedelta(hours=hours)
    snapshot = opinion_snapshot(event, at)
    await _lock_policy(session, event.policy_item_id)
    task = await session.scalar(
        select(InterpretationTask)
        .where(
            InterpretationTask.kind == TaskKind.supplementary,
            InterpretationTask.policy_item_id == event.policy_item_id,
            InterpretationTask.opinion_event_id == event.event_id,
        )
        .with_for_update()
    )
    if task is not None:
        _escalate(session, task, snapshot=snapshot, due_at=due_at, hours=hours)
        await session.flush()
        return
    regular = await _task_for_policy(session, event.policy_item_id)
    if regular is None:
        # The policy is not here (yet): catalog.policy.published is consumed on its own stream and may come later
        # (or was dead-lettered and will be replayed). Keep the event; the task opens when the policy arrives.
        pending = await session.get(PendingSupplementary, event.event_id, with_for_update=True)
        if pending is None:
            session.add(
                PendingSupplementary(
                    opinion_event_id=event.event_id,
                    policy_item_id=event.policy_item_id,
                    risk_level=event.risk_level,
                    escalated_at=at,
                    due_at=due_at,
                    due_hours=hours,
                    opinion_event=snapshot,
                    received_at=utcnow(),
                )
            )
        elif event.risk_level > pending.risk_level or due_at < pending.due_at:
            if event.risk_level > pending.risk_level:
                pending.risk_level = event.risk_level
                pending.opinion_event = {**snapshot, "escalated_at": pending.opinion_event["escalated_at"]}
            if due_at < pending.due_at:
                pending.due_at, pending.due_hours = due_at, hours
        await session.flush()
        return
    await _open_supplementary(
        session, regular, snapshot=snapshot, escalated_at=at, due_at=due_at, hours=hours, event_id=event.event_id
    )


def _escalate(
    session: AsyncSession, task: InterpretationTask, *, snapshot: dict[str, Any], due_at: dt.datetime, hours: float
) -> None:
    """The same opinion event again: redelivered, or escalated further. A higher level refreshes what the drafter
    sees and may bring the deadline forward; nothing else changes (and nothing once it is published)."""
    if task.status is TaskStatus.published:
        return
    assert task.opinion_event is not None and task.due_at is not None
    higher = snapshot["risk_level"] > task.opinion_event.get("risk_level", -1)
    sooner = due_at < task.due_at
    if not (higher or sooner):
        return  # a redelivery, or an escalation that changes nothing here
    if higher:
        task.opinion_event = {**snapshot, "escalated_at": task.opinion_event.get("escalated_at")}
    if sooner:
        task.due_at, task.due_on, task.due_hours = due_at, china_date_of(due_at), hours
    _record(
        session,
        task,
        actor="system",
        action="escalated",
        opinion=f"舆情升级为{snapshot['risk_level_label']}"
        + (f"，补充解读截止时间提前至{_china_time(due_at)}（{hours:g}小时，国办发〔2016〕61号）" if sooner else ""),
    )


async def _open_supplementary(
    session: AsyncSession,
    regular: InterpretationTask,
    *,
    snapshot: dict[str, Any],
    escalated_at: dt.datetime,
    due_at: dt.datetime,
    hours: float,
    event_id: uuid.UUID,
) -> None:
    """The supplementary task of ``regular``'s policy for one opinion event: the policy's drafting department and
    第一解读人, like the regular task (谁起草、谁解读), the opinion event it answers, due in hours."""
    assert regular.policy_item_id is not None and regular.published_on is not None
    org = await session.get(Organization, regular.organization_id)
    if regular.head_set_by_staff or org is None or not org.head_name:
        head_name, head_title, by_staff = regular.head_name, regular.head_title, regular.head_set_by_staff
    else:
        head_name, head_title, by_staff = org.head_name, org.head_title, False
    due_on = china_date_of(due_at)
    task_id = await session.scalar(
        insert(InterpretationTask)
        .values(
            id=uuid7(),
            kind=TaskKind.supplementary,
            policy_item_id=regular.policy_item_id,
            policy_title=regular.policy_title,
            policy_document_number=regular.policy_document_number,
            policy_kind=regular.policy_kind,
            policy_body=regular.policy_body,
            organization_id=regular.organization_id,
            head_name=head_name,
            head_title=head_title,
            head_set_by_staff=by_staff,
            drafter=regular.drafter,
            published_on=regular.published_on,
            due_working_days=None,
            due_on=due_on,
            due_provisional=False,
            opinion_event_id=event_id,
            opinion_event=snapshot,
            escalated_at=escalated_at,
            due_at=due_at,
            due_hours=hours,
            status=TaskStatus.assigned,
        )
        .on_conflict_do_nothing(
            index_elements=["policy_item_id", "opinion_event_id"],
            index_where=text("kind = 'supplementary'"),  # a literal: a bound parameter cannot infer the index
        )
        .returning(InterpretationTask.id)
    )
    if task_id is None:
        return
    session.add(
        TaskEvent(
            id=uuid7(),
            task_id=task_id,
            at=utcnow(),
            actor="system",
            action="assigned",
            to_status=TaskStatus.assigned.value,
            opinion=f"舆情事件“{snapshot['title']}”（{snapshot['risk_level_label']}）涉及本政策，分派补充解读；"
            f"第一解读人：{head_name or '未登记'}；截止：{_china_time(due_at)}（{hours:g}小时，国办发〔2016〕61号）",
        )
    )
    await emit(
        session,
        event_tables,
        TASK_CREATED_V1,
        TaskCreatedV1(
            task_id=task_id,
            policy_item_id=regular.policy_item_id,
            policy_title=regular.policy_title,
            organization_id=regular.organization_id,
            published_on=regular.published_on,
            due_on=due_on,
            due_provisional=False,
            head_name=head_name,
            kind=TaskKind.supplementary.value,
            kind_label=TASK_KIND_LABELS[TaskKind.supplementary],
            opinion_event_id=event_id,
            opinion_event_title=snapshot["title"],
            due_at=due_at,
        ),
    )


async def _open_pending_supplementary(session: AsyncSession, policy_item_id: uuid.UUID) -> None:
    """The policy arrived: open the supplementary tasks of the opinion events that waited for it (the deadline
    still counts from the escalation: the public's clock did not wait for this service)."""
    waiting = (
        await session.scalars(
            select(PendingSupplementary)
            .where(PendingSupplementary.policy_item_id == policy_item_id)
            .order_by(PendingSupplementary.escalated_at)
            .with_for_update()
        )
    ).all()
    if not waiting:
        return
    regular = await _task_for_policy(session, policy_item_id)
    assert regular is not None
    for pending in waiting:
        await _open_supplementary(
            session,
            regular,
            snapshot=pending.opinion_event,
            escalated_at=pending.escalated_at,
            due_at=pending.due_at,
            hours=pending.due_hours,
            event_id=pending.opinion_event_id,
        )
        await session.delete(pending)
    await session.flush()


async def recompute_due_dates(session: AsyncSession, calendar: WorkingDayCalendar) -> int:
    """The calendar changed: recompute the due date of every open task; return how many moved."""
    tasks = (
        await session.scalars(
            select(InterpretationTask)
            .where(
                InterpretationTask.kind == TaskKind.regular,  # supplementary deadlines are hours, not working days
                InterpretationTask.status != TaskStatus.published,
                InterpretationTask.published_on.is_not(None),
            )
            .with_for_update()
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


async def sweep_deadlines(
    session: AsyncSession,
    *,
    due_soon_working_days: int,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    due_soon_hours: float = 6.0,
) -> tuple[int, int]:
    """Emit due-soon and overdue once per unpublished task; return (due soon, overdue) emitted.

    Regular tasks by date (due ``due_on``, due soon within ``due_soon_working_days``); supplementary tasks by
    the hour (due ``due_at``, due soon within ``due_soon_hours``, 国办发〔2016〕61号 counts hours)."""
    today = today or china_today()
    now = now or utcnow()
    calendar = await load_calendar(session, calendar_table)
    horizon = calendar.explain_add_working_days(today, due_soon_working_days, provisional=True).end
    t = InterpretationTask
    open_ = and_(t.status != TaskStatus.published, t.policy_item_id.is_not(None))
    regular = t.kind == TaskKind.regular
    supplementary = t.kind == TaskKind.supplementary

    async def locked(*where: Any) -> list[InterpretationTask]:
        stmt = select(t).where(open_, *where).order_by(t.id).with_for_update(skip_locked=True)
        return list((await session.scalars(stmt)).all())

    soon = await locked(regular, t.due_soon_notified_at.is_(None), t.due_on >= today, t.due_on <= horizon)
    soon += await locked(
        supplementary,
        t.due_soon_notified_at.is_(None),
        t.due_at >= now,
        t.due_at <= now + dt.timedelta(hours=due_soon_hours),
    )
    late = await locked(regular, t.overdue_notified_at.is_(None), t.due_on < today)
    late += await locked(supplementary, t.overdue_notified_at.is_(None), t.due_at < now)
    stamp = utcnow()
    for subject, tasks, column in (
        (TASK_DUE_SOON_V1, soon, "due_soon_notified_at"),
        (TASK_OVERDUE_V1, late, "overdue_notified_at"),
    ):
        for task in tasks:
            setattr(task, column, stamp)
            assert task.policy_item_id is not None and task.due_on is not None
            await emit(
                session,
                event_tables,
                subject,
                TaskDeadlineV1(
                    task_id=task.id,
                    policy_item_id=task.policy_item_id,
                    policy_title=task.policy_title,
                    organization_id=task.organization_id,
                    head_name=task.head_name,
                    due_on=task.due_on,
                    due_provisional=task.due_provisional,
                    status=task.status.value,
                    kind=task.kind.value,
                    opinion_event_id=task.opinion_event_id,
                    due_at=task.due_at,
                ),
            )
    await session.flush()
    return len(soon), len(late)


# --------------------------------------------------------------------------------------------
# Staff actions
# --------------------------------------------------------------------------------------------


async def get_task(
    session: AsyncSession, *, task_id: uuid.UUID, principal: Principal, lock: bool = False
) -> InterpretationTask:
    stmt = select(InterpretationTask).where(InterpretationTask.id == task_id)
    if lock:
        stmt = stmt.with_for_update()
    task = await session.scalar(stmt)
    if task is None or not principal.can_act_for(task.organization_id):
        raise NotFound("解读任务不存在")
    return task


async def register_early(
    session: AsyncSession, *, data: RegisterIn, principal: Principal, due_working_days: int
) -> InterpretationTask:
    """三同步: register an interpretation before its policy is published; linked when it is."""
    principal.require_department(data.organization_id)
    if data.policy_item_id is None and not data.policy_document_number:
        raise ValidationFailed.for_field(
            "body.policy_document_number", "须提供政策文号或政策在目录中的标识，政策发布时据此关联", "missing"
        )
    if data.policy_item_id is not None:
        existing = await _task_for_policy(session, data.policy_item_id)
        reference = item_reference(data.policy_item_id)
    else:
        assert data.policy_document_number is not None
        existing = None
        reference = document_reference(data.policy_document_number)
    clash = existing or await session.scalar(
        select(InterpretationTask).where(
            or_(
                InterpretationTask.policy_reference == reference,
                and_(
                    InterpretationTask.policy_document_number.is_not(None),
                    InterpretationTask.policy_document_number == data.policy_document_number,
                ),
            )
        )
    )
    if clash is not None:
        raise Conflict(
            "该政策已有解读任务，不能重复登记",
            code="task_exists",
            title="解读任务已存在",
            extra={"task_id": str(clash.id)},
        )
    task = InterpretationTask(
        id=uuid7(),
        policy_item_id=None,
        policy_title=data.policy_title,
        policy_document_number=data.policy_document_number,
        policy_reference=reference,
        registered_early=True,
        organization_id=data.organization_id,
        head_name=data.head_name,
        head_set_by_staff=data.head_name is not None,
        drafter=data.drafter,
        published_on=None,
        due_working_days=due_working_days,
        due_on=None,
        due_provisional=False,
        status=TaskStatus.assigned,
        text="",
        forms=[],
        qa_pairs=[],
        non_text_forms=0,
    )
    session.add(task)
    await session.flush()
    _record(
        session,
        task,
        actor=_actor(principal),
        action="registered",
        to_status=TaskStatus.assigned,
        opinion="政策发布前登记解读（三同步）",
    )
    await session.flush()
    return task


async def set_assignment(
    session: AsyncSession, *, task_id: uuid.UUID, data: AssignmentIn, principal: Principal
) -> InterpretationTask:
    """Staff set the 第一解读人 (when the catalog has none) and the drafter."""
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    if task.status is TaskStatus.published:
        raise Conflict("解读已发布，不能修改分派", code="already_published", title="解读已发布")
    given = data.model_dump(exclude_unset=True)
    if "head_name" in given:
        task.head_name, task.head_set_by_staff = data.head_name, data.head_name is not None
    if "head_title" in given:
        task.head_title = data.head_title
    if "drafter" in given:
        task.drafter = data.drafter
    _record(
        session,
        task,
        actor=_actor(principal),
        action="assignment",
        opinion=f"第一解读人：{task.head_name or '未登记'}；起草人：{task.drafter or '未指定'}",
    )
    await session.flush()
    return task


def _check_forms(data: ContentIn) -> None:
    """A non-text form needs its attachment or link (问答 may instead be given as Q&A pairs)."""
    for i, form in enumerate(data.forms):
        if form.form is InterpretationForm.text:
            continue
        if form.form is InterpretationForm.qa and data.qa_pairs:
            continue
        if not (form.url or form.attachment_id):
            raise ValidationFailed.for_field(
                f"body.forms.{i}.url",
                f"“{FORM_LABELS[form.form]}”形式须提供附件（attachment_id）或链接（url）",
                "form_attachment_missing",
            )


def effective_forms(task: InterpretationTask) -> set[str]:
    forms = {f["form"] for f in task.forms}
    if task.text.strip():
        forms.add(InterpretationForm.text.value)
    if task.qa_pairs:
        forms.add(InterpretationForm.qa.value)
    return forms


async def set_content(
    session: AsyncSession, *, task_id: uuid.UUID, data: ContentIn, principal: Principal
) -> InterpretationTask:
    """The interpretation's text, forms and Q&A; the first save starts drafting."""
    _check_forms(data)
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    if task.status in (TaskStatus.review, TaskStatus.published):
        raise Conflict(
            f"解读{'审核中' if task.status is TaskStatus.review else '已发布'}，不能修改内容",
            code="not_editable",
            title="当前状态不能修改内容",
        )
    task.title = data.title
    task.text = data.text
    task.forms = [f.model_dump(mode="json", exclude_none=True) for f in data.forms]
    task.qa_pairs = [q.model_dump() for q in data.qa_pairs]
    task.non_text_forms = len(effective_forms(task) & NON_TEXT)
    before = task.status
    if task.status is TaskStatus.assigned:
        task.status = TaskStatus.drafting
    _record(session, task, actor=_actor(principal), action="content", from_status=before, to_status=task.status)
    await session.flush()
    return task


async def make_task_draft(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    principal: Principal,
    settings: InterpretationSettings,
    backend: str = "deterministic",
    llm: LlmComplete | None = None,
) -> dict[str, Any]:
    """The draft written from the policy (always deterministic; a model's text beside it when asked)."""
    if backend == "llm" and not settings.llm_url:
        raise ValidationFailed.for_field(
            "body.backend", "未配置大模型起草服务（GK_INTERPRETATION_LLM_URL），请使用 deterministic", "llm_disabled"
        )
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    if not task.policy_body:
        raise Conflict("政策尚未发布，没有可供起草的全文", code="policy_not_published", title="政策尚未发布")
    draft = policy_draft(task)
    result: dict[str, Any] = {**draft.as_dict(), "backend": "deterministic"}
    if backend == "llm" and settings.llm_url:
        from gongkai_interpretation import llm as llm_module

        complete = llm or llm_module.complete
        try:
            result["llm_text"] = await complete(settings, title=task.policy_title, draft=draft)
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise UpstreamUnavailable(f"大模型起草服务不可用：{type(exc).__name__}") from exc
        result["backend"] = "llm"
    task.draft = result
    before = task.status
    if task.status is TaskStatus.assigned:
        task.status = TaskStatus.drafting
    _record(session, task, actor=_actor(principal), action="draft", from_status=before, to_status=task.status)
    await session.flush()
    return result


def policy_draft(task: InterpretationTask) -> Draft:
    """The deterministic draft of ``task``'s policy, with the differences when it supersedes one."""
    lines = None
    if task.differences and task.differences.get("available"):
        # as_dict() lists the same differences in the same order as its summary lines.
        lines = [
            (line, (change.get("new") or {}).get("sentences", []))
            for line, change in zip(task.differences["summary"], task.differences["changes"], strict=True)
        ]
    return make_draft(task.policy_title, task.policy_body or "", differences=lines)


def quality_of(task: InterpretationTask, *, min_score: int) -> quality_check.QualityReport:
    return quality_check.check(
        text=task.text,
        qa_pairs=task.qa_pairs,
        forms=effective_forms(task),
        policy_body=task.policy_body,
        policy_linked=task.policy_item_id is not None,
        supersedes=task.supersedes_item_id is not None,
        min_score=min_score,
    )


def _require_content(task: InterpretationTask) -> None:
    if not task.text.strip() and not task.qa_pairs:
        raise Conflict("解读没有内容（正文和问答均为空）", code="no_content", title="没有解读内容")


async def submit(
    session: AsyncSession, *, task_id: uuid.UUID, principal: Principal, opinion: str | None
) -> InterpretationTask:
    """drafting → review (送审)."""
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    if task.status not in (TaskStatus.assigned, TaskStatus.drafting):
        raise Conflict("只有起草中的解读可以送审", code="not_drafting", title="当前状态不能送审")
    _require_content(task)
    before, task.status = task.status, TaskStatus.review
    _record(
        session,
        task,
        actor=_actor(principal),
        action="submitted",
        from_status=before,
        to_status=task.status,
        opinion=opinion,
    )
    await session.flush()
    return task


def _require_reviewer(principal: Principal, task: InterpretationTask) -> None:
    if not principal.has_any(*REVIEWERS):
        raise Forbidden("只有审核人或政务公开办可以审核、发布解读")
    principal.require_department(task.organization_id)


async def return_to_drafting(
    session: AsyncSession, *, task_id: uuid.UUID, principal: Principal, opinion: str
) -> InterpretationTask:
    """review → drafting, with the reviewer's opinion (退回修改)."""
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    _require_reviewer(principal, task)
    if task.status is not TaskStatus.review:
        raise Conflict("只有审核中的解读可以退回", code="not_in_review", title="当前状态不能退回")
    before, task.status = task.status, TaskStatus.drafting
    _record(
        session,
        task,
        actor=_actor(principal),
        action="returned",
        from_status=before,
        to_status=task.status,
        opinion=opinion,
    )
    await session.flush()
    return task


async def publish(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    principal: Principal,
    opinion: str | None,
    override_reason: str | None,
    min_score: int,
) -> tuple[InterpretationTask, quality_check.QualityReport]:
    """review → published; below the quality threshold only with the reviewer's reason (recorded)."""
    task = await get_task(session, task_id=task_id, principal=principal, lock=True)
    _require_reviewer(principal, task)
    if task.status is not TaskStatus.review:
        raise Conflict("只有审核中的解读可以发布", code="not_in_review", title="当前状态不能发布")
    _require_content(task)
    if task.policy_item_id is None or task.due_on is None:
        raise Conflict(
            "政策尚未发布：解读与政策同步部署，待政策发布并关联后再发布",
            code="policy_not_published",
            title="政策尚未发布",
        )
    report = quality_of(task, min_score=min_score)
    if not report.passed and not override_reason:
        raise ValidationFailed(
            f"质量评分{report.score}低于发布门槛{min_score}，须由审核人填写发布理由",
            errors=[
                FieldError(
                    field="body.override_reason",
                    message=f"质量评分{report.score}低于发布门槛{min_score}，须填写理由",
                    type="override_required",
                )
            ],
            extra={"quality": report.as_dict()},
        )
    now = utcnow()
    before = task.status
    task.status = TaskStatus.published
    task.published_at = now
    task.interpretation_published_on = china_date_of(now)
    task.quality = report.as_dict()
    task.quality_score = report.score
    if not report.passed:
        task.override_reason, task.override_by = override_reason, _actor(principal)
    _record(
        session,
        task,
        actor=_actor(principal),
        action="published",
        from_status=before,
        to_status=task.status,
        opinion="；".join(
            x for x in (opinion, f"低于质量门槛发布，理由：{override_reason}" if not report.passed else None) if x
        )
        or None,
    )
    org = await session.get(Organization, task.organization_id)
    differences = (task.differences or {}).get("summary", []) if task.differences else []
    supplementary = task.kind is TaskKind.supplementary
    # On time: a regular interpretation by its due date (三同步); a supplementary one by its hour (61号).
    on_time = now <= task.due_at if supplementary and task.due_at else task.interpretation_published_on <= task.due_on
    await emit(
        session,
        event_tables,
        INTERPRETATION_PUBLISHED_V1,
        InterpretationPublishedV1(
            interpretation_id=task.id,
            task_id=task.id,
            policy_item_id=task.policy_item_id,
            policy_title=task.policy_title,
            policy_document_number=task.policy_document_number,
            organization_id=task.organization_id,
            organization_name=org.name if org else None,
            head_name=task.head_name,
            title=task.title or f"《{task.policy_title}》{TASK_KIND_LABELS[task.kind]}",
            text=task.text,
            forms=[
                InterpretationFormV1(form_label=FORM_LABELS[InterpretationForm(f["form"])], **f) for f in task.forms
            ],
            qa_pairs=[QAPairV1(**q) for q in task.qa_pairs],
            published_on=task.interpretation_published_on,
            due_on=task.due_on,
            on_time=on_time,
            quality_score=report.score,
            differences=list(differences),
            kind=task.kind.value,
            opinion_event_id=task.opinion_event_id,
        ),
    )
    await session.flush()
    return task, report


async def history(session: AsyncSession, *, task_id: uuid.UUID, principal: Principal) -> list[TaskEvent]:
    await get_task(session, task_id=task_id, principal=principal)
    return list(
        (
            await session.scalars(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.at, TaskEvent.id)
            )
        ).all()
    )


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def figures(
    session: AsyncSession,
    *,
    start: dt.date,
    end: dt.date,
    principal: Principal,
    organization_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Per department, for policies published in [start, end]: interpretation rate, on-time rate,
    share of published interpretations with a non-text form, average quality score (domain.md §4).

    Only regular tasks count there: a policy is interpreted when its regular interpretation is published, so
    a supplementary one (补充解读) never counts a policy twice. Supplementary tasks have their own figures, for
    the opinion events that escalated in [start, end] (China time): opened, published, published by their
    deadline (hours, 国办发〔2016〕61号)."""
    if end < start:
        raise ValidationFailed.for_field("query.end", "结束日期不能早于开始日期", "date_order")
    system_reader = Role.system in principal.roles and not principal.has_any(Role.staff, Role.reviewer, Role.office)
    if system_reader and not principal.has_scope("interpretation:read"):
        raise Forbidden("该系统未获授权读取政策解读数据")
    every_department = principal.has_any(Role.office, Role.admin) or (
        system_reader and ALL_ORGANIZATIONS_SCOPE in principal.scopes
    )
    t = InterpretationTask
    published = t.status == TaskStatus.published
    stmt = (
        select(
            t.organization_id,
            func.count().label("policies"),
            func.count().filter(published).label("interpreted"),
            func.count().filter(published, t.interpretation_published_on <= t.due_on).label("on_time"),
            func.count().filter(published, t.non_text_forms > 0).label("non_text"),
            func.avg(case((published, t.quality_score))).label("quality"),
        )
        .where(
            t.kind == TaskKind.regular,
            t.policy_item_id.is_not(None),
            t.published_on >= start,
            t.published_on <= end,
        )
        .group_by(t.organization_id)
        .order_by(t.organization_id)
    )
    escalated_on = func.date(func.timezone(literal_column("'Asia/Shanghai'"), t.escalated_at))
    supplementary_stmt = (
        select(
            t.organization_id,
            func.count().label("opened"),
            func.count().filter(published).label("published"),
            func.count().filter(published, t.published_at <= t.due_at).label("on_time"),
        )
        .where(t.kind == TaskKind.supplementary, escalated_on >= start, escalated_on <= end)
        .group_by(t.organization_id)
        .order_by(t.organization_id)
    )
    scope = None
    if organization_id is not None:
        principal.require_department(organization_id)
        scope = organization_id
    elif not every_department:
        if principal.department_id is None:
            raise Forbidden("只能查看本部门的数据")
        scope = principal.department_id
    if scope is not None:
        stmt = stmt.where(t.organization_id == scope)
        supplementary_stmt = supplementary_stmt.where(t.organization_id == scope)
    rows = (await session.execute(stmt)).all()
    supplementary_rows = (await session.execute(supplementary_stmt)).all()
    org_ids = {r.organization_id for r in rows} | {r.organization_id for r in supplementary_rows}
    names = {
        o.id: o.name for o in (await session.scalars(select(Organization).where(Organization.id.in_(org_ids)))).all()
    }

    def row(
        org_id: uuid.UUID | None,
        name: str | None,
        policies: int,
        interpreted: int,
        on_time: int,
        non_text: int,
        q_sum: float,
        q_n: int,
    ) -> dict[str, Any]:
        return {
            "organization_id": org_id,
            "organization_name": name,
            "policies": policies,
            "interpreted": interpreted,
            "interpretation_rate": _ratio(interpreted, policies),
            "on_time": on_time,
            "on_time_rate": _ratio(on_time, policies),
            "non_text_share": _ratio(non_text, interpreted),
            "average_quality": round(q_sum / q_n, 1) if q_n else None,
        }

    out = []
    totals = [0, 0, 0, 0, 0.0, 0]
    for r in rows:
        q_n = r.interpreted if r.quality is not None else 0
        q_sum = float(r.quality) * q_n if r.quality is not None else 0.0
        out.append(
            row(
                r.organization_id,
                names.get(r.organization_id),
                r.policies,
                r.interpreted,
                r.on_time,
                r.non_text,
                q_sum,
                q_n,
            )
        )
        for i, v in enumerate((r.policies, r.interpreted, r.on_time, r.non_text, q_sum, q_n)):
            totals[i] += v
    total = row(None, "合计", *totals) if rows else None  # type: ignore[arg-type]

    def supplementary_row(org_id: uuid.UUID | None, name: str | None, opened: int, done: int, on_time: int) -> dict:
        return {
            "organization_id": org_id,
            "organization_name": name,
            "opened": opened,
            "published": done,
            "on_time": on_time,
            "on_time_rate": _ratio(on_time, opened),
        }

    supplementary = [
        supplementary_row(r.organization_id, names.get(r.organization_id), r.opened, r.published, r.on_time)
        for r in supplementary_rows
    ]
    supplementary_total = (
        supplementary_row(None, "合计", *(sum(r[k] for r in supplementary) for k in ("opened", "published", "on_time")))
        if supplementary
        else None
    )
    return {
        "start": start,
        "end": end,
        "rows": out,
        "total": total,
        "supplementary": {"rows": supplementary, "total": supplementary_total},
    }
