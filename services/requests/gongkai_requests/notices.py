"""Reply notices (政府信息公开申请答复告知书) as HTML and as Word documents.

A notice is addressed to the applicant: it names them and is never public. It states the request and its receipt
date, the decision with the article it rests on (条例 art. 36-39), what the rule of the outcome requires to be
recorded (:mod:`gongkai_requests.outcomes`), and how to challenge it (条例 art. 51: 行政复议 within 60 days,
行政复议法 art. 20; 行政诉讼 within 6 months, 行政诉讼法 art. 46; review first for refusals, 行政复议法 art. 23).

Both renderings come from one structure (:func:`compose_notice`), built per outcome group, so the HTML a clerk
previews and the .docx the office files and prints say the same thing.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from gongkai_requests.fees import FeeQuote
from gongkai_requests.outcomes import (
    Outcome,
    OutcomeGroup,
    OutcomeRule,
    RemedyPath,
    Requirement,
    cite,
    outcome_rule,
)

__all__ = [
    "NOTICE_TITLE",
    "ComposedNotice",
    "NoticeContext",
    "WithheldPart",
    "compose_notice",
    "format_cn_date",
    "remedy_sentence",
    "render_notice_docx",
    "render_notice_html",
]

NOTICE_TITLE = "政府信息公开申请答复告知书"
WITHHELD_TABLE_HEADER = ("序号", "不予公开的内容", "理由", "依据")
REVIEW_DAYS = 60  # 行政复议法 art. 20
SUIT_MONTHS = 6  # 行政诉讼法 art. 46
SUIT_AFTER_REVIEW_DAYS = 15  # 行政诉讼法 art. 45


def format_cn_date(day: date) -> str:
    """``2026年3月5日``: the form official documents use (no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"


def remedy_sentence(path: RemedyPath, *, review_body: str, court: str) -> str:
    """The remedy as the notice states it (条例 art. 51)."""
    if path is RemedyPath.REVIEW_FIRST:
        return (
            f"如对本答复不服，可以在收到本告知书之日起{REVIEW_DAYS}日内向{review_body}申请行政复议；"
            f"对行政复议决定不服的，可以在收到行政复议决定书之日起{SUIT_AFTER_REVIEW_DAYS}日内向{court}提起行政诉讼。"
        )
    return (
        f"如对本答复不服，可以在收到本告知书之日起{REVIEW_DAYS}日内向{review_body}申请行政复议，"
        f"或者在{SUIT_MONTHS}个月内向{court}提起行政诉讼。"
    )


@dataclass(frozen=True, slots=True)
class WithheldPart:
    """One part withheld in a partial disclosure, with its reason (条例 art. 37)."""

    part: str
    reason: str
    #: The article the refusal rests on, e.g. "条例第十五条"; printed as the notice cites it.
    article: str = ""


@dataclass(frozen=True, slots=True)
class NoticeContext:
    agency_name: str
    applicant_name: str
    tracking_code: str
    received_on: date
    request_description: str
    outcome: Outcome
    notice_number: str
    notice_date: date
    #: 复议机关, e.g. "某某市人民政府".
    review_body: str
    #: The court for 行政诉讼, e.g. "某某区人民法院".
    court: str
    withheld_parts: tuple[WithheldPart, ...] = ()
    #: Where the information is published, or how and when it is provided (条例 art. 36(1)(2)).
    access_route: str | None = None
    #: The agency responsible for the information, with its contact (条例 art. 36(5)).
    holding_agency: str | None = None
    #: The third party's opinion, or that it gave none within 15 working days (条例 art. 32).
    third_party_opinion: str | None = None
    #: The reason or explanation in the office's words (条例 art. 36(3)).
    reason: str | None = None
    fee: FeeQuote | None = None
    #: Other recorded details a rule asks for (previous reply, correction or fee notice, channel, …).
    references: Mapping[Requirement, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def rule(self) -> OutcomeRule:
        return outcome_rule(self.outcome)

    def provided(self) -> set[Requirement]:
        have = {r for r, text in self.references.items() if text and text.strip()}
        named = {
            Requirement.WITHHELD_PARTS: bool(self.withheld_parts),
            Requirement.ACCESS_ROUTE: self.access_route,
            Requirement.HOLDING_AGENCY: self.holding_agency,
            Requirement.THIRD_PARTY_OPINION: self.third_party_opinion,
            Requirement.REFUSAL_REASON: self.reason,
            Requirement.EXPLANATION: self.reason,
        }
        have |= {r for r, value in named.items() if value and (value is True or str(value).strip())}
        return have

    def missing(self) -> list[Requirement]:
        """What the outcome's rule requires and this notice lacks (empty when complete)."""
        return [r for r in Requirement if r in self.rule.requires and r not in self.provided()]


@dataclass(frozen=True, slots=True)
class ComposedNotice:
    """A notice as paragraphs, independent of the output format."""

    title: str
    number: str
    salutation: str
    body: tuple[str, ...]
    withheld_table: tuple[tuple[str, str, str, str], ...]
    after_table: tuple[str, ...]
    remedy: str
    closing: str
    signature: tuple[str, str]


def _decision_paragraphs(ctx: NoticeContext, rule: OutcomeRule) -> tuple[list[str], list[str]]:
    """(paragraphs before the withheld table, paragraphs after it) for the outcome's group."""
    before = [rule.decision]
    after: list[str] = []
    group = rule.group
    if group in (OutcomeGroup.DISCLOSED, OutcomeGroup.PARTIALLY_DISCLOSED) and ctx.access_route:
        before.append(f"获取方式和途径：{ctx.access_route}")
    if group is OutcomeGroup.PARTIALLY_DISCLOSED and ctx.withheld_parts:
        before.append("不予公开的内容及理由如下：")
    if group is OutcomeGroup.WITHHELD:
        if ctx.reason:
            before.append(f"理由：{ctx.reason}")
        if ctx.third_party_opinion:
            before.append(f"第三方意见：{ctx.third_party_opinion}")
        special = ctx.references.get(Requirement.SPECIAL_PROCEDURE)
        if special:
            before.append(f"办理途径：{special}")
    if group in (OutcomeGroup.UNAVAILABLE, OutcomeGroup.NOT_PROCESSED, OutcomeGroup.OTHER):
        if ctx.reason:
            before.append(f"说明：{ctx.reason}")
        if ctx.holding_agency:
            before.append(f"经确定，负责公开该政府信息的行政机关为：{ctx.holding_agency}。您可以向该机关提出申请。")
        for requirement in (
            Requirement.PREVIOUS_REPLY,
            Requirement.CORRECTION_NOTICE,
            Requirement.FEE_NOTICE,
            Requirement.PROPER_CHANNEL,
            Requirement.PUBLICATION_ROUTE,
        ):
            text = ctx.references.get(requirement)
            if text:
                before.append(f"{_REFERENCE_PREFIX[requirement]}{text}")
    if ctx.fee is not None and ctx.fee.total > 0:
        after.append(f"本申请依据{ctx.fee.basis}{ctx.fee.method.label}信息处理费，标准：{ctx.fee.standard}")
        after.append("计费明细：" + "；".join(ctx.fee.lines()) + "。")
    return before, after


_REFERENCE_PREFIX = {
    Requirement.PREVIOUS_REPLY: "此前答复：",
    Requirement.CORRECTION_NOTICE: "补正告知：",
    Requirement.FEE_NOTICE: "收费通知：",
    Requirement.PROPER_CHANNEL: "相应渠道：",
    Requirement.PUBLICATION_ROUTE: "获取途径：",
}


def compose_notice(ctx: NoticeContext) -> ComposedNotice:
    """The notice's content; one template per outcome group, the wording from the outcome's rule."""
    rule = ctx.rule
    opening = (
        f"本机关于{format_cn_date(ctx.received_on)}收到您提出的政府信息公开申请（申请编号：{ctx.tracking_code}），"
        f"您申请获取的政府信息为：“{ctx.request_description}”。现答复如下："
    )
    before, after = _decision_paragraphs(ctx, rule)
    table: tuple[tuple[str, str, str, str], ...] = ()
    if rule.group is OutcomeGroup.PARTIALLY_DISCLOSED:
        table = tuple(
            (str(i), part.part, part.reason, cite(part.article) if part.article else "")
            for i, part in enumerate(ctx.withheld_parts, start=1)
        )
    return ComposedNotice(
        title=NOTICE_TITLE,
        number=ctx.notice_number,
        salutation=f"{ctx.applicant_name}：",
        body=(opening, *before),
        withheld_table=table,
        after_table=tuple(after),
        remedy=remedy_sentence(rule.remedy, review_body=ctx.review_body, court=ctx.court),
        closing="特此告知。",
        signature=(ctx.agency_name, format_cn_date(ctx.notice_date)),
    )


_CSS = (
    "body{font-family:'FangSong','仿宋',serif;max-width:42em;margin:2em auto;line-height:1.8}"
    "h1{text-align:center;font-family:'SimSun','宋体',serif;font-size:1.6em}"
    ".number{text-align:center}.body p{text-indent:2em}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #000;padding:.2em .5em}"
    ".signature{text-align:right}"
)


def render_notice_html(ctx: NoticeContext) -> str:
    """A complete small HTML document; every value from the context is escaped."""
    n = compose_notice(ctx)
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(n.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(n.title)}</h1>",
        f'<p class="number">{e(n.number)}</p>',
        f'<p class="salutation">{e(n.salutation)}</p>',
        '<div class="body">',
        *(f"<p>{e(p)}</p>" for p in n.body),
    ]
    if n.withheld_table:
        parts.append('<table class="withheld"><thead><tr>')
        parts.extend(f"<th>{e(h)}</th>" for h in WITHHELD_TABLE_HEADER)
        parts.append("</tr></thead><tbody>")
        for row in n.withheld_table:
            parts.append("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</tbody></table>")
    parts.extend(f"<p>{e(p)}</p>" for p in n.after_table)
    parts.append(f'<p class="remedy">{e(n.remedy)}</p>')
    parts.append(f"<p>{e(n.closing)}</p></div>")
    parts.append(f'<p class="signature">{e(n.signature[0])}<br>{e(n.signature[1])}</p>')
    parts.append("</body></html>")
    return "\n".join(parts)


def _set_font(run_or_style: object, name: str, size: float | None = None, bold: bool | None = None) -> None:
    font = run_or_style.font  # type: ignore[attr-defined]
    font.name = name
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    element = run_or_style.element  # type: ignore[attr-defined]
    rpr = element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), name)


