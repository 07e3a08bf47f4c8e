from gongkai_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class InterpretationSettings(ServiceSettings):
    service = "interpretation"
    model_config = SettingsConfigDict(env_prefix="GK_INTERPRETATION_", extra="ignore")

    #: 三同步: the interpretation is due at the latest N working days after the policy is published
    #: (local rules, domain.md §4: default 3; 0 means the same day).
    due_working_days: int = Field(default=3, ge=0, le=60)
