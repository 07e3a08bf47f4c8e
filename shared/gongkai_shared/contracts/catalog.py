"""Events the catalog publishes."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

__all__ = ["POLICY_PUBLISHED_V1", "PolicyPublishedV1"]

POLICY_PUBLISHED_V1 = "catalog.policy.published.v1"


class PolicyPublishedV1(BaseModel):
    """A policy document (规章, 行政规范性文件, …) was published: its interpretation is now due (三同步)."""

    item_id: uuid.UUID
    title: str = Field(description="标题")
    document_number: str | None = Field(default=None, description="文号")
    index_number: str | None = Field(default=None, description="索引号")
    kind: str = Field(description="文件类型")
    organization_id: uuid.UUID = Field(description="发布机构（起草部门）")
    organization_name: str | None = None
    body: str = Field(description="全文")
    written_on: dt.date | None = Field(default=None, description="成文日期")
    published_on: dt.date = Field(description="发布日期")
    effective_on: dt.date | None = Field(default=None, description="实施日期")
    supersedes_item_id: uuid.UUID | None = Field(default=None, description="被替代的旧文件")
