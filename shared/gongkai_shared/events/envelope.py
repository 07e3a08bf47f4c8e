"""The event envelope: one model for every event of every service."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from pydantic import BaseModel, Field, field_validator

from gongkai_shared.ids import uuid7
from gongkai_shared.logging import current_request_id

__all__ = ["Envelope", "new_envelope", "subject_of"]

_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){2,}\.v[0-9]+$")


def subject_of(event_type: str) -> str:
    """``catalog.policy.published.v1`` → ``catalog.policy.published``."""
    return event_type.rsplit(".", 1)[0]


class Envelope(BaseModel):
    id: uuid.UUID = Field(description="事件 ID（UUIDv7），也是 Nats-Msg-Id")
    type: str = Field(description="主题加版本，如 catalog.policy.published.v1")
    source: str = Field(description="产生事件的服务")
    occurred_at: dt.datetime
    correlation_id: str | None = Field(default=None, description="发起请求的 request id")
    data: dict[str, Any]

    @field_validator("type")
    @classmethod
    def _type_has_version(cls, v: str) -> str:
        if not _TYPE.match(v):
            raise ValueError("type must be <service>.<entity>.<verb>.v<N>")
        return v

    @property
    def subject(self) -> str:
        return subject_of(self.type)

    @property
    def version(self) -> int:
        return int(self.type.rsplit(".v", 1)[1])


def new_envelope(event_type: str, data: BaseModel | dict[str, Any], *, source: str | None = None) -> Envelope:
    """A new envelope for ``data``, carrying the current request id as correlation id."""
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return Envelope(
        id=uuid7(),
        type=event_type,
        source=source or event_type.split(".", 1)[0],
        occurred_at=dt.datetime.now(dt.UTC),
        correlation_id=current_request_id(),
        data=payload,
    )
