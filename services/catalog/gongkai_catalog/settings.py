from gongkai_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class CatalogSettings(ServiceSettings):
    service = "catalog"
    model_config = SettingsConfigDict(env_prefix="GK_CATALOG_", extra="ignore")

    #: Content review after 保密审查 (条例 art. 17 先审查后公开): "三审" (初审/复审/终审) is common
    #: practice, not law (domain.md §1), so the stages are a setting. Their number is the list's length.
    review_stages: list[str] = Field(default_factory=lambda: ["初审", "复审", "终审"], min_length=1, max_length=9)
    #: Due-soon warning: this many working days before the art. 26 deadline (local practice, default 3).
    due_soon_working_days: int = Field(default=3, ge=0, le=19)
    #: How often the worker's sweeps (publication clock, expiry) run.
    sweep_seconds: float = Field(default=60.0, gt=0)
    #: Attachments larger than this are refused (bytes).
    max_attachment_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
