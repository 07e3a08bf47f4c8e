"""Sentiment tables (issue 6, domain.md §5 政务舆情回应: 收集 → 会商 → 研判 → 回应 → 评估).

* ``posts``: what was collected, one row per (channel, id in that channel); near-duplicates point to the
  first post of their group (``duplicate_of_id``), which counts them (``duplicate_count``).
* ``ingest_state``: one row, the generation of the posts and events (every change to them takes its lock and
  moves it on), by which each process knows whether its in-memory index (gongkai_sentiment.state) is current.
* ``opinion_events``: posts clustered into 舆情事件 with their heat, trend and risk level.
* ``alerts``: one per (event, level) (``sentiment.alert.raised``), acknowledged by staff.
* ``response_tasks``: the response of the department in charge to an alert, its deadlines (61号, 80号)
  and stages; together they are the 舆情回应台账 (ledger).
* ``accounts``: 政务新媒体 registry (国办发〔2018〕123号).
* ``organizations`` / ``policies``: what the catalog announced (who is in charge; which policies exist).
* ``topic_routes``: which department takes a topic (谁主管谁负责), set by the office.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata
from gongkai_shared.events import define_event_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
calendar_table = define_calendar_table(Base.metadata)


class Channel(StrEnum):
    """渠道 (domain.md §5 "Channels in the seeds")."""

    hotline = "hotline"  # 12345热线
    weibo = "weibo"  # 微博
    wechat = "wechat"  # 微信
    douyin = "douyin"  # 抖音
    news = "news"  # 新闻
    board = "board"  # 留言板
    petition = "petition"  # 信访
    application = "application"  # 依申请公开


CHANNEL_LABELS = {
    Channel.hotline: "12345热线",
    Channel.weibo: "微博",
    Channel.wechat: "微信",
    Channel.douyin: "抖音",
    Channel.news: "新闻",
    Channel.board: "留言板",
    Channel.petition: "信访",
    Channel.application: "依申请公开",
}

#: Platforms of 政务新媒体 accounts (a subset of the channels).
ACCOUNT_PLATFORMS = (Channel.weibo, Channel.wechat, Channel.douyin)

POLARITY_LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面"}

#: Risk levels, 0..3 (一般, 较大, 重大, 特别重大).
RISK_LABELS = ("一般", "较大", "重大", "特别重大")


class Stage(StrEnum):
    """The response mechanism of 国办发〔2016〕80号: 会商 → 研判 → 回应 → 评估, then 办结."""

    consult = "consult"
    assess = "assess"
    respond = "respond"
    evaluate = "evaluate"
    closed = "closed"


STAGE_LABELS = {
    Stage.consult: "会商",
    Stage.assess: "研判",
    Stage.respond: "回应",
    Stage.evaluate: "评估",
    Stage.closed: "办结",
}


class ResponseKind(StrEnum):
    authoritative_release = "authoritative_release"
    press_conference = "press_conference"
    interview = "interview"
    reply = "reply"


RESPONSE_KIND_LABELS = {
    ResponseKind.authoritative_release: "权威发布",
    ResponseKind.press_conference: "新闻发布会",
    ResponseKind.interview: "接受采访",
    ResponseKind.reply: "回复网民",
}


class Organization(Base):
    """A 机关 as the catalog announces it (catalog.organization.created/updated)."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None]
    type: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Policy(Base):
    """A published catalog item (catalog.item.published / catalog.policy.published): what posts may speak of."""

    __tablename__ = "policies"

    item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    document_number: Mapped[str | None] = mapped_column(String(100), index=True)
    organization_id: Mapped[uuid.UUID | None]
    is_policy: Mapped[bool] = mapped_column(Boolean, default=False)
    terms: Mapped[list] = mapped_column(JSONB, default=list)
    published_on: Mapped[dt.date | None]