def render_notice_docx(ctx: NoticeContext) -> bytes:
    """The notice as a Word document (.docx): 仿宋 三号 body, 小标宋 二号 title, agency and date at bottom right."""
    n = compose_notice(ctx)
    doc = Document()
    normal = doc.styles["Normal"]
    _set_font(normal, "仿宋", 16)
    normal.paragraph_format.line_spacing = Pt(28)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _set_font(title.add_run(n.title), "方正小标宋简体", 22, bold=False)
    number = doc.add_paragraph(n.number)
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(n.salutation)

    def body_paragraph(text: str) -> None:
        paragraph = doc.add_paragraph(text)
        paragraph.paragraph_format.first_line_indent = Pt(32)

    for text in n.body:
        body_paragraph(text)
    if n.withheld_table:
        table = doc.add_table(rows=1, cols=len(WITHHELD_TABLE_HEADER))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, heading in zip(table.rows[0].cells, WITHHELD_TABLE_HEADER, strict=True):
            cell.text = heading
        for row in n.withheld_table:
            for cell, value in zip(table.add_row().cells, row, strict=True):
                cell.text = value
    for text in n.after_table:
        body_paragraph(text)
    body_paragraph(n.remedy)
    body_paragraph(n.closing)
    for line in n.signature:
        signature = doc.add_paragraph(line)
        signature.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    core = doc.core_properties
    core.title = n.title
    core.author = ctx.agency_name
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
