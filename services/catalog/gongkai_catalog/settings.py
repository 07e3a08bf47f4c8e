import os
from pathlib import Path

from gongkai_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy.engine import make_url


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
    # Public participation and supervision (issue 9; gongkai_catalog/participation.py, freshness.py,
    # rectification.py).
    #: 《重大行政决策程序暂行条例》(国务院令第713号) art. 15: 公开征求意见的期限一般不少于30日; a shorter period
    #: must state why (因情况紧急等原因需要缩短期限的，公开征求意见时应当予以说明).
    consultation_min_days: int = Field(default=30, ge=1, le=365)
    #: The feedback report (意见采纳情况) is overdue this many days after the period ends (local practice).
    consultation_report_due_days: int = Field(default=30, ge=1, le=365)
    #: Comments longer than this are refused (characters).
    consultation_comment_max_chars: int = Field(default=5000, ge=10, le=100_000)
    #: 国办秘函〔2019〕19号: 动态、要闻类栏目 silent for more than 2 weeks fail the website inspection.
    freshness_news_days: int = Field(default=14, ge=1, le=365)
    #: 国办秘函〔2019〕19号: 通知公告、政策文件类栏目 silent for more than 6 months fail it.
    freshness_notice_months: int = Field(default=6, ge=1, le=36)
    #: A column whose name contains one of these is news-type (动态类); every other column is notice-type.
    freshness_news_markers: list[str] = Field(default_factory=lambda: ["动态", "要闻", "新闻", "工作信息"])
    #: Columns (category keys) with no update rhythm (guide, rules, annual reports): checked for emptiness only.
    freshness_exempt_keys: list[str] = Field(
        default_factory=lambda: ["column.guide", "column.rules", "column.annual_report"]
    )
    # Annual report (issue 8 point 1; gongkai_catalog/annual_report.py).
    #: The requests service, asked for tables 三 and 四 (GET /statistics/{organization}/{year}).
    requests_url: str = "http://127.0.0.1:8002"
    #: How long to wait for it before answering 503 (seconds).
    requests_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: 条例 art. 49 due dates: the due-soon event goes out this many days before (local practice, default 10).
    annual_report_due_soon_days: int = Field(default=10, ge=0, le=60)
    # Assessment (考核评估; issue 8 point 2; gongkai_catalog/assessment.py). The requests service is requests_url.
    #: The interpretation service, asked for GET /figures (解读率、按时率、非文字形式占比).
    interpretation_url: str = "http://127.0.0.1:8003"
    #: The sentiment service, asked for GET /figures (舆情按时回应、政务新媒体更新).
    sentiment_url: str = "http://127.0.0.1:8004"
    #: How long to wait for each service's figures before marking its indicators unavailable (seconds).
    assessment_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: Indicator → weight (local practice: each office sets its own scheme; JSON in GK_CATALOG_ASSESSMENT_WEIGHTS).
    #: An indicator left out or weighted 0 is shown but not scored. Defaults sum to 100; keys are in
    #: gongkai_catalog.assessment.INDICATORS.
    assessment_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "publication_on_time": 15,
            "replies_on_time": 15,
            "remedies_not_corrected": 10,
            "interpretation_rate": 10,
            "interpretation_on_time": 5,
            "non_text_share": 5,
            "opinion_on_time": 10,
            "accounts_updated": 10,
            "consultation_feedback": 5,
            "columns_fresh": 10,
            "rectification_on_time": 5,
        }
    )
    #: How many periods GET /assessment/trend shows by default (the period asked and those before it).
    assessment_trend_periods: int = Field(default=5, ge=1, le=20)
    # Search (issue 3; gongkai_catalog/search_index.py): the embedded tantivy index, a speed path beside
    # PostgreSQL, which stays the source of truth and answers whenever the index is not exactly current.
    #: Whether the API reads the index and the worker keeps it current.
    search_index: bool = True
    #: The index's directory, shared by the API and the worker (in Docker a volume mounted in both). Empty:
    #: ``<GK_DATA_DIR, else ./.data>/catalog-search/<database name>``.
    search_index_dir: str = ""
    #: How often the worker looks for changes when no notification woke it (seconds).
    search_index_poll_seconds: float = Field(default=5.0, gt=0)
    #: Applied changes stay in the change log this long (hours); an index further behind is rebuilt.
    search_log_retention_hours: float = Field(default=24.0, gt=0)

    def search_index_directory(self) -> Path | None:
        """Where the index lives, or None when it is off."""
        if not self.search_index:
            return None
        if self.search_index_dir:
            return Path(self.search_index_dir).expanduser().resolve()
        base = Path(os.environ.get("GK_DATA_DIR") or ".data")
        return (base / "catalog-search" / (make_url(self.database_url).database or "catalog")).resolve()
