from gongkai_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class CatalogSettings(ServiceSettings):
    service = "catalog"
    model_config = SettingsConfigDict(env_prefix="GK_CATALOG_", extra="ignore")
