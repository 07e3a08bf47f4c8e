"""Events the requests service publishes (依申请公开).

No payload carries an applicant's personal data (name, ID number, phone, address, e-mail): ids,
the department, dates and the outcome only (architecture.md "The edge"; issue 4 point 9).

| subject (type ``….v1``)                    | when                                                         |
|--------------------------------------------|--------------------------------------------------------------|
| requests.application.received              | an application was received (条例 art. 31)                    |
| requests.application.correction_requested  | the one correction notice went out (条例 art. 30)              |
| requests.application.extended              | the reply deadline was extended (条例 art. 33)                 |
| requests.application.due_soon              | a deadline is near (default 3 working days before)           |
| requests.application.overdue               | a deadline passed with nothing done                          |
| requests.application.replied               | the reply was sent (条例 art. 33, 36)                          |
| requests.application.closed                | the application was closed                                   |
| requests.topic.repeated                    | several applicants asked for similar information (依申请转主动) |
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

__all__ = [
    "APPLICATION_CLOSED_V1",
    "APPLICATION_CORRECTION_REQUESTED_V1",
    "APPLICATION_DUE_SOON_V1",
    "APPLICATION_EXTENDED_V1",
    "APPLICATION_OVERDUE_V1",
    "APPLICATION_RECEIVED_V1",
    "APPLICATION_REPLIED_V1",
    "TOPIC_REPEATED_V1",
    "ApplicationClosedV1",
    "ApplicationCorrectionRequestedV1",
    "ApplicationDeadlineV1",
    "ApplicationExtendedV1",
    "ApplicationReceivedV1",
    "ApplicationRepliedV1",
    "TopicRepeatedV1",
]

APPLICATION_RECEIVED_V1 = "requests.application.received.v1"
APPLICATION_CORRECTION_REQUESTED_V1 = "requests.application.correction_requested.v1"
APPLICATION_EXTENDED_V1 = "requests.application.extended.v1"
APPLICATION_DUE_SOON_V1 = "requests.application.due_soon.v1"
APPLICATION_OVERDUE_V1 = "requests.application.overdue.v1"
APPLICATION_REPLIED_V1 = "requests.application.replied.v1"
APPLICATION_CLOSED_V1 = "requests.application.closed.v1"
TOPIC_REPEATED_V1 = "requests.topic.repeated.v1"


class ApplicationReceivedV1(BaseModel):
    application_id: uuid.UUID
    department_id: uuid.UUID = Field(description="受理机关")
    channel: str = Field(description="提交方式")
    applicant_type: str = Field(description="申请人类型（natural_person / legal_person），不含个人信息")
    received_on: dt.date = Field(description="收到申请之日（条例第三十一条）")
    reply_due_on: dt.date | None = Field(description="答复期限")
    reply_due_provisional: bool


class ApplicationCorrectionRequestedV1(BaseModel):
    application_id: uuid.UUID
    department_id: uuid.UUID
    requested_on: dt.date
    answer_due_on: dt.date | None = Field(description="申请人补正期限")


class ApplicationExtendedV1(BaseModel):
    application_id: uuid.UUID
    department_id: uuid.UUID
    approved_on: dt.date
    working_days: int
    reply_due_on: dt.date | None


class ApplicationDeadlineV1(BaseModel):
    """Payload of ``due_soon`` and ``overdue``: which deadline of which application."""

    application_id: uuid.UUID
    department_id: uuid.UUID
    deadline: str = Field(description="期限类别：reply、correction_notice、correction_answer、third_party、…")
    deadline_label: str
    due_on: dt.date
    provisional: bool


class ApplicationRepliedV1(BaseModel):
    application_id: uuid.UUID
    department_id: uuid.UUID
    replied_on: dt.date
    outcome: str = Field(description="处理结果（年报表三的一行）")
    on_time: bool = Field(description="是否在答复期限内")


class ApplicationClosedV1(BaseModel):
    application_id: uuid.UUID
    department_id: uuid.UUID
    closed_on: dt.date
    outcome: str | None


class TopicRepeatedV1(BaseModel):
    """Several applicants asked for similar information: a candidate for proactive publication."""

    department_id: uuid.UUID
    application_ids: list[uuid.UUID]
    applicant_count: int
    suggested_title: str = Field(description="建议主动公开的标题")
