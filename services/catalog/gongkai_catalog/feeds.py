"""Atom 1.0 feeds (RFC 4287) of newly published items, per organization and per category (issue 3 point 10).

Only published items appear (条例 art. 19-20: what the agency has made public). The document is built
with ElementTree, which escapes markup; characters XML 1.0 forbids (control characters pasted from
word processors) are dropped, so the feed always parses.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from gongkai_shared.errors import ValidationFailed
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog.models import ITEM_KIND_LABELS, VALIDITY_LABELS, Category, Item, ItemStatus, Organization

__all__ = ["ATOM", "FEED_SIZE", "atom_feed"]

ATOM = "application/atom+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_SIZE = 20
SUMMARY_CHARS = 200
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def _stamp(value: dt.datetime | None) -> str:
    value = value or dt.datetime.now(dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat(timespec="seconds")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


async def atom_feed(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    category_id: uuid.UUID | None,
    base_url: str,
    size: int = FEED_SIZE,
) -> bytes:
    """The feed document (UTF-8 bytes): the ``size`` latest published items of the organization/category."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    names = []
    stmt = select(Item).where(Item.status == ItemStatus.published)
    if organization_id is not None:
        org = await session.get(Organization, organization_id)
        if org is None:
            raise ValidationFailed.for_field("query.organization", "没有这个机关", "organization_unknown")
        names.append(org.name)
        stmt = stmt.where(Item.organization_id == organization_id)
    if category_id is not None:
        cat = await session.get(Category, category_id)
        if cat is None:
            raise ValidationFailed.for_field("query.category", "没有这个目录类别", "category_unknown")
        names.append(cat.name)
        stmt = stmt.where(Item.category_id == category_id)
    items = (
        await session.scalars(stmt.order_by(Item.published_at.desc().nulls_last(), Item.id.desc()).limit(size))
    ).all()
    org_names: dict[uuid.UUID, str] = {}
    org_ids = {i.organization_id for i in items}
    if org_ids:
        rows = await session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(org_ids)))
        org_names = {i: n for i, n in rows}

    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    query = {k: str(v) for k, v in (("organization", organization_id), ("category", category_id)) if v}
    _sub(feed, "id", "urn:gongkai:catalog:feed" + "".join(f":{k}={v}" for k, v in query.items()))
    _sub(feed, "title", ("·".join(names) + " " if names else "") + "政府信息公开 最新发布")
    _sub(feed, "updated", _stamp(max((i.published_at for i in items if i.published_at), default=None)))
    _sub(feed, "link", rel="self", type=ATOM, href=f"{base}feeds/atom" + (f"?{urlencode(query)}" if query else ""))
    author = _sub(feed, "author")
    _sub(author, "name", names[0] if organization_id is not None else "政府信息公开平台")
    _sub(feed, "generator", "Gongkai")
    for item in items:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"urn:uuid:{item.id}")
        _sub(entry, "title", item.title)
        _sub(entry, "published", _stamp(item.published_at))
        _sub(entry, "updated", _stamp(max(filter(None, (item.published_at, item.updated_at)))))
        _sub(entry, "link", rel="alternate", href=f"{base}items/{item.id}")
        who = _sub(entry, "author")
        _sub(who, "name", item.publisher or org_names.get(item.organization_id, ""))
        _sub(entry, "category", term=str(item.kind), label=ITEM_KIND_LABELS.get(item.kind, str(item.kind)))
        facts = [
            f"索引号：{item.index_number}" if item.index_number else "",
            f"文号：{item.document_number}" if item.document_number else "",
            f"发布日期：{item.published_on.isoformat()}" if item.published_on else "",
            f"有效性：{VALIDITY_LABELS.get(item.validity, str(item.validity))}",
        ]
        text = item.summary or (item.body or "")[:SUMMARY_CHARS]
        _sub(entry, "summary", "；".join(f for f in facts if f) + "。" + text, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
