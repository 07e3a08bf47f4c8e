from gongkai_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class SentimentSettings(ServiceSettings):
    service = "sentiment"
    model_config = SettingsConfigDict(env_prefix="GK_SENTIMENT_", extra="ignore")
