from gongkai_shared.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class SentimentSettings(ServiceSettings):
    service = "sentiment"
    model_config = SettingsConfigDict(env_prefix="GK_SENTIMENT_", extra="ignore")

    # Collection
    #: Posts per call of the batch endpoint (issue 6: up to 1,000).
    batch_limit: int = Field(default=1000, ge=1, le=10000)
    #: Longest post text kept (characters, after normalisation).
    max_text_chars: int = Field(default=5000, ge=100)
    #: Key of the HMAC that turns an author's handle into a pseudonym (never the raw handle); derived from
    #: GK_JWT_SECRET when empty, so no deployment runs with a key published in this repository.
    author_key: SecretStr = SecretStr("")
    #: Shared secret of the hotline webhook (HMAC-SHA256 over "<timestamp>.<body>"); empty: webhook off.
    webhook_secret: SecretStr = SecretStr("")
    #: A signed webhook call older (or further in the future) than this is refused (replay).
    webhook_tolerance_seconds: int = Field(default=300, ge=1)

    # Understanding
    #: Estimated Jaccard of character shingles at or above which a post is a near-duplicate (repost).
    duplicate_similarity: float = Field(default=0.7, gt=0, le=1)
    #: Weighted term overlap of a post with an event at or above which it joins the event.
    event_similarity: float = Field(default=0.3, gt=0, le=1)
    #: Events and near-duplicate candidates stay active this long after their last post (bounded memory).
    active_days: int = Field(default=7, ge=1)
    #: Recent first posts (near-duplicate candidates) each process keeps in memory, the most recent first
    #: (~1.5 KB each): a repost of an older one within the window is not recognised as a near-duplicate.
    duplicate_index_limit: int = Field(default=100_000, ge=100)
    #: Keep at most this many terms per event (its bounded centroid).
    event_terms: int = Field(default=40, ge=5)
    #: A cluster is announced (sentiment.event.detected) from this many distinct posts on.
    detect_min_posts: int = Field(default=3, ge=1)

    # Heat and risk
    #: Channel weights of the heat score (a hotline call or petition weighs more than a repost).
    channel_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "hotline": 1.5,
            "weibo": 1.0,
            "wechat": 1.0,
            "douyin": 1.2,
            "news": 2.0,
            "board": 1.2,
            "petition": 2.0,
            "application": 1.0,
        }
    )
    heat_volume_weight: float = 12.0
    heat_velocity_weight: float = 6.0
    heat_engagement_weight: float = 3.0
    #: Heat is multiplied by (1 - negativity_weight + negativity_weight × negative share).
    heat_negativity_weight: float = Field(default=0.5, ge=0, le=1)
    #: Heat at or above which an event is 较大, 重大, 特别重大 (below the first: 一般).
    risk_thresholds: list[float] = Field(default_factory=lambda: [30.0, 55.0, 80.0], min_length=3, max_length=3)
    #: Alerts from this risk level on (0 一般, 1 较大, 2 重大, 3 特别重大).
    alert_min_level: int = Field(default=1, ge=0, le=3)
    #: No second alert for one event within this many seconds (a higher level waits for the sweep).
    alert_cooldown_seconds: float = Field(default=600.0, ge=0)

    # Response deadlines (domain.md §5; hours, not working days)
    #: 特别重大/重大: authoritative information within 5 hours (国办发〔2016〕80号).
    authoritative_hours: float = 5.0
    #: 特别重大/重大: press conference within 24 hours (国办发〔2016〕61号, 80号).
    press_conference_hours: float = 24.0
    #: Other opinion: a response within 48 hours (国办发〔2016〕61号).
    response_hours: float = 48.0
    #: sentiment.response.due_soon this many hours before a deadline.
    due_soon_hours: float = 2.0

    # Government accounts (国办发〔2018〕123号, 国办秘函〔2019〕19号)
    account_silence_days: int = Field(default=14, ge=1)

    sweep_seconds: float = Field(default=60.0, gt=0)
