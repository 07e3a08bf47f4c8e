"""requests tables: applications (依申请公开), their ledger of legal events, correspondence and
delivery (送达), fees, remedies, transfers, the local copy of organizations, and the access log.

Personal data (条例 art. 29: 姓名、身份证明、联系方式) lives only in ``applications``' ``applicant_*``
columns; events, logs and the public follow view never carry it (see ``schemas.FollowView``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata, utcnow
from gongkai_shared.events import define_event_tables
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gongkai_requests.clock import Channel, EntryKind


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
calendar_table = define_calendar_table(Base.metadata)


def _enum(cls: type[StrEnum], name: str, length: int = 40) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class ApplicantType(StrEnum):
    """申请人类型 (annual report table 三's columns)."""

    natural_person = "natural_person"  # 自然人
    legal_person = "legal_person"  # 法人或其他组织


class OrganizationKind(StrEnum):
    """法人或其他组织 的细分 (table 三)."""

    commercial = "commercial"  # 商业企业
    research = "research"  # 科研机构
    public_welfare = "public_welfare"  # 社会公益组织
    legal_services = "legal_services"  # 法律服务机构
    other = "other"  # 其他


class IdType(StrEnum):
    """身份证明类型 (条例 art. 29)."""

    resident_id = "resident_id"  # 居民身份证（含外国人永久居留身份证，18位，校验）
    residence_permit = "residence_permit"  # 港澳台居民居住证（18位，校验）
    passport = "passport"  # 护照
    hk_macao_pass = "hk_macao_pass"  # 港澳居民来往内地通行证
    taiwan_pass = "taiwan_pass"  # 台湾居民来往大陆通行证
    other = "other"  # 其他


#: ID types whose number has the 18-character GB 11643 form and is validated as such.
VALIDATED_ID_TYPES = frozenset({IdType.resident_id, IdType.residence_permit})


class WantedForm(StrEnum):
    """所需信息的提供形式."""

    paper = "paper"  # 纸质文本
    electronic = "electronic"  # 电子文本
    disc = "disc"  # 光盘
    disk = "disk"  # 磁盘
    other = "other"  # 其他


class DeliveryMethod(StrEnum):
    """获取信息的方式."""

    post = "post"  # 邮寄
    email = "email"  # 电子邮件
    fax = "fax"  # 传真
    pickup = "pickup"  # 自行领取
    on_site = "on_site"  # 当场阅读、抄录
    online = "online"  # 网上获取


class ApplicationStatus(StrEnum):
    processing = "processing"  # 办理中
    awaiting_correction = "awaiting_correction"  # 待补正
    awaiting_fee = "awaiting_fee"  # 待缴费
    decided = "decided"  # 已作出决定、待答复
    replied = "replied"  # 已答复、待送达
    closed = "closed"  # 已办结


STATUS_LABELS = {
    ApplicationStatus.processing: "办理中",
    ApplicationStatus.awaiting_correction: "待补正",
    ApplicationStatus.awaiting_fee: "待缴费",
    ApplicationStatus.decided: "已作出决定，待答复",
    ApplicationStatus.replied: "已答复",
    ApplicationStatus.closed: "已办结",
}


class Organization(TimestampMixin, Base):
    """A 机关 as this service knows it: from ``catalog.organization.*`` events, or registered by the office."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(20), default="catalog")  # catalog | office


class Application(IdMixin, TimestampMixin, Base):
    """A disclosure application (依申请公开, 条例 art. 27-33)."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("channel", "idempotency_key"),
        # The staff work list: department + status, ordered by the reply deadline (keyset on due, id).
        Index("ix_applications_worklist", "department_id", "status", "sort_due_on", "id"),
        Index("ix_applications_office_worklist", "status", "sort_due_on", "id"),
        Index("ix_applications_identity_received", "identity_hash", "received_on"),
        Index("ix_applications_department_received", "department_id", "received_on"),
        # Annual statistics (tables 三): an index-only range over the day each application was concluded.
        Index(
            "ix_applications_statistics",
            "department_id",
            text("coalesce(replied_on, closed_on, 'infinity'::date)"),
            postgresql_include=[
                "received_on",
                "replied_on",
                "closed_on",
                "applicant_type",
                "applicant_kind",
                "outcome",
            ],
        ),
        # A calendar change recomputes the open applications whose deadlines reach into the changed year.
        Index(
            "ix_applications_open_deadlines_through",
            "deadlines_through",
            postgresql_where=text("status <> 'closed'"),
        ),
    )

    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel", 20))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[uuid.UUID] = mapped_column()
    # -- applicant (personal data) --
    applicant_type: Mapped[ApplicantType] = mapped_column(_enum(ApplicantType, "applicant_type", 20))
    applicant_kind: Mapped[OrganizationKind | None] = mapped_column(_enum(OrganizationKind, "organization_kind", 20))
    applicant_name: Mapped[str] = mapped_column(String(200))
    id_type: Mapped[IdType | None] = mapped_column(_enum(IdType, "id_type", 20))
    id_number: Mapped[str | None] = mapped_column(String(40))
    organization_code: Mapped[str | None] = mapped_column(String(18))
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    #: HMAC of the normalised identity (never the plain number): 按件 counting and repeat detection.
    identity_hash: Mapped[str] = mapped_column(String(64))
    # -- what is asked --
    title: Mapped[str | None] = mapped_column(String(300))
    document_number: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    wanted_form: Mapped[WantedForm] = mapped_column(_enum(WantedForm, "wanted_form", 20))
    delivery_method: Mapped[DeliveryMethod] = mapped_column(_enum(DeliveryMethod, "delivery_method", 20))
    # -- receipt (art. 31) --
    submitted_on: Mapped[dt.date | None] = mapped_column(Date)
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    confirmed_on: Mapped[dt.date | None] = mapped_column(Date)
    received_on: Mapped[dt.date] = mapped_column(Date)
    receipt_note: Mapped[str] = mapped_column(Text, default="")
    registered_by: Mapped[str | None] = mapped_column(String(200))
    oral_difficulty: Mapped[str | None] = mapped_column(Text)
    # -- state --
    status: Mapped[ApplicationStatus] = mapped_column(
        _enum(ApplicationStatus, "application_status", 30), default=ApplicationStatus.processing
    )
    outcome: Mapped[str | None] = mapped_column(String(40))
    outcome_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    replied_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(Text)
    repeat_of_id: Mapped[uuid.UUID | None] = mapped_column()
    published_match: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # -- derived from the ledger by clock.compute (recomputed on every entry and calendar change) --
    reply_due_on: Mapped[dt.date | None] = mapped_column(Date)
    reply_due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    next_due_on: Mapped[dt.date | None] = mapped_column(Date)
    clock_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The work list's sort key: the reply deadline, else the next deadline, else 9999-12-31 (never null,
    #: so keyset pagination compares plain tuples).
    sort_due_on: Mapped[dt.date] = mapped_column(Date, default=dt.date.max)
    deadlines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    #: The latest due date among ``deadlines`` (how far the computation walked the calendar): a change to a
    #: year after it cannot move any of them (see ``service.recompute_year``).
    deadlines_through: Mapped[dt.date | None] = mapped_column(Date)


