"""Tables of public participation and supervision (issue 9): consultations on draft decisions (意见征集),
the column-freshness flags, and the rectification lists (问题整改, 销号管理).

They live beside ``models.py`` (same ``Base``, same database); migration 0006 creates them.

- ``consultations``: a draft major decision (决策草案, a published catalog item) with its basis (决策依据),
  open for comment from ``opened_on`` to ``closes_on``; ``report_item_id`` is the feedback report, a catalog
  item with ``origin = "consultation"`` and ``origin_id = consultations.id`` (so one report per consultation).
- ``consultation_comments``: what the public sent, without an account. ``contact`` and ``author_name`` are
  personal data: never on a public endpoint, an event or a log line.
- ``consultation_points``: the main points (主要观点) comments are grouped into, each adopted or not with a reason.
- ``column_stale_flags``: the last publication of a column for which ``catalog.column.stale`` was sent, so each
  staleness is announced once.
- ``rectification_findings``: a finding against a department, its requirement and deadline, the answer with
  evidence, and 销号.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from gongkai_shared.db import IdMixin, TimestampMixin
from sqlalchemy import Boolean, Date, DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gongkai_catalog.models import Base

__all__ = [
    "COMMENT_STATUS_LABELS",
    "CONSULTATION_STATUS_LABELS",
    "FINDING_SOURCE_LABELS",
    "FINDING_STATUS_LABELS",
    "REJECTION_LABELS",
    "ColumnStaleFlag",
    "CommentStatus",
    "Consultation",
    "ConsultationComment",
    "ConsultationPoint",
    "ConsultationStatus",
    "FindingSource",
    "FindingStatus",
    "RectificationFinding",
    "RejectionReason",
]


def _enum(cls: type[StrEnum], name: str, length: int = 30) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


# --------------------------------------------------------------------------------------------
# Consultations (意见征集)
# --------------------------------------------------------------------------------------------


class ConsultationStatus(StrEnum):
    draft = "draft"  # 未开始
    open = "open"  # 征求意见中
    closed = "closed"  # 征求意见已结束（待反馈）


CONSULTATION_STATUS_LABELS = {
    ConsultationStatus.draft: "未开始",
    ConsultationStatus.open: "征求意见中",
    ConsultationStatus.closed: "征求意见已结束",
}


class Consultation(IdMixin, TimestampMixin, Base):
    """A draft major decision open for public comment (《重大行政决策程序暂行条例》第十四、十五条)."""

    __tablename__ = "consultations"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    #: 决策草案: the published catalog item that carries the draft and its explanation.
    draft_item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"), index=True)
    #: 决策依据: laws, policies and facts the draft rests on.
    basis: Mapped[str] = mapped_column(Text)
    #: How to comment besides this system (mail, fax, …), shown to the public.
    channels: Mapped[str | None] = mapped_column(Text)
    period_days: Mapped[int] = mapped_column(Integer)
    #: Why the period is shorter than the usual minimum (art. 15: 因情况紧急等原因需要缩短期限的，应当予以说明).
    shortened_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ConsultationStatus] = mapped_column(
        _enum(ConsultationStatus, "consultation_status", 20), default=ConsultationStatus.draft, index=True
    )
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    #: The last day comments are accepted (the day of opening not counted, 民法典 art. 201).
    closes_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The feedback report must be published by then (setting ``consultation_report_due_days``).
    report_due_on: Mapped[dt.date | None] = mapped_column(Date)
    report_item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("items.id"))
    report_published_on: Mapped[dt.date | None] = mapped_column(Date)
    report_overdue_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))


class CommentStatus(StrEnum):
    pending = "pending"  # 待审核
    held = "held"  # 含敏感内容，待审核
    accepted = "accepted"  # 有效意见
    rejected = "rejected"  # 不予受理


COMMENT_STATUS_LABELS = {
    CommentStatus.pending: "待审核",
    CommentStatus.held: "含敏感内容待审核",
    CommentStatus.accepted: "有效意见",
    CommentStatus.rejected: "不予受理",
}


class RejectionReason(StrEnum):
    spam = "spam"  # 垃圾信息
    abuse = "abuse"  # 辱骂攻击
    personal_data = "personal_data"  # 含个人信息
    off_topic = "off_topic"  # 与征求意见事项无关


REJECTION_LABELS = {
    RejectionReason.spam: "垃圾信息",
    RejectionReason.abuse: "辱骂攻击等不文明内容",
    RejectionReason.personal_data: "含个人信息",
    RejectionReason.off_topic: "与征求意见事项无关",
}


class ConsultationComment(IdMixin, TimestampMixin, Base):
    """A comment from the public (no account). ``contact`` and ``author_name`` stay private."""

    __tablename__ = "consultation_comments"

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text)
    #: What part of the draft the comment is about (条款), as the commenter wrote it.
    clause: Mapped[str | None] = mapped_column(String(200))
    author_name: Mapped[str | None] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(200))
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[CommentStatus] = mapped_column(
        _enum(CommentStatus, "comment_status", 20), default=CommentStatus.pending, index=True
    )
    #: The sensitive check's findings, masked (never the full number).
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    rejection_reason: Mapped[RejectionReason | None] = mapped_column(_enum(RejectionReason, "comment_rejection", 20))
    moderation_note: Mapped[str | None] = mapped_column(Text)
    moderated_by: Mapped[str | None] = mapped_column(String(200))
    moderated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    point_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consultation_points.id", ondelete="SET NULL"), index=True
    )


class ConsultationPoint(IdMixin, TimestampMixin, Base):
    """A main point (主要观点) comments are grouped into, and whether it was adopted (采纳) and if not, why."""

    __tablename__ = "consultation_points"

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"), index=True)
    summary: Mapped[str] = mapped_column(Text)
    adopted: Mapped[bool | None] = mapped_column(Boolean)
    #: How it was taken into the decision (adopted), or why not (未采纳理由).
    response: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


# --------------------------------------------------------------------------------------------
# Column freshness (国办秘函〔2019〕19号)
# --------------------------------------------------------------------------------------------


class ColumnStaleFlag(TimestampMixin, Base):
    """``catalog.column.stale`` was sent for this column while its last publication was ``last_published_on``."""

    __tablename__ = "column_stale_flags"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    category_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("categories.id"), primary_key=True)
    last_published_on: Mapped[dt.date] = mapped_column(Date)
    flagged_on: Mapped[dt.date] = mapped_column(Date)


# --------------------------------------------------------------------------------------------
# Rectification lists (问题整改清单, 销号管理)
# --------------------------------------------------------------------------------------------


class FindingSource(StrEnum):
    own_check = "own_check"  # 自查（政务公开办检查）
    superior_notice = "superior_notice"  # 上级通报
    third_party = "third_party"  # 第三方评估


FINDING_SOURCE_LABELS = {
    FindingSource.own_check: "本级检查",
    FindingSource.superior_notice: "上级通报",
    FindingSource.third_party: "第三方评估",
}


class FindingStatus(StrEnum):
    assigned = "assigned"  # 待整改
    answered = "answered"  # 已反馈待销号
    returned = "returned"  # 退回重新整改
    closed = "closed"  # 已销号


FINDING_STATUS_LABELS = {
    FindingStatus.assigned: "待整改",
    FindingStatus.answered: "已反馈待销号",
    FindingStatus.returned: "退回重新整改",
    FindingStatus.closed: "已销号",
}


class RectificationFinding(IdMixin, TimestampMixin, Base):
    """A problem found in a department's disclosure work, to be rectified by a deadline and closed (销号)."""

    __tablename__ = "rectification_findings"

    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    source: Mapped[FindingSource] = mapped_column(_enum(FindingSource, "finding_source", 30))
    source_reference: Mapped[str | None] = mapped_column(String(300))  # e.g. the notice's 文号
    problem: Mapped[str] = mapped_column(Text)
    requirement: Mapped[str] = mapped_column(Text)
    found_on: Mapped[dt.date] = mapped_column(Date, index=True)
    deadline: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[FindingStatus] = mapped_column(
        _enum(FindingStatus, "finding_status", 20), default=FindingStatus.assigned, index=True
    )
    answer: Mapped[str | None] = mapped_column(Text)
    #: References to the evidence (attachment ids, item ids, addresses of the corrected pages).
    evidence: Mapped[list[str]] = mapped_column(JSONB, default=list)
    answered_on: Mapped[dt.date | None] = mapped_column(Date)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    return_reason: Mapped[str | None] = mapped_column(Text)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    overdue_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: Every step: who, when, what, with which note.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_by: Mapped[str] = mapped_column(String(200))
