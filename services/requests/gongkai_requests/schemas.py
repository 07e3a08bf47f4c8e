"""Request and response bodies of the requests service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from gongkai_shared.validators import agency_code_problem, resident_id_problem
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gongkai_requests.clock import Channel, Deadline, DeadlineKind, DeadlineStatus, EntryKind, ExplainStep
from gongkai_requests.models import (
    VALIDATED_ID_TYPES,
    ApplicantType,
    ApplicationStatus,
    DeliveryMethod,
    Direction,
    IdType,
    LetterChannel,
    LetterPurpose,
    OrganizationKind,
    RemedyKind,
    RemedyResult,
    WantedForm,
)
from gongkai_requests.outcomes import Outcome

_PHONE = r"^[0-9+\-() ]{5,30}$"
_EMAIL = r"^[^@\s]{1,100}@[^@\s]{1,100}\.[^@\s]{1,50}$"


class ApplicantIn(BaseModel):
    """申请人 (条例 art. 29: 姓名或者名称、身份证明、联系方式)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    type: ApplicantType = Field(description="申请人类型：natural_person 自然人；legal_person 法人或其他组织")
    kind: OrganizationKind | None = Field(
        default=None,
        validate_default=True,
        description="法人或其他组织的类别：商业企业 commercial、科研机构 research、社会公益组织 public_welfare、"
        "法律服务机构 legal_services、其他 other",
    )
    name: str = Field(min_length=1, max_length=200, description="姓名或名称")
    id_type: IdType | None = Field(default=None, validate_default=True, description="身份证明类型（自然人必填）")
    id_number: str | None = Field(
        default=None, max_length=40, validate_default=True, description="身份证明号码（居民身份证号码将校验）"
    )
    organization_code: str | None = Field(
        default=None, validate_default=True, description="统一社会信用代码或组织机构代码（法人或其他组织必填）"
    )
    legal_representative: str | None = Field(default=None, max_length=100, description="法定代表人或负责人")
    contact_name: str | None = Field(default=None, max_length=100, description="联系人")
    phone: str = Field(pattern=_PHONE, description="联系电话")
    email: str | None = Field(default=None, pattern=_EMAIL, description="电子邮箱")
    address: str | None = Field(default=None, max_length=300, description="通信地址")
    postal_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="邮政编码")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: OrganizationKind | None, info: ValidationInfo) -> OrganizationKind | None:
        t = info.data.get("type")
        if t is ApplicantType.legal_person and v is None:
            raise PydanticCustomError(
                "missing", "法人或其他组织须选择类别（商业企业、科研机构、社会公益组织、法律服务机构、其他）"
            )
        if t is ApplicantType.natural_person and v is not None:
            raise PydanticCustomError("not_allowed", "自然人不填写组织类别")
        return v

    @field_validator("id_type")
    @classmethod
    def _id_type(cls, v: IdType | None, info: ValidationInfo) -> IdType | None:
        if info.data.get("type") is ApplicantType.natural_person and v is None:
            raise PydanticCustomError("missing", "自然人须提供身份证明类型（条例第二十九条）")
        return v

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str | None, info: ValidationInfo) -> str | None:
        id_type = info.data.get("id_type")
        if id_type is None:
            return v
        if not v:
            raise PydanticCustomError("missing", "须填写身份证明号码（条例第二十九条）")
        if id_type in VALIDATED_ID_TYPES:
            problem = resident_id_problem(v)
            if problem is not None:
                raise PydanticCustomError("resident_id_invalid", problem)
        return v

    @field_validator("organization_code")
    @classmethod
    def _organization_code(cls, v: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("type") is ApplicantType.legal_person:
            if not v:
                raise PydanticCustomError("missing", "法人或其他组织须填写统一社会信用代码或组织机构代码")
            problem = agency_code_problem(v)
            if problem is not None:
                raise PydanticCustomError("agency_code_invalid", problem)
        return v


class ApplicationIn(BaseModel):
    """An application submitted online by the applicant (no account needed)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    department_id: uuid.UUID = Field(description="受理机关")
    applicant: ApplicantIn
    title: str | None = Field(default=None, max_length=300, description="所需政府信息的名称")
    document_number: str | None = Field(default=None, max_length=100, description="文号")
    description: str = Field(
        min_length=2, max_length=5000, description="所需政府信息的名称、文号或者便于查询的其他特征性描述"
    )
    wanted_form: WantedForm = Field(description="提供形式：纸质文本、电子文本、光盘、磁盘、其他")
    delivery_method: DeliveryMethod = Field(
        description="获取方式：邮寄、电子邮件、传真、自行领取、当场阅读抄录、网上获取"
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=16,
        max_length=100,
        description="幂等键（也可用 Idempotency-Key 请求头）：重试提交返回同一申请",
    )


class StaffApplicationIn(ApplicationIn):
    """An application registered by staff: arrived by letter, in person, by fax, or orally (条例 art. 29, 31)."""

    channel: Channel = Field(
        description="提交方式：letter_signed 需签收信函、letter_ordinary 平信、in_person 当面、fax 传真、oral 口头"
    )
    submitted_on: dt.date | None = Field(default=None, description="提交日期（当面、口头；网上、传真）")
    signed_on: dt.date | None = Field(default=None, description="签收日期（挂号信、EMS 等需签收的邮件）")
    confirmed_on: dt.date | None = Field(default=None, description="与申请人确认之日（平信；网上、传真双方确认）")
    oral_difficulty: str | None = Field(
        default=None, max_length=1000, description="口头申请：申请人书写确有困难的情况（条例第二十九条）"
    )
    postal_tracking_number: str | None = Field(default=None, max_length=60, description="来信的邮件号")


class SubmissionOut(BaseModel):
    id: uuid.UUID
    tracking_code: str = Field(description="查询码")
    secret: str | None = Field(description="查询密钥：只显示这一次，请妥善保存")
    received_on: dt.date = Field(description="收到申请之日（条例第三十一条）")
    receipt_note: str
    reply_due_on: dt.date | None = Field(description="答复期限")
    reply_due_provisional: bool
    status: ApplicationStatus


class FollowIn(BaseModel):
    tracking_code: str = Field(min_length=4, max_length=16, description="查询码")
    secret: str = Field(min_length=8, max_length=100, description="查询密钥")


class PublicDeadline(BaseModel):
    label: str
    due_on: dt.date | None
    provisional: bool
    status: DeadlineStatus


class PublicReply(BaseModel):
    replied_on: dt.date
    outcome_label: str = Field(description="处理结果")
    decision: str = Field(description="答复内容")


class FollowView(BaseModel):
    """What an applicant sees with the tracking code and secret: never personal data."""

    tracking_code: str
    status: ApplicationStatus
    status_label: str
    received_on: dt.date
    deadlines: list[PublicDeadline]
    replies: list[PublicReply]
    events: list[dict[str, Any]] = Field(description="办理过程（日期与事项）")


class ApplicantOut(BaseModel):
    type: ApplicantType
    kind: OrganizationKind | None
    name: str
    id_type: IdType | None
    id_number: str | None
    organization_code: str | None
    legal_representative: str | None
    contact_name: str | None
    phone: str | None
    email: str | None
    address: str | None
    postal_code: str | None
    masked: bool = Field(description="个人信息是否已脱敏")


class DeadlineSummary(BaseModel):
    key: str
    kind: DeadlineKind
    label: str
    due_on: dt.date | None
    provisional: bool
    status: DeadlineStatus


class ApplicationOut(BaseModel):
    id: uuid.UUID
    tracking_code: str
    channel: Channel
    department_id: uuid.UUID
    applicant: ApplicantOut
    title: str | None
    document_number: str | None
    description: str
    wanted_form: WantedForm
    delivery_method: DeliveryMethod
    received_on: dt.date
    receipt_note: str
    status: ApplicationStatus
    outcome: Outcome | None
    outcome_details: dict[str, Any] | None
    decided_on: dt.date | None
    replied_on: dt.date | None
    closed_on: dt.date | None
    close_reason: str | None
    repeat_of_id: uuid.UUID | None = Field(description="重复申请：此前已答复的相同申请")
    published_match: dict[str, Any] | None = Field(description="可能已主动公开的信息（来自目录服务）")
    reply_due_on: dt.date | None
    reply_due_provisional: bool
    clock_paused: bool
    deadlines: list[DeadlineSummary]


class WorkItem(BaseModel):
    """A row of the staff work list (personal data masked)."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    tracking_code: str
    department_id: uuid.UUID
    applicant_type: ApplicantType
    applicant_name: str
    title: str | None
    status: ApplicationStatus
    outcome: str | None
    received_on: dt.date
    reply_due_on: dt.date | None
    reply_due_provisional: bool
    next_due_on: dt.date | None
    repeat_of_id: uuid.UUID | None


class DeadlinesOut(BaseModel):
    application_id: uuid.UUID
    received_on: dt.date
    reply_started_on: dt.date | None
    paused: bool
    deadlines: list[DeadlineSummary]


class ExplainedDeadline(BaseModel):
    key: str
    kind: DeadlineKind
    label: str
    article: str
    due_on: dt.date | None
    provisional: bool
    unknown_years: list[int]
    status: DeadlineStatus
    steps: list[ExplainStep]

    @classmethod
    def of(cls, d: Deadline) -> ExplainedDeadline:
        return cls.model_validate(d.model_dump())


class ExplainOut(BaseModel):
    application_id: uuid.UUID
    deadlines: list[ExplainedDeadline]


#: Entries staff record directly; ``received`` comes with the application, ``closed`` with /close.
STAFF_ENTRY_KINDS = frozenset(EntryKind) - {EntryKind.received, EntryKind.closed}


class EntryIn(BaseModel):
    kind: EntryKind = Field(description="法定事件")
    on: dt.date = Field(description="发生日期")
    working_days: int | None = Field(default=None, ge=0, le=366, description="补正期限 / 延长的工作日数")
    ref: uuid.UUID | None = Field(default=None, description="所答复的征求意见记录")
    until: dt.date | None = Field(default=None, description="第三十五条确定的答复期限")
    delivered_on: dt.date | None = Field(default=None, description="收费通知送达之日")
    note: str | None = Field(default=None, max_length=2000, description="说明")

    @field_validator("kind")
    @classmethod
    def _staff_kind(cls, v: EntryKind) -> EntryKind:
        if v not in STAFF_ENTRY_KINDS:
            raise PydanticCustomError(
                "entry_kind_not_allowed", "此事件不能直接登记（收到申请随申请登记，终止办理用 /close）"
            )
        return v


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    seq: int
    kind: EntryKind
    on: dt.date
    working_days: int | None
    ref: uuid.UUID | None
    until: dt.date | None
    delivered_on: dt.date | None
    note: str | None
    recorded_by: str
    recorded_at: dt.datetime


class WithheldPart(BaseModel):
    part: str = Field(min_length=1, max_length=500, description="不予公开的部分")
    reason: str = Field(min_length=1, max_length=1000, description="理由")
    article: str | None = Field(default=None, max_length=100, description="依据条款")


class HoldingAgency(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="负责公开该信息的行政机关")
    contact: str | None = Field(default=None, max_length=300, description="联系方式")


class PreviousReply(BaseModel):
    replied_on: dt.date
    reference: str | None = Field(default=None, max_length=200, description="文号或查询码")


class OutcomeDetails(BaseModel):
    """What a decision records (``OutcomeRule.requires``)."""

    model_config = ConfigDict(extra="forbid")

    access_route: str | None = Field(default=None, max_length=2000, description="获取方式、途径；已主动公开的写明位置")
    withheld_parts: list[WithheldPart] | None = Field(default=None, description="不予公开的部分及理由（部分公开）")
    refusal_reason: str | None = Field(default=None, max_length=2000, description="不予公开的理由")
    third_party_opinion: str | None = Field(default=None, max_length=2000, description="第三方意见或逾期未提出意见")
    holding_agency: HoldingAgency | None = Field(default=None, description="负责公开该信息的机关（第三十六条第五项）")
    special_procedure: str | None = Field(default=None, max_length=2000, description="依照有关法律、行政法规办理的途径")
    proper_channel: str | None = Field(default=None, max_length=1000, description="信访、投诉、举报的渠道")
    publication_route: str | None = Field(default=None, max_length=1000, description="公开出版物的获取途径")
    previous_reply: PreviousReply | None = Field(default=None, description="此前的答复")
    correction_notice: str | None = Field(default=None, max_length=1000, description="补正告知书（日期、事项、期限）")
    fee_notice: str | None = Field(default=None, max_length=1000, description="收费通知（日期、金额、期限）")
    explanation: str | None = Field(default=None, max_length=4000, description="处理情况的说明")
    reasons_requested_on: dt.date | None = Field(default=None, description="要求申请人说明理由之日（第三十五条）")


class OutcomeIn(BaseModel):
    outcome: Outcome = Field(description="处理结果（年报表三的一行）")
    details: OutcomeDetails = Field(default_factory=OutcomeDetails)


class CorrespondenceIn(BaseModel):
    direction: Direction
    channel: LetterChannel
    purpose: LetterPurpose
    tracking_number: str | None = Field(default=None, max_length=60, description="邮件号")
    sent_on: dt.date | None = Field(default=None, description="寄出/发出日期")
    delivered_on: dt.date | None = Field(default=None, description="送达日期")
    note: str | None = Field(default=None, max_length=2000)


class DeliveryIn(BaseModel):
    delivered_on: dt.date = Field(description="送达日期")
    tracking_number: str | None = Field(default=None, max_length=60)


class CorrespondenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    direction: Direction
    channel: LetterChannel
    purpose: LetterPurpose
    tracking_number: str | None
    sent_on: dt.date | None
    delivered_on: dt.date | None
    note: str | None
    recorded_by: str


class CloseIn(BaseModel):
    on: dt.date = Field(description="办结日期")
    reason: str | None = Field(default=None, max_length=2000, description="未能送达答复时的办结理由")


class FeeNoticeIn(BaseModel):
    """One method only (国办函〔2020〕109号第三条): ``pages`` for 按量; 按件 counts the month's applications."""

    fee_method: str = Field(description="piece 按件 / volume 按量")
    pages: int | None = Field(default=None, description="页数（按量）")
    units: int = Field(default=1, description="一事一申请拆分后的件数（按件）")
    on: dt.date = Field(description="收费通知发出日期")
    delivered_on: dt.date | None = Field(default=None, description="送达申请人之日")


class FeePaymentIn(BaseModel):
    on: dt.date = Field(description="缴费日期")
    amount: str = Field(pattern=r"^[0-9]+(\.[0-9]{1,2})?$", description="缴费金额（元）")


class FeeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    method: str
    quantity: int
    amount: Any
    quote: dict[str, Any]
    noticed_on: dt.date
    delivered_on: dt.date | None
    paid_on: dt.date | None
    paid_amount: Any | None


class RemedyIn(BaseModel):
    kind: RemedyKind = Field(
        description="行政复议 review；行政诉讼：直接起诉 suit_direct、复议后起诉 suit_after_review"
    )
    filed_on: dt.date
    case_number: str | None = Field(default=None, max_length=100)
    result: RemedyResult = RemedyResult.pending
    concluded_on: dt.date | None = None
    note: str | None = Field(default=None, max_length=2000)


class RemedyUpdate(BaseModel):
    result: RemedyResult
    concluded_on: dt.date | None = None
    note: str | None = Field(default=None, max_length=2000)


class RemedyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    application_id: uuid.UUID
    kind: RemedyKind
    filed_on: dt.date
    case_number: str | None
    result: RemedyResult
    concluded_on: dt.date | None
    note: str | None


class TransferIn(BaseModel):
    to_department_id: uuid.UUID
    reason: str = Field(min_length=2, max_length=2000, description="移交理由")


class TransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    from_department_id: uuid.UUID
    to_department_id: uuid.UUID
    reason: str
    by: str
    at: dt.datetime


class OrganizationIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=18)
    parent_id: uuid.UUID | None = None


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    code: str | None
    parent_id: uuid.UUID | None
    source: str


class Table3RowOut(BaseModel):
    key: str
    label: str
    level: int
    values: list[int] | None = Field(
        description="7 列：自然人、商业企业、科研机构、社会公益组织、法律服务机构、其他、总计"
    )


class Table4CellOut(BaseModel):
    block: str
    column: str
    value: int


class AnnualStatisticsOut(BaseModel):
    department_id: uuid.UUID
    year: int
    table3_columns: list[str]
    table3: list[Table3RowOut]
    table4: list[Table4CellOut]
    checks: list[str] = Field(description="格式校验未通过的规则（为空表示全部通过）")
    fees_collected: Decimal = Field(
        description="本年实际收取的信息处理费（元；国办函〔2020〕109号，年度报告第六部分）：缴费日期在本年的缴费合计"
    )