class TopicRoute(Base):
    """The department in charge of a topic (谁主管谁负责, domain.md §5), set by the office."""

    __tablename__ = "topic_routes"

    topic: Mapped[str] = mapped_column(String(20), primary_key=True)
    organization_id: Mapped[uuid.UUID]
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Post(IdMixin, Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("channel", "channel_post_id"),
        Index("ix_posts_event_id_posted_at", "event_id", "posted_at"),
        # The near-duplicate index of recent first posts (gongkai_sentiment.state) is loaded from these.
        Index("ix_posts_first_posted_at", "posted_at", postgresql_where=sql_text("signature IS NOT NULL")),
        Index("ix_posts_first_generation", "generation", postgresql_where=sql_text("signature IS NOT NULL")),
    )

    channel: Mapped[str] = mapped_column(String(20))
    channel_post_id: Mapped[str] = mapped_column(String(200))
    author_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    likes: Mapped[int] = mapped_column(Integer, default=0)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    place: Mapped[str | None] = mapped_column(String(200))
    department_hint_id: Mapped[uuid.UUID | None]
    # Understanding
    polarity: Mapped[str] = mapped_column(String(10))
    intensity: Mapped[float] = mapped_column(Float)
    topic: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[uuid.UUID | None]
    must_respond: Mapped[list] = mapped_column(JSONB, default=list)
    policy_item_id: Mapped[uuid.UUID | None]
    #: MinHash signature of a first post (None for near-duplicates and posts that form no events).
    signature: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    duplicate_of_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    event_id: Mapped[uuid.UUID | None]
    #: The ingest_state generation that stored it.
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default=sql_text("0"))


class IngestState(Base):
    """One row: the generation of posts and events. Every transaction that stores posts or changes events locks
    it first and moves it on (a new generation and token), which serialises those changes and tells each
    process's in-memory index (gongkai_sentiment.state) what it has missed."""

    __tablename__ = "ingest_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    #: Made once by the migration: tells a database apart from one dropped and made again under its name.
    instance: Mapped[uuid.UUID]
    generation: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[uuid.UUID]


class OpinionEvent(IdMixin, TimestampMixin, Base):
    """A 舆情事件: posts about one matter, clustered incrementally."""

    __tablename__ = "opinion_events"
    __table_args__ = (Index("ix_opinion_events_active_topic", "active", "topic"),)

    title: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str] = mapped_column(String(20))
    keywords: Mapped[list] = mapped_column(JSONB, default=list)
    terms: Mapped[dict] = mapped_column(JSONB, default=dict)
    place: Mapped[str | None] = mapped_column(String(200))
    department_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    policy_item_id: Mapped[uuid.UUID | None]
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    repost_count: Mapped[int] = mapped_column(Integer, default=0)
    negative_count: Mapped[int] = mapped_column(Integer, default=0)
    engagement: Mapped[int] = mapped_column(Integer, default=0)
    channel_counts: Mapped[dict] = mapped_column(JSONB, default=dict)
    volume: Mapped[float] = mapped_column(Float, default=0.0)
    hourly: Mapped[dict] = mapped_column(JSONB, default=dict)
    heat: Mapped[float] = mapped_column(Float, default=0.0)
    trend: Mapped[str] = mapped_column(String(10), default="rising")
    risk_level: Mapped[int] = mapped_column(Integer, default=0)
    #: 61号 must-respond categories: how many posts named each.
    must_respond: Mapped[dict] = mapped_column(JSONB, default=dict)
    staff_flags: Mapped[list] = mapped_column(JSONB, default=list)
    detected_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    alerted_level: Mapped[int] = mapped_column(Integer, default=-1)
    last_alert_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The ingest_state generation of its last change (index "ix_opinion_events_generation").
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default=sql_text("0"), index=True)


class Alert(IdMixin, Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("event_id", "level"),)

    event_id: Mapped[uuid.UUID] = mapped_column(index=True)
    level: Mapped[int] = mapped_column(Integer)
    heat: Mapped[float] = mapped_column(Float)
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))


class ResponseTask(IdMixin, TimestampMixin, Base):
    """The response to one alert by the department in charge: a line of the 舆情回应台账."""

    __tablename__ = "response_tasks"

    alert_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    event_id: Mapped[uuid.UUID] = mapped_column(index=True)
    department_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    level: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(20), default=Stage.consult.value)
    deadlines: Mapped[list] = mapped_column(JSONB, default=list)
    next_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    heat_at_alert: Mapped[float] = mapped_column(Float)
    consultation: Mapped[str | None] = mapped_column(Text)
    assessment: Mapped[str | None] = mapped_column(Text)
    responses: Mapped[list] = mapped_column(JSONB, default=list)
    heat_fell: Mapped[bool | None] = mapped_column(Boolean)
    reported: Mapped[bool | None] = mapped_column(Boolean)
    evaluation: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list] = mapped_column(JSONB, default=list)
    due_soon_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Account(IdMixin, TimestampMixin, Base):
    """A 政务新媒体 account of a body on a platform (国办发〔2018〕123号)."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "handle_hash"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    platform: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(200))
    handle_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    last_update_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_update_source: Mapped[str | None] = mapped_column(String(20))
    stale_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
