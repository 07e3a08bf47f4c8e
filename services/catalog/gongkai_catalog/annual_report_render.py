"""Rendering the annual report as HTML and as a Word document in the layout of 国办公开办函〔2021〕30号.

Both come from one grid per table (:class:`Grid`: cells placed at row/column with their spans), so the HTML
``rowspan``/``colspan`` and the Word merged cells are the same layout: the 申请人情况 header over 自然人 |
法人或其他组织 (five sub-columns) | 总计, 三、本年度办理结果 running down the side of the results, each group of
sub-rows under its （三）-（六） heading, 行政诉讼 over its two blocks of five. Row labels of tables 三 and 四 are
the requests service's (its statistics payload carries the format's labels); table 二 uses the format's wording.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from gongkai_catalog.annual_report import (
    FORMAT,
    SECTION_KEYS,
    SECTION_TITLES,
    TABLE2_DECISION_FIELDS,
    TABLE2_DOCUMENT_FIELDS,
    TABLE2_LABELS,
    AnnualReport,
    report_title,
    table4_blocks,
)

__all__ = ["Grid", "report_docx", "report_html", "report_html_fragment", "table2_grid", "table3_grid", "table4_grid"]

#: The format's note in table 三's corner.
TABLE3_CORNER = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"


@dataclass
class Cell:
    row: int
    col: int
    text: str
    rowspan: int = 1
    colspan: int = 1
    header: bool = False


@dataclass
class Grid:
    """A table as placed cells; ``rows`` × ``cols`` is the full size, spans cover the rest."""

    cols: int
    cells: list[Cell] = field(default_factory=list)
    rows: int = 0

    def put(
        self, row: int, col: int, text: object, *, rowspan: int = 1, colspan: int = 1, header: bool = False
    ) -> None:
        self.cells.append(Cell(row, col, "" if text is None else str(text), rowspan, colspan, header))
        self.rows = max(self.rows, row + rowspan)


def _figure(value: Any) -> str:
    return "" if value is None else str(value)


def table2_grid(table2: dict[str, Any]) -> Grid:
    """二、主动公开政府信息情况: four blocks (第二十条第（一）（五）（六）（八）项), four columns."""
    g = Grid(cols=4)
    r = 0
    g.put(r, 0, "第二十条第（一）项", colspan=4, header=True)
    r += 1
    for c, text in enumerate(("信息内容", "本年制发件数", "本年废止件数", "现行有效件数")):
        g.put(r, c, text, header=True)
    r += 1
    for kind in TABLE2_DOCUMENT_FIELDS:
        g.put(r, 0, TABLE2_LABELS[kind])
        for c, measure in enumerate(("issued", "repealed", "in_force"), start=1):
            g.put(r, c, _figure(table2[kind][measure]))
        r += 1
    blocks: tuple[tuple[str, str, tuple[str, ...]], ...] = (
        ("第二十条第（五）项", "本年处理决定数量", ("licensing_decisions",)),
        ("第二十条第（六）项", "本年处理决定数量", ("penalty_decisions", "enforcement_decisions")),
        ("第二十条第（八）项", "本年收费金额（单位：万元）", ("fee_amount",)),
    )
    for heading, measure, keys in blocks:
        g.put(r, 0, heading, colspan=4, header=True)
        g.put(r + 1, 0, "信息内容", header=True)
        g.put(r + 1, 1, measure, colspan=3, header=True)
        r += 2
        for key in keys:
            g.put(r, 0, TABLE2_LABELS[key])
            g.put(r, 1, _figure(table2.get(key)), colspan=3)
            r += 1
    assert set(TABLE2_DECISION_FIELDS) <= {k for _, _, ks in blocks for k in ks}
    return g


def table3_grid(table3: dict[str, Any]) -> Grid:
    """三、收到和处理政府信息公开申请情况: 3 label columns + 7 figure columns."""
    columns: list[str] = table3["columns"]
    g = Grid(cols=3 + len(columns))
    g.put(0, 0, TABLE3_CORNER, rowspan=3, colspan=3, header=True)
    g.put(0, 3, "申请人情况", colspan=len(columns), header=True)
    g.put(1, 3, columns[0], rowspan=2, header=True)  # 自然人
    g.put(1, 4, "法人或其他组织", colspan=len(columns) - 2, header=True)
    g.put(1, 3 + len(columns) - 1, columns[-1], rowspan=2, header=True)  # 总计
    for c, label in enumerate(columns[1:-1], start=4):
        g.put(2, c, label, header=True)
    rows: list[dict[str, Any]] = table3["rows"]
    keys = [row["key"] for row in rows]
    start, end = keys.index("results"), keys.index("results_total")
    r = 3

    def figures(at: int, values: list[Any] | None) -> None:
        for c, v in enumerate(values or [None] * len(columns), start=3):
            g.put(at, c, _figure(v))

    i = 0
    while i < len(rows):
        row = rows[i]
        if i == start:
            # 三、本年度办理结果 runs down the side of every result row through （七）总计.
            g.put(
                r,
                0,
                row["label"],
                rowspan=sum(1 for x in rows[start + 1 : end + 1] if x["values"] is not None),
                header=True,
            )
            i += 1
            continue
        if start < i <= end and row["level"] == 1 and row["values"] is None:
            subs = []
            j = i + 1
            while j < end and rows[j]["level"] == 2:
                subs.append(rows[j])
                j += 1
            g.put(r, 1, row["label"], rowspan=max(1, len(subs)), header=True)
            for k, sub in enumerate(subs):
                g.put(r + k, 2, sub["label"])
                figures(r + k, sub["values"])
            r += max(1, len(subs))
            i = j
            continue
        if start < i <= end:
            g.put(r, 1, row["label"], colspan=2, header=row["key"] == "results_total")
        else:
            g.put(r, 0, row["label"], colspan=3, header=True)
        figures(r, row["values"])
        r += 1
        i += 1
    return g


def table4_grid(table4: dict[str, Any]) -> Grid:
    """四、政府信息公开行政复议、行政诉讼情况: 行政复议 (5) | 行政诉讼: 未经复议直接起诉 (5), 复议后起诉 (5)."""
    blocks = table4_blocks(table4)
    width = sum(len(cells) for _, cells in blocks)
    g = Grid(cols=width)
    col = 0
    # Blocks named "行政诉讼·…" share one 行政诉讼 header (the payload's labels carry the split).
    parents: dict[str, list[tuple[int, str, list[dict[str, Any]]]]] = {}
    for block, cells in blocks:
        parent, _, child = block.partition("·")
        parents.setdefault(parent, []).append((col, child, cells))
        col += len(cells)
    for parent, children in parents.items():
        first = children[0][0]
        span = sum(len(cells) for _, _, cells in children)
        g.put(0, first, parent, colspan=span, header=True)
        for start, child, cells in children:
            if child:
                g.put(1, start, child, colspan=len(cells), header=True)
                for k, cell in enumerate(cells):
                    g.put(2, start + k, cell["column"], header=True)
            else:
                for k, cell in enumerate(cells):
                    g.put(1, start + k, cell["column"], rowspan=2, header=True)
            for k, cell in enumerate(cells):
                g.put(3, start + k, _figure(cell["value"]))
    return g


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def grid_html(grid: Grid, caption: str) -> str:
    out = [f'<table class="gk-annual-report-table" border="1"><caption>{html.escape(caption)}</caption>']
    for r in range(grid.rows):
        out.append("<tr>")
        for cell in sorted((c for c in grid.cells if c.row == r), key=lambda c: c.col):
            tag = "th" if cell.header else "td"
            spans = (f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else "") + (
                f' colspan="{cell.colspan}"' if cell.colspan > 1 else ""
            )
            out.append(f"<{tag}{spans}>{html.escape(cell.text)}</{tag}>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in text.splitlines() if p.strip())


def report_html_fragment(report: AnnualReport, org_name: str) -> str:
    """The report's body (the catalog item's 正文): headings, sentences, the three tables."""
    sections = report.sections or {}
    parts = [
        f"<h1>{html.escape(report_title(org_name, report.year))}</h1>",
        f"<p>本报告按照《中华人民共和国政府信息公开工作年度报告格式》（{FORMAT}）编制。</p>",
        f"<h2>{SECTION_TITLES['overview']}</h2>",
        _paragraphs(sections.get("overview", "")),
    ]
    for key, grid_of in (("table2", table2_grid), ("table3", table3_grid), ("table4", table4_grid)):
        parts.append(f"<h2>{SECTION_TITLES[key]}</h2>")
        data = getattr(report, key)
        parts.append(grid_html(grid_of(data), SECTION_TITLES[key]) if data is not None else "<p>（数据尚未取得）</p>")
    for key in SECTION_KEYS[1:]:
        parts.append(f"<h2>{SECTION_TITLES[key]}</h2>")
        parts.append(_paragraphs(sections.get(key, "")))
    return "\n".join(parts)


def report_html(report: AnnualReport, org_name: str) -> str:
    """A complete HTML document of the report."""
    title = html.escape(report_title(org_name, report.year))
    style = (
        "body{font-family:'FangSong','STFangsong',serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0;width:100%}"
        "th,td{border:1px solid #000;padding:2px 4px;text-align:center}caption{font-weight:bold}"
    )
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{style}</style></head><body>{report_html_fragment(report, org_name)}</body></html>"
    )


# --------------------------------------------------------------------------------------------
# Word (python-docx)
# --------------------------------------------------------------------------------------------


def _font(run: Any, *, size: float, bold: bool = False, east_asian: str = "仿宋_GB2312") -> None:
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asian)


def grid_docx(document: Any, grid: Grid) -> Any:
    table = document.add_table(rows=grid.rows, cols=grid.cols)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell in grid.cells:
        target = table.cell(cell.row, cell.col)
        if cell.rowspan > 1 or cell.colspan > 1:
            target = target.merge(table.cell(cell.row + cell.rowspan - 1, cell.col + cell.colspan - 1))
        target.text = ""
        paragraph = target.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(paragraph.add_run(cell.text), size=9, bold=cell.header, east_asian="宋体")
    return table


def report_docx(report: AnnualReport, org_name: str) -> bytes:
    """The report as a .docx: title, sections 一 to 六, tables 二/三/四 with the format's merged headers."""
    document = Document()
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(heading.add_run(report_title(org_name, report.year)), size=18, bold=True, east_asian="方正小标宋简体")
    intro = document.add_paragraph()
    _font(intro.add_run(f"本报告按照《中华人民共和国政府信息公开工作年度报告格式》（{FORMAT}）编制。"), size=14)
    sections = report.sections or {}

    def section_heading(key: str) -> None:
        p = document.add_paragraph()
        _font(p.add_run(SECTION_TITLES[key]), size=16, bold=True, east_asian="黑体")

    def text(body: str) -> None:
        for line in body.splitlines():
            if line.strip():
                p = document.add_paragraph()
                p.paragraph_format.first_line_indent = Pt(28)
                _font(p.add_run(line), size=14)

    section_heading("overview")
    text(sections.get("overview", ""))
    for key, grid_of in (("table2", table2_grid), ("table3", table3_grid), ("table4", table4_grid)):
        section_heading(key)
        data = getattr(report, key)
        if data is None:
            text("（数据尚未取得）")
        else:
            grid_docx(document, grid_of(data))
    for key in SECTION_KEYS[1:]:
        section_heading(key)
        text(sections.get(key, ""))
    document.core_properties.title = report_title(org_name, report.year)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
