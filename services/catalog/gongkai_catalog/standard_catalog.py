"""政务公开事项标准目录 (国办发〔2019〕54号): the nine fields of an entry, their checks, and xlsx exchange.

The nine fields (domain.md §1): 公开事项 (一级/二级), 公开内容（要素）, 公开依据, 公开时限, 公开主体,
公开渠道和载体, 公开对象 (全社会/特定群众), 公开方式 (主动/依申请), 公开层级 (县级/乡级). Offices exchange
the catalog as xlsx with a header row of those names; an import is all or nothing: every bad row is
reported with its row number and column, and nothing is imported if any row is bad.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gongkai_shared.xlsx import worksheet_row
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font

__all__ = [
    "FIELDS",
    "EntryField",
    "ImportProblem",
    "check_entry",
    "normalize_choice",
    "read_xlsx",
    "write_xlsx",
]

_SPLIT = re.compile(r"[、,，/／;；\s]+")


@dataclass(frozen=True)
class EntryField:
    attr: str
    header: str
    aliases: tuple[str, ...]
    required: bool
    max_length: int
    choices: tuple[str, ...] = ()  # several may be given, joined with 、


AUDIENCES = ("全社会", "特定群众")
METHODS = ("主动", "依申请")
LEVELS = ("县级", "乡级")

FIELDS: tuple[EntryField, ...] = (
    EntryField("matter_level1", "公开事项（一级事项）", ("一级事项", "公开事项一级", "公开事项(一级)"), True, 200),
    EntryField("matter_level2", "公开事项（二级事项）", ("二级事项", "公开事项二级", "公开事项(二级)"), False, 200),
    EntryField("content", "公开内容（要素）", ("公开内容", "公开内容(要素)"), True, 5000),
    EntryField("basis", "公开依据", (), True, 5000),
    EntryField("time_limit", "公开时限", (), True, 200),
    EntryField("subject", "公开主体", (), True, 200),
    EntryField("channels", "公开渠道和载体", ("公开渠道", "公开渠道及载体"), True, 2000),
    EntryField("audience", "公开对象", (), True, 50, AUDIENCES),
    EntryField("method", "公开方式", (), True, 50, METHODS),
    EntryField("level", "公开层级", (), True, 50, LEVELS),
)
PILOT_AREA_HEADER = "试点领域"
_BY_ATTR = {f.attr: f for f in FIELDS}


def _key(header: str) -> str:
    return re.sub(r"\s+", "", header).replace("（", "(").replace("）", ")")


_HEADER_TO_ATTR: dict[str, str] = {}
for _f in FIELDS:
    for _name in (_f.header, *_f.aliases):
        _HEADER_TO_ATTR[_key(_name)] = _f.attr
_HEADER_TO_ATTR[_key(PILOT_AREA_HEADER)] = "pilot_area"
_HEADER_TO_ATTR[_key("领域")] = "pilot_area"


def normalize_choice(value: str, choices: tuple[str, ...], header: str) -> str:
    """``"主动/依申请"`` → ``"主动、依申请"``; ValueError naming the allowed values otherwise."""
    parts = [p for p in _SPLIT.split(value.strip()) if p]
    if not parts or any(p not in choices for p in parts):
        raise ValueError(f"{header}应为 {' 或 '.join(choices)}（可多选，以顿号分隔）")
    ordered = [c for c in choices if c in parts]
    return "、".join(ordered)


def check_entry(values: Mapping[str, Any]) -> tuple[dict[str, str | None], dict[str, str]]:
    """Clean the nine fields of one entry: (clean values, {attr: Chinese problem})."""
    clean: dict[str, str | None] = {}
    problems: dict[str, str] = {}
    for f in FIELDS:
        raw = values.get(f.attr)
        text = "" if raw is None else str(raw).strip()
        if not text:
            if f.required:
                problems[f.attr] = f"{f.header}不能为空"
            clean[f.attr] = None
            continue
        if len(text) > f.max_length:
            problems[f.attr] = f"{f.header}不能超过{f.max_length}字"
            continue
        if f.choices:
            try:
                text = normalize_choice(text, f.choices, f.header)
            except ValueError as exc:
                problems[f.attr] = str(exc)
                continue
        clean[f.attr] = text
    return clean, problems


@dataclass(frozen=True)
class ImportProblem:
    row: int  # the spreadsheet's row number (the header is row 1)
    column: str  # the header of the bad column, or "" for the whole file
    attr: str
    message: str


def read_xlsx(data: bytes) -> tuple[list[tuple[int, dict[str, Any]]], list[ImportProblem]]:
    """Rows of the first sheet as (row number, {attr: value}), or the problems of the file's shape."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a file that is not xlsx
        return [], [ImportProblem(0, "", "file", "文件不是有效的 xlsx 表格")]
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return [], [ImportProblem(1, "", "header", "表格为空：第1行应为表头")]
        columns: dict[int, str] = {}
        for i, name in enumerate(header):
            attr = _HEADER_TO_ATTR.get(_key(str(name))) if name is not None else None
            if attr is not None:
                columns[i] = attr
        missing = [f.header for f in FIELDS if f.required and f.attr not in columns.values()]
        if missing:
            return [], [ImportProblem(1, h, "header", f"表头缺少列：{h}") for h in missing]
        out: list[tuple[int, dict[str, Any]]] = []
        for number, row in enumerate(rows, start=2):
            if row is None or all(v is None or str(v).strip() == "" for v in row):
                continue
            out.append((number, {attr: row[i] if i < len(row) else None for i, attr in columns.items()}))
        return out, []
    finally:
        book.close()


def header_of(attr: str) -> str:
    if attr == "pilot_area":
        return PILOT_AREA_HEADER
    return _BY_ATTR[attr].header


def write_xlsx(entries: Iterable[Mapping[str, Any]], *, title: str) -> bytes:
    """An xlsx with the header row and one row per entry (``pilot_area`` as the area's name)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "标准目录"
    headers = ["序号", *(f.header for f in FIELDS), PILOT_AREA_HEADER]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for n, entry in enumerate(entries, start=1):
        sheet.append(worksheet_row([n, *(entry.get(f.attr) for f in FIELDS), entry.get("pilot_area")]))
    for i, width in enumerate([6, 20, 20, 40, 40, 24, 16, 24, 12, 12, 12, 16], start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = width
    book.properties.title = title
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
