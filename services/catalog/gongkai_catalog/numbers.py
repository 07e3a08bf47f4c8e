"""The catalog's numbers: 文号 (document number) and 索引号 (index number), domain.md §1.

- 文号: ``<机关代字>〔YYYY〕N号`` (e.g. 国办发〔2019〕54号). Offices also type ``[2019]`` and ``(2019)``
  (half- or full-width); we accept those and store the standard 〔〕. Rules promulgated by order carry
  ``<机关>令第N号`` (e.g. 国务院令第711号), also accepted as is.
- 索引号: ``<agency code>/<YYYY>-<5-digit serial>`` (a ``YYYYMM`` variant exists), the agency code being a
  9-character 组织机构代码 or an 18-character 统一社会信用代码: ``000013338/2023-00079``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gongkai_shared.validators import agency_code_problem

__all__ = [
    "IndexNumber",
    "document_number_problem",
    "format_index_number",
    "index_number_problem",
    "normalize_document_number",
    "parse_index_number",
]

_OPEN = "〔[(（【［"
_CLOSE = "〕])）】］"
_DOCUMENT_NUMBER = re.compile(
    rf"^(?P<prefix>[^\s{re.escape(_OPEN + _CLOSE)}]{{1,40}}?)\s*[{re.escape(_OPEN)}]\s*(?P<year>\d{{4}})\s*"
    rf"[{re.escape(_CLOSE)}]\s*(?P<serial>\d{{1,6}})\s*号$"
)
_ORDER_NUMBER = re.compile(r"^(?P<prefix>[^\s]{1,40}?令)\s*第\s*(?P<serial>\d{1,6})\s*号$")
_INDEX_NUMBER = re.compile(r"^(?P<code>[0-9A-Z]{9}|[0-9A-Z]{18})/(?P<year>\d{4})(?P<month>\d{2})?-(?P<serial>\d{5})$")

MIN_YEAR = 1949
MAX_SERIAL = 99_999


def _year_ok(year: int) -> bool:
    return MIN_YEAR <= year <= 2100


def normalize_document_number(value: str) -> str:
    """The standard form (〔〕 brackets, no spaces, no leading zeros); ValueError with the Chinese message."""
    text = value.strip()
    order = _ORDER_NUMBER.match(text)
    if order:
        return f"{order['prefix']}第{int(order['serial'])}号"
    match = _DOCUMENT_NUMBER.match(text)
    if not match:
        raise ValueError("文号格式应为“机关代字〔年份〕序号号”，如 国办发〔2019〕54号")
    year = int(match["year"])
    if not _year_ok(year):
        raise ValueError(f"文号中的年份 {year} 不合理")
    serial = int(match["serial"])
    if serial == 0:
        raise ValueError("文号序号应为正整数")
    return f"{match['prefix']}〔{year}〕{serial}号"


def document_number_problem(value: str) -> str | None:
    try:
        normalize_document_number(value)
    except ValueError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class IndexNumber:
    agency_code: str
    year: int
    month: int | None
    serial: int

    def __str__(self) -> str:
        period = f"{self.year:04d}{self.month:02d}" if self.month else f"{self.year:04d}"
        return f"{self.agency_code}/{period}-{self.serial:05d}"


def parse_index_number(value: str) -> IndexNumber:
    """Parse a 索引号; ValueError with the Chinese message when it has the wrong form."""
    match = _INDEX_NUMBER.match(value.strip().upper())
    if not match:
        raise ValueError("索引号格式应为“机关代码/年份-五位序号”，如 000013338/2023-00079")
    problem = agency_code_problem(match["code"])
    if problem is not None:
        raise ValueError(f"索引号中的机关代码无效：{problem}")
    year = int(match["year"])
    month = int(match["month"]) if match["month"] else None
    if not _year_ok(year) or (month is not None and not 1 <= month <= 12):
        raise ValueError("索引号中的年份或月份无效")
    serial = int(match["serial"])
    if serial == 0:
        raise ValueError("索引号序号应从00001开始")
    return IndexNumber(agency_code=match["code"], year=year, month=month, serial=serial)


def index_number_problem(value: str) -> str | None:
    try:
        parse_index_number(value)
    except ValueError as exc:
        return str(exc)
    return None


def format_index_number(agency_code: str, year: int, serial: int) -> str:
    if not 1 <= serial <= MAX_SERIAL:
        raise ValueError(f"serial {serial} out of range")
    return str(IndexNumber(agency_code=agency_code, year=year, month=None, serial=serial))
