from gongkai_shared.settings import ServiceSettings
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from gongkai_requests.clock import ClockRules


class RequestsSettings(ServiceSettings):
    service = "requests"
    model_config = SettingsConfigDict(env_prefix="GK_REQUESTS_", extra="ignore")

    #: domain.md §2: an online application arriving on a rest day is received on the next working day
    #: (the office can only confirm on a working day). No national rule: a setting.
    online_rest_day_next_working_day: bool = True
    #: domain.md §2: whether the reply clock pauses while a fee notice is unpaid (default: it pauses).
    fee_pauses_reply: bool = True
    #: domain.md §2 pause convention: the day the consultation's answer arrives is not counted either.
    pause_includes_answer_day: bool = True
    #: Due-soon events: this many working days before a deadline (issue 4: default 3).
    due_soon_working_days: int = Field(default=3, ge=0, le=20)
    #: Key of the applicant identity hash (HMAC-SHA256): text, or ``hex:`` and the key's bytes in hex;
    #: derived from GK_JWT_SECRET when empty (then rotating that secret changes every identity hash).
    identity_key: SecretStr = SecretStr("")

    @field_validator("identity_key")
    @classmethod
    def _hex_key(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw.startswith("hex:"):
            try:
                if len(bytes.fromhex(raw[4:])) < 16:
                    raise ValueError
            except ValueError:
                raise ValueError("identity_key: 'hex:' must be followed by at least 16 bytes in hex") from None
        return value

    #: Repeated topics: applications of different applicants whose descriptions are this similar…
    topic_similarity: float = Field(default=0.5, gt=0, le=1)
    #: …from at least this many applicants within ``topic_window_days`` raise requests.topic.repeated.
    topic_min_applicants: int = Field(default=3, ge=2)
    topic_window_days: int = Field(default=90, ge=1)
    #: Who hears 行政复议 of this deployment's agencies, and the court, as reply notices name them (条例 art. 51).
    review_body: str = "本级人民政府"
    court: str = "有管辖权的人民法院"
    #: The agency name a notice prints when the department is not (yet) in the local organizations table.
    agency_name_fallback: str = "本机关"
    sweep_every_seconds: float = Field(default=300, gt=0)

    def clock_rules(self) -> ClockRules:
        return ClockRules(
            fee_pauses_reply=self.fee_pauses_reply,
            pause_includes_answer_day=self.pause_includes_answer_day,
            online_rest_day_next_working_day=self.online_rest_day_next_working_day,
        )
