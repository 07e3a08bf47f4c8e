from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from gongkai_shared.contracts.sentiment import PostInV1
from pydantic import BaseModel, ConfigDict, Field, computed_field

from gongkai_sentiment.models import CHANNEL_LABELS, POLARITY_LABELS, RISK_LABELS, STAGE_LABELS, Channel, Stage


class BatchIn(BaseModel):
    posts: list[PostInV1] = Field(description="帖文（一次最多1000条；有不合格帖文时整批不保存，并逐条指明）")


class IngestOut(BaseModel):
    received: int = Field(description="收到帖文数")
    stored: int = Field(description="新保存帖文数")
    already_stored: int = Field(description="此前已收到（同一渠道同一编号）而未重复保存的帖文数")
    near_duplicates: int = Field(description="其中转发、复制帖（并入原帖计数）")
    event_ids: list[uuid.UUID] = Field(description="涉及的舆情事件")
    alerts: list[uuid.UUID] = Field(description="本批引发的预警")


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: str
    channel_post_id: str
    text: str
    link: str | None
    posted_at: dt.datetime
    likes: int
    shares: int
    comments: int
    place: str | None
    polarity: str
    intensity: float
    topic: str
    department_id: uuid.UUID | None
    must_respond: list[str]
    policy_item_id: uuid.UUID | None
    duplicate_of_id: uuid.UUID | None
    duplicate_count: int
    event_id: uuid.UUID | None

    @computed_field(description="渠道（中文）")  # type: ignore[prop-decorator]
    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS[Channel(self.channel)]

    @computed_field(description="情感倾向（中文）")  # type: ignore[prop-decorator]
    @property
    def polarity_label(self) -> str:
        return POLARITY_LABELS[self.polarity]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    topic: str
    keywords: list[str]
    place: str | None
    department_id: uuid.UUID | None
    policy_item_id: uuid.UUID | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    post_count: int = Field(description="帖文数（不含转发）")
    repost_count: int = Field(description="转发、复制帖数")
    negative_count: int
    engagement: int
    channel_counts: dict[str, int] = Field(description="各渠道帖文数")
    heat: float
    trend: str
    risk_level: int
    must_respond: dict[str, int] = Field(description="61号必须回应情形及提及帖文数")
    staff_flags: list[str]
    detected_at: dt.datetime | None
    alerted_level: int
    active: bool

    @computed_field(description="风险等级（中文）")  # type: ignore[prop-decorator]
    @property
    def risk_level_label(self) -> str:
        return RISK_LABELS[self.risk_level]


class FlagIn(BaseModel):
    category: str = Field(
        description="61号必须回应情形：misread_policy/wide_impact/moral_shock/emergency/ordered（上级要求回应）"
    )


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    level: int
    heat: float
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None

    @computed_field(description="风险等级（中文）")  # type: ignore[prop-decorator]
    @property
    def level_label(self) -> str:
        return RISK_LABELS[self.level]


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    alert_id: uuid.UUID
    event_id: uuid.UUID
    department_id: uuid.UUID | None
    level: int
    stage: str
    deadlines: list[dict[str, Any]] = Field(description="回应期限（依据国办发〔2016〕61号、80号）")
    next_due_at: dt.datetime | None
    heat_at_alert: float
    consultation: str | None
    assessment: str | None
    responses: list[dict[str, Any]]
    heat_fell: bool | None
    reported: bool | None
    evaluation: str | None
    history: list[dict[str, Any]]
    status: str = Field(default="open", description="open/due_soon/overdue/done")

    @computed_field(description="环节（中文）")  # type: ignore[prop-decorator]
    @property
    def stage_label(self) -> str:
        return STAGE_LABELS[Stage(self.stage)]

    @computed_field(description="风险等级（中文）")  # type: ignore[prop-decorator]
    @property
    def level_label(self) -> str:
        return RISK_LABELS[self.level]


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=5000, description="会商或研判意见")


class RespondIn(BaseModel):
    kind: str = Field(
        description="回应方式：authoritative_release(权威发布)/press_conference(新闻发布会)/interview(接受采访)/reply(回复网民)"
    )
    title: str = Field(min_length=1, max_length=300, description="回应标题")
    content: str = Field(min_length=1, max_length=20000, description="回应内容")
    url: str | None = Field(default=None, max_length=1000)


class EvaluateIn(BaseModel):
    reported: bool = Field(description="是否已上报（报送宣传、网信部门）")
    note: str | None = Field(default=None, max_length=5000, description="评估意见")


class AccountIn(BaseModel):
    organization_id: uuid.UUID = Field(description="开设主体（机关）")
    platform: str = Field(description="平台：weibo(微博)/wechat(微信)/douyin(抖音)")
    handle: str = Field(min_length=1, max_length=200, description="账号（政务账号公开，原样保存）")
    name: str = Field(min_length=1, max_length=200, description="账号名称")


class AccountUpdateIn(BaseModel):
    at: dt.datetime = Field(description="最近更新时间（由平台接口报送）")


class AccountOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    platform: str
    platform_label: str
    handle: str
    name: str
    last_update_at: dt.datetime | None
    last_update_source: str | None
    silent_days: int | None


class RouteIn(BaseModel):
    organization_id: uuid.UUID = Field(description="主管部门（谁主管谁负责）")