class LedgerEntryRow(IdMixin, Base):
    """One legal event of an application (the clock's ledger); append-only."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("application_id", "seq"),)

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind, "entry_kind", 30))
    on: Mapped[dt.date] = mapped_column(Date)
    working_days: Mapped[int | None] = mapped_column(Integer)
    ref: Mapped[uuid.UUID | None] = mapped_column()
    until: Mapped[dt.date | None] = mapped_column(Date)
    delivered_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Direction(StrEnum):
    incoming = "incoming"  # 来件
    outgoing = "outgoing"  # 发件


class LetterChannel(StrEnum):
    post_signed = "post_signed"  # 挂号信/EMS（需签收）
    post_ordinary = "post_ordinary"  # 平信
    email = "email"  # 电子邮件
    fax = "fax"  # 传真
    in_person = "in_person"  # 当面（直接送达、领取）
    online = "online"  # 网上


class LetterPurpose(StrEnum):
    application = "application"  # 申请
    corrected_application = "corrected_application"  # 补正材料
    correction_notice = "correction_notice"  # 补正告知书
    extension_notice = "extension_notice"  # 延期答复告知书
    consultation = "consultation"  # 征求意见函
    consultation_answer = "consultation_answer"  # 意见回复
    fee_notice = "fee_notice"  # 收费通知
    reply = "reply"  # 答复告知书
    other = "other"  # 其他


class Correspondence(IdMixin, TimestampMixin, Base):
    """Every letter in or out (送达): nothing gets lost ("依申请信函遗失" is a named failure)."""

    __tablename__ = "correspondence"

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "direction", 10))
    channel: Mapped[LetterChannel] = mapped_column(_enum(LetterChannel, "letter_channel", 20))
    purpose: Mapped[LetterPurpose] = mapped_column(_enum(LetterPurpose, "letter_purpose", 30))
    tracking_number: Mapped[str | None] = mapped_column(String(60))
    sent_on: Mapped[dt.date | None] = mapped_column(Date)
    delivered_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))


class FeeRecord(IdMixin, TimestampMixin, Base):
    """The fee of one application (国办函〔2020〕109号): one method only, never both."""

    __tablename__ = "fees"

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), unique=True)
    method: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Any] = mapped_column(Numeric(12, 2))
    quote: Mapped[dict[str, Any]] = mapped_column(JSONB)
    noticed_on: Mapped[dt.date] = mapped_column(Date)
    delivered_on: Mapped[dt.date | None] = mapped_column(Date)
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    paid_amount: Mapped[Any | None] = mapped_column(Numeric(12, 2))


class RemedyKind(StrEnum):
    review = "review"  # 行政复议
    suit_direct = "suit_direct"  # 行政诉讼：未经复议直接起诉
    suit_after_review = "suit_after_review"  # 行政诉讼：复议后起诉


class RemedyResult(StrEnum):
    upheld = "upheld"  # 结果维持
    corrected = "corrected"  # 结果纠正
    other = "other"  # 其他结果
    pending = "pending"  # 尚未审结


class Remedy(IdMixin, TimestampMixin, Base):
    """行政复议 / 行政诉讼 about an application (annual report table 四)."""

    __tablename__ = "remedies"
    __table_args__ = (
        # Table 四: a department's cases filed in a year, read from the index alone.
        Index(
            "ix_remedies_department_filed",
            "department_id",
            "filed_on",
            postgresql_include=["kind", "result", "concluded_on"],
        ),
    )

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[RemedyKind] = mapped_column(_enum(RemedyKind, "remedy_kind", 20))
    filed_on: Mapped[dt.date] = mapped_column(Date)
    case_number: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[RemedyResult] = mapped_column(_enum(RemedyResult, "remedy_result", 20))
    concluded_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)


class Transfer(IdMixin, Base):
    """An application moved from one department to another, with the reason (history kept)."""

    __tablename__ = "transfers"

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    from_department_id: Mapped[uuid.UUID] = mapped_column()
    to_department_id: Mapped[uuid.UUID] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccessLog(IdMixin, Base):
    """Each read of an applicant's unmasked personal data: who, when, which application."""

    __tablename__ = "access_log"

    application_id: Mapped[uuid.UUID] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_department_id: Mapped[uuid.UUID | None] = mapped_column()
    roles: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeadlineSignal(Base):
    """A due-soon or overdue event already sent for one deadline (once per deadline and date)."""

    __tablename__ = "deadline_signals"

    application_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    deadline_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    due_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    signal: Mapped[str] = mapped_column(String(20), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TopicSignal(IdMixin, Base):
    """Several applicants asking for similar information (依申请转主动): announced once per group."""

    __tablename__ = "topic_signals"

    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    department_id: Mapped[uuid.UUID] = mapped_column()
    application_ids: Mapped[list[str]] = mapped_column(JSONB)
    title: Mapped[str] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PublishedItem(Base):
    """Published catalog items (from ``catalog.item.published``), to answer "already published"."""

    __tablename__ = "published_items"

    item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(500))
    document_number: Mapped[str | None] = mapped_column(String(100))
    index_number: Mapped[str | None] = mapped_column(String(60))
    published_on: Mapped[dt.date] = mapped_column(Date)
