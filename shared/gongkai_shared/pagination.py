"""Keyset pagination: a page of items and an opaque cursor for the next one.

Offsets skip and repeat rows while others are inserted; a cursor holding the last row's sort key
and id does not. Ids are UUIDv7, so ordering by id alone follows creation time.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, tuple_

from gongkai_shared.errors import ValidationFailed

__all__ = ["Page", "PageParams", "decode_cursor", "encode_cursor", "paginate"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="下一页游标；为空表示没有更多")


class PageParams(BaseModel):
    limit: int = 50
    cursor: str | None = None


def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="上一页返回的 next_cursor")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([str(v) if not isinstance(v, int | float | str | None) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list):
            raise ValueError
        return values
    except (ValueError, TypeError) as exc:
        raise ValidationFailed.for_field("query.cursor", "游标无效", "cursor_invalid") from exc


async def paginate(
    session: Any,
    stmt: Select[Any],
    *,
    keys: Sequence[ColumnElement[Any]],
    params: PageParams,
    descending: bool = True,
) -> tuple[list[Any], str | None]:
    """Run ``stmt`` ordered by ``keys`` (the last must be unique) after ``params.cursor``."""
    if params.cursor:
        values = decode_cursor(params.cursor)
        if len(values) != len(keys):
            raise ValidationFailed.for_field("query.cursor", "游标无效", "cursor_invalid")
        typed = [_coerce(k, v) for k, v in zip(keys, values, strict=True)]
        cond = tuple_(*keys) < tuple_(*typed) if descending else tuple_(*keys) > tuple_(*typed)
        stmt = stmt.where(cond)
    order = [k.desc() if descending else k.asc() for k in keys]
    rows = list((await session.execute(stmt.order_by(*order).limit(params.limit + 1))).scalars().all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, k.key) for k in keys])  # type: ignore[attr-defined]
    return rows, next_cursor


def _coerce(column: ColumnElement[Any], value: Any) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    try:
        if python_type.__name__ == "datetime":
            import datetime as dt

            return dt.datetime.fromisoformat(value)
        if python_type.__name__ == "date":
            import datetime as dt

            return dt.date.fromisoformat(value)
        return python_type(value)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed.for_field("query.cursor", "游标无效", "cursor_invalid") from exc
