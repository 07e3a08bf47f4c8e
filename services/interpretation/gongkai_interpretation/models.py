"""Interpretation tables: one regular task per policy (三同步) and one supplementary task (补充解读) per
public-opinion event about it, their content, review history, local organizations, and opinion events
waiting for their policy.

A regular task is the interpretation of one policy: it is created when the policy is published (or
registered earlier by its drafters, 三同步, and linked when the policy arrives), carries the content
(text, forms, Q&A), the draft written from the policy, the clause differences from a superseded policy,
the quality check and the publication. A supplementary task answers a public-opinion event that
misreads the policy (sentiment.event.escalated): same content, workflow and publication, with a
deadline in hours (国办发〔2016〕61号) instead of working days.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata
from gongkai_shared.events import define_event_tables
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
calendar_table = define_calendar_table(Base.metadata)


class TaskStatus(StrEnum):
    assigned = "assigned"  # 已分派
    drafting = "drafting"  # 起草中
    review = "review"  # 审核中
    published = "published"  # 已发布


TASK_STATUS_LABELS = {
    TaskStatus.assigned: "已分派",
    TaskStatus.drafting: "起草中",
    TaskStatus.review: "审核中",
    TaskStatus.published: "已发布",
}


class TaskKind(StrEnum):
    regular = "regular"  # 政策解读 (三同步, one per policy)
    supplementary = "supplementary"  # 补充解读 (one per public-opinion event about the policy)


TASK_KIND_LABELS = {
    TaskKind.regular: "政策解读",
    TaskKind.supplementary: "补充解读",
}


class InterpretationForm(StrEnum):
    """解读形式 (domain.md §4)."""

    text = "text"  # 文字
    graphic = "graphic"  # 图解
    qa = "qa"  # 问答（简明问答）
    video = "video"  # 音视频
    animation = "animation"  # 动漫
    case = "case"  # 案例
    expert = "expert"  # 专家解读
    interview = "interview"  # 在线访谈
    press_conference = "press_conference"  # 新闻发布会


FORM_LABELS = {
    InterpretationForm.text: "文字",
    InterpretationForm.graphic: "图解",
    InterpretationForm.qa: "问答",
    InterpretationForm.video: "音视频",
    InterpretationForm.animation: "动漫",
    InterpretationForm.case: "案例",
    InterpretationForm.expert: "专家解读",
    InterpretationForm.interview: "在线访谈",
    InterpretationForm.press_conference: "新闻发布会",
}


class Organization(Base):
    """A 机关 as the catalog announces it (catalog.organization.created/updated): its head is the
    第一解读人 of the policies it drafts (谁起草、谁解读, domain.md §4)."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    head_name: Mapped[str | None] = mapped_column(String(100))
    head_title: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class InterpretationTask(IdMixin, TimestampMixin, Base):
    """An interpretation due for one policy (三同步, domain.md §4): one regular task per policy, and one
    supplementary task (补充解读) per (policy, public-opinion event) that misread it.

    ``policy_item_id`` is empty while an interpretation registered before its policy (三同步) waits
    for the policy: it is then matched by ``policy_reference`` (the catalog item id or the 文号).
    A regular task is due ``due_working_days`` after the policy (``due_on``); a supplementary one at
    ``due_at``, hours after the opinion event escalated (国办发〔2016〕61号), ``due_on`` being its date
    in China.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        Index(
            "uq_tasks_regular_policy_item_id",
            "policy_item_id",
            unique=True,
            postgresql_where=text("kind = 'regular'"),
        ),
        Index(
            "uq_tasks_supplementary_policy_item_id_opinion_event_id",
            "policy_item_id",
            "opinion_event_id",
            unique=True,
            postgresql_where=text("kind = 'supplementary'"),
        ),
        CheckConstraint(
            "(kind = 'supplementary') = (opinion_event_id IS NOT NULL AND due_at IS NOT NULL)",
            name="supplementary_has_event",
        ),
    )

    kind: Mapped[TaskKind] = mapped_column(
        Enum(TaskKind, name="task_kind", native_enum=False, length=20),
        default=TaskKind.regular,
    )
    policy_item_id: Mapped[uuid.UUID | None] = mapped_column()
    policy_title: Mapped[str] = mapped_column(String(500))
    policy_document_number: Mapped[str | None] = mapped_column(String(100), index=True)
    policy_kind: Mapped[str | None] = mapped_column(String(60))
    policy_body: Mapped[str | None] = mapped_column(Text)
    supersedes_item_id: Mapped[uuid.UUID | None]
    policy_reference: Mapped[str | None] = mapped_column(String(200), index=True)
    registered_early: Mapped[bool] = mapped_column(Boolean, default=False)
    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    head_name: Mapped[str | None] = mapped_column(String(100))
    head_title: Mapped[str | None] = mapped_column(String(100))
    head_set_by_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    drafter: Mapped[str | None] = mapped_column(String(100))
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    due_working_days: Mapped[int | None]
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    # Supplementary interpretation (补充解读): the opinion event, the hour-based deadline.
    opinion_event_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    opinion_event: Mapped[dict | None] = mapped_column(JSONB)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_hours: Mapped[float | None] = mapped_column(Float)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[TaskStatus] = mapped_column(
        Enum(TaskStatus, name="task_status", native_enum=False, length=20), default=TaskStatus.assigned
    )
    # Content
    title: Mapped[str | None] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text, default="")
    forms: Mapped[list] = mapped_column(JSONB, default=list)
    qa_pairs: Mapped[list] = mapped_column(JSONB, default=list)
    non_text_forms: Mapped[int] = mapped_column(Integer, default=0)
    draft: Mapped[dict | None] = mapped_column(JSONB)
    differences: Mapped[dict | None] = mapped_column(JSONB)
    # Quality check and publication
    quality_score: Mapped[int | None]
    quality: Mapped[dict | None] = mapped_column(JSONB)
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    interpretation_published_on: Mapped[dt.date | None] = mapped_column(Date)
    due_soon_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class TaskEvent(IdMixin, Base):
    """The history of a task: who did what, when, with which opinion (审核意见)."""

    __tablename__ = "task_history"

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    opinion: Mapped[str | None] = mapped_column(Text)


class PendingSupplementary(Base):
    """A public-opinion event about a policy this service does not hold yet (its catalog.policy.published
    has not arrived: the two streams are consumed independently). Its supplementary task opens when the
    policy arrives, with the deadline counted from the escalation."""

    __tablename__ = "pending_supplementary"

    opinion_event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    policy_item_id: Mapped[uuid.UUID] = mapped_column(index=True)
    risk_level: Mapped[int] = mapped_column(Integer)
    escalated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_hours: Mapped[float] = mapped_column(Float)
    opinion_event: Mapped[dict] = mapped_column(JSONB)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
