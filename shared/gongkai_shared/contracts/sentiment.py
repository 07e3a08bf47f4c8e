"""Events of the sentiment service (政务舆情回应, domain.md §5), and the subject connectors publish posts on.

| subject (type ``….v1``)        | who / when                                                                  |
|--------------------------------|-----------------------------------------------------------------------------|
| sentiment.ingest.posts         | a connector (微博, 微信, 抖音, 新闻 …) delivers posts; the worker stores them   |
| sentiment.event.detected       | posts about one matter became a 舆情事件                                      |
| sentiment.event.escalated      | its risk level rose (一般 → 较大 → 重大 → 特别重大)                              |
| sentiment.alert.raised         | an event reached a level that alerts (once per level per event, cool-down)  |
| sentiment.response.published   | a department responded (权威发布, 新闻发布会, 接受采访, 回复网民): a 回应关切 item |
| sentiment.response.due_soon    | a response deadline is near (once per task)                                 |
| sentiment.response.overdue     | a response deadline passed without the response (once per task)             |
| sentiment.account.stale        | a 政务新媒体 account has been silent too long (once per silence)              |

Payloads carry no author identity: authors are pseudonymous inside the service (keyed HMAC).
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

__all__ = [
    "ACCOUNT_STALE_V1",
    "ALERT_RAISED_V1",
    "EVENT_DETECTED_V1",
    "EVENT_ESCALATED_V1",
    "INGEST_POSTS_V1",
    "RESPONSE_DUE_SOON_V1",
    "RESPONSE_OVERDUE_V1",
    "RESPONSE_PUBLISHED_V1",
    "AccountStaleV1",
    "AlertRaisedV1",
    "DeadlineV1",
    "IngestPostsV1",
    "OpinionEventV1",
    "PostInV1",
    "ResponseDeadlineV1",
    "ResponsePublishedV1",
]

INGEST_POSTS_V1 = "sentiment.ingest.posts.v1"
EVENT_DETECTED_V1 = "sentiment.event.detected.v1"
EVENT_ESCALATED_V1 = "sentiment.event.escalated.v1"
ALERT_RAISED_V1 = "sentiment.alert.raised.v1"
RESPONSE_PUBLISHED_V1 = "sentiment.response.published.v1"
RESPONSE_DUE_SOON_V1 = "sentiment.response.due_soon.v1"
RESPONSE_OVERDUE_V1 = "sentiment.response.overdue.v1"
ACCOUNT_STALE_V1 = "sentiment.account.stale.v1"


class PostInV1(BaseModel):
    """One post as a channel delivers it (REST batch, webhook and ``sentiment.ingest.posts`` alike)."""

    channel: str = Field(
        description="渠道：hotline(12345热线)/weibo(微博)/wechat(微信)/douyin(抖音)/news(新闻)/board(留言板)/"
        "petition(信访)/application(依申请公开)"
    )
    channel_post_id: str = Field(min_length=1, max_length=200, description="该渠道内的编号（重复投递只存一次）")
    author: str | None = Field(
        default=None, max_length=200, description="作者账号（入库前以密钥 HMAC 化名，原值不保存）"
    )
    text: str = Field(description="正文")
    link: str | None = Field(default=None, max_length=1000, description="链接")
    posted_at: dt.datetime = Field(description="发布时间")
    likes: int = Field(default=0, ge=0, description="点赞数")
    shares: int = Field(default=0, ge=0, description="转发数")
    comments: int = Field(default=0, ge=0, description="评论数")
    place: str | None = Field(default=None, max_length=200, description="地点（区县、街道）")
    department_id: uuid.UUID | None = Field(default=None, description="渠道已指定的承办部门（如12345工单）")


class IngestPostsV1(BaseModel):
    """Payload of ``sentiment.ingest.posts``: a connector's batch."""

    posts: list[PostInV1] = Field(description="帖文")


class OpinionEventV1(BaseModel):
    """A 舆情事件 (payload of detected and escalated)."""

    event_id: uuid.UUID
    title: str = Field(description="事件标题")
    topic: str = Field(description="领域")
    keywords: list[str] = Field(default_factory=list, description="关键词")
    department_id: uuid.UUID | None = Field(default=None, description="责任部门（谁主管谁负责）")
    policy_item_id: uuid.UUID | None = Field(default=None, description="涉及的政策文件（解读服务据此补充解读）")
    post_count: int = Field(description="帖文数（不含转发）")
    repost_count: int = Field(description="转发、复制帖数")
    channel_counts: dict[str, int] = Field(default_factory=dict, description="各渠道帖文数")
    heat: float = Field(description="热度")
    trend: str = Field(description="趋势：rising/steady/falling")
    risk_level: int = Field(description="风险等级：0一般/1较大/2重大/3特别重大")
    risk_level_label: str = Field(description="风险等级（中文）")
    previous_risk_level: int | None = Field(default=None, description="升级前的风险等级")
    must_respond: list[str] = Field(default_factory=list, description="61号文必须回应的情形")
    negative_share: float = Field(description="负面帖文占比")
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class DeadlineV1(BaseModel):
    kind: str = Field(description="authoritative_release/press_conference/response")
    label: str = Field(description="权威信息发布/新闻发布会/回应")
    due_at: dt.datetime
    basis: str = Field(description="依据（国办发〔2016〕61号、80号）")
    met_at: dt.datetime | None = None


class AlertRaisedV1(BaseModel):
    alert_id: uuid.UUID
    event_id: uuid.UUID
    title: str
    topic: str
    level: int = Field(description="风险等级：0一般/1较大/2重大/3特别重大")
    level_label: str
    heat: float
    department_id: uuid.UUID | None = None
    policy_item_id: uuid.UUID | None = None
    response_task_id: uuid.UUID
    deadlines: list[DeadlineV1] = Field(default_factory=list)
    raised_at: dt.datetime


class ResponsePublishedV1(BaseModel):
    """A department answered public concern: the catalog may publish it as a 回应关切 item."""

    response_task_id: uuid.UUID
    event_id: uuid.UUID
    department_id: uuid.UUID | None = None
    kind: str = Field(description="authoritative_release/press_conference/interview/reply")
    kind_label: str = Field(description="权威发布/新闻发布会/接受采访/回复网民")
    title: str = Field(description="回应标题")
    content: str = Field(description="回应内容")
    url: str | None = None
    event_title: str
    topic: str
    policy_item_id: uuid.UUID | None = None
    published_at: dt.datetime
    on_time: bool = Field(description="是否在期限内回应")


class ResponseDeadlineV1(BaseModel):
    response_task_id: uuid.UUID
    event_id: uuid.UUID
    department_id: uuid.UUID | None = None
    title: str
    level: int
    deadline: DeadlineV1
    stage: str


class AccountStaleV1(BaseModel):
    account_id: uuid.UUID
    organization_id: uuid.UUID
    platform: str
    name: str
    last_update_at: dt.datetime | None
    silent_days: int = Field(description="已连续未更新天数（国办发〔2018〕123号：超过2周不合格）")
