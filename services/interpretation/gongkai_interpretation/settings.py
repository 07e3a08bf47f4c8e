from gongkai_shared.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class InterpretationSettings(ServiceSettings):
    service = "interpretation"
    model_config = SettingsConfigDict(env_prefix="GK_INTERPRETATION_", extra="ignore")

    #: 三同步: the interpretation is due at the latest N working days after the policy is published
    #: (local rules, domain.md §4: default 3; 0 means the same day).
    due_working_days: int = Field(default=3, ge=0, le=60)
    #: ``interpretation.task.due_soon`` when the due date is at most this many working days away.
    due_soon_working_days: int = Field(default=1, ge=0, le=30)
    #: How often the worker sweeps for due-soon and overdue tasks.
    deadline_sweep_seconds: float = Field(default=300.0, gt=0)
    #: Supplementary interpretation (补充解读) of a policy the public misreads (sentiment.event.escalated): due
    #: hours, not working days, after the escalation. Public-opinion response rules (domain.md §5,
    #: 国办发〔2016〕61号): a response within 48 hours; 重大/特别重大 (risk level ≥ ``supplementary_major_level``):
    #: a press conference within 24 hours (61号, 80号).
    supplementary_hours: float = Field(default=48.0, gt=0, le=24 * 30)
    supplementary_major_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    #: Risk level from which the shorter deadline applies (0 一般, 1 较大, 2 重大, 3 特别重大).
    supplementary_major_level: int = Field(default=2, ge=0, le=3)
    #: Risk level from which an opinion event about a policy opens a supplementary task. An escalated event is
    #: at least 较大 (1); an event detected already at this level opens one too (it never escalates to it).
    supplementary_min_level: int = Field(default=1, ge=0, le=3)
    #: An escalation that reaches this service more than this many hours after it happened opens nothing: its
    #: response window (24/48 hours) is long past and the sentiment service tracks the response. Without it, the
    #: new consumers would replay the whole sentiment stream at upgrade and open a task, overdue, per old event.
    supplementary_max_age_hours: float = Field(default=168.0, gt=0)
    #: ``interpretation.task.due_soon`` for a supplementary task this many hours before its deadline.
    supplementary_due_soon_hours: float = Field(default=6.0, ge=0)
    #: Below this quality score, publication needs a reviewer's override with a reason.
    quality_min_score: int = Field(default=60, ge=0, le=100)
    #: Optional drafting backend: an OpenAI-compatible chat completions API (off when empty).
    llm_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
