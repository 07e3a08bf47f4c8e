"""Interpretation tables. The walking skeleton's minimum: one task per policy; issue 5 deepens it."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata
from gongkai_shared.events import define_event_tables
from sqlalchemy import Boolean, Date, Enum, String
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


class InterpretationTask(IdMixin, TimestampMixin, Base):
    """An interpretation due for one policy (三同步, domain.md §4): exactly one per policy."""

    __tablename__ = "tasks"

    policy_item_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    policy_title: Mapped[str] = mapped_column(String(500))
    policy_document_number: Mapped[str | None] = mapped_column(String(100))
    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    published_on: Mapped[dt.date] = mapped_column(Date)
    due_working_days: Mapped[int]
    due_on: Mapped[dt.date] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[TaskStatus] = mapped_column(
        Enum(TaskStatus, name="task_status", native_enum=False, length=20), default=TaskStatus.assigned
    )
