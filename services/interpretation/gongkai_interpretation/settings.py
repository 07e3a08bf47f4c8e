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
    #: Below this quality score, publication needs a reviewer's override with a reason.
    quality_min_score: int = Field(default=60, ge=0, le=100)
    #: Optional drafting backend: an OpenAI-compatible chat completions API (off when empty).
    llm_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
