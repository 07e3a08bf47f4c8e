from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from gongkai_catalog.models import ItemKind, ItemStatus


class OrganizationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="机关名称")
    code: str | None = Field(default=None, min_length=9, max_length=18, description="统一社会信用代码或组织机构代码")
    parent_id: uuid.UUID | None = Field(default=None, description="上级机关")


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    code: str | None
    parent_id: uuid.UUID | None


class ItemCreate(BaseModel):
    organization_id: uuid.UUID = Field(description="发布机构")
    title: str = Field(min_length=1, max_length=500, description="标题")
    kind: ItemKind = Field(description="文件类型")
    document_number: str | None = Field(default=None, max_length=100, description="文号")
    body: str = Field(min_length=1, max_length=2_000_000, description="正文")
    written_on: dt.date | None = Field(default=None, description="成文日期")
    effective_on: dt.date | None = Field(default=None, description="实施日期")
    supersedes_id: uuid.UUID | None = Field(default=None, description="本文件替代的旧文件")


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    organization_id: uuid.UUID
    title: str
    kind: ItemKind
    document_number: str | None
    body: str
    status: ItemStatus
    written_on: dt.date | None
    effective_on: dt.date | None
    published_on: dt.date | None
    supersedes_id: uuid.UUID | None
