from gongkai_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class RequestsSettings(ServiceSettings):
    service = "requests"
    model_config = SettingsConfigDict(env_prefix="GK_REQUESTS_", extra="ignore")
