"""Reply notices (答复告知书): every outcome group names the applicant, the request, the decision, its article and
the remedy (条例 art. 36-39, 51; 行政复议法 art. 20, 23; 行政诉讼法 art. 45, 46)."""

from __future__ import annotations

import io
from datetime import date
from html.parser import HTMLParser

import docx
import pytest
from gongkai_requests.fees import FeeMethod, quote
from gongkai_requests.notices import (
    NOTICE_TITLE,
    NoticeContext,
    WithheldPart,
    compose_notice,
    render_notice_docx,
    render_notice_html,
)
from gongkai_requests.outcomes import OUTCOMES, Outcome, OutcomeGroup, Requirement, outcome_rule

REVIEW_BODY = "江海市人民政府"
COURT = "江海市中级人民法院"


def context(outcome: Outcome, **overrides: object) -> NoticeContext:
    values: dict[str, object] = {
        "agency_name": "江海市生态环境局",
        "applicant_name": "张晓梅",
        "tracking_code": "GK2026-000123",
        "received_on": date(2026, 3, 2),
        "request_description": "2025年江海化工园区环境影响评价报告",
        "outcome": outcome,
        "notice_number": "江环公开告〔2026〕17号",
        "notice_date": date(2026, 3, 27),
        "review_body": REVIEW_BODY,
        "court": COURT,
        "access_route": "已在江海市生态环境局门户网站“法定主动公开内容”栏目公开",
        "withheld_parts": (
            WithheldPart("第三章企业工艺参数", "属于第三方商业秘密，第三方不同意公开", "条例第十五条"),
            WithheldPart("附件5审查会议记录", "属于过程性信息", "条例第十六条第二款"),
        ),
        "holding_agency": "江海市自然资源局（电话 0000-12345678）",
        "third_party_opinion": "江海化工有限公司于2026年3月16日书面答复不同意公开",
        "reason": "该报告第三章载有企业核心工艺参数",
        "references": {
            Requirement.PREVIOUS_REPLY: "本机关于2026年1月8日以江环公开告〔2026〕2号作出答复",
            Requirement.CORRECTION_NOTICE: "本机关于2026年3月4日发出补正告知，补正期限15日",
            Requirement.FEE_NOTICE: "本机关于2026年3月5日发出收费通知，金额200元",
            Requirement.SPECIAL_PROCEDURE: "请依照《不动产登记暂行条例》向不动产登记机构申请查询",
        },
    }
    values.update(overrides)
    return NoticeContext(**values)  # type: ignore[arg-type]


def docx_text(data: bytes) -> tuple[list[str], list[list[str]]]:
    document = docx.Document(io.BytesIO(data))
    paragraphs = [p.text for p in document.paragraphs]
    rows = [[cell.text for cell in row.cells] for table in document.tables for row in table.rows]
    return paragraphs, rows


ONE_PER_GROUP = [
    Outcome.DISCLOSED,
    Outcome.PARTIALLY_DISCLOSED,
    Outcome.WITHHELD_THIRD_PARTY_RIGHTS,
    Outcome.UNAVAILABLE_NOT_HELD,
    Outcome.NOT_PROCESSED_REPEAT,
    Outcome.OTHER_CORRECTION_LAPSED,
]


def test_the_sample_covers_every_group() -> None:
    assert {outcome_rule(o).group for o in ONE_PER_GROUP} == set(OutcomeGroup)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_docx_names_applicant_request_decision_article_and_remedy(outcome: Outcome) -> None:
    """条例 art. 36-39 and 51: the Word notice of every outcome states who, what, the decision, why and the remedy."""
    ctx = context(outcome)
    paragraphs, rows = docx_text(render_notice_docx(ctx))
    text = "\n".join(paragraphs)
    rule = outcome_rule(outcome)
    assert paragraphs[0] == NOTICE_TITLE
    assert paragraphs[1] == "江环公开告〔2026〕17号"
    assert paragraphs[2] == "张晓梅："
    assert "2026年3月2日收到您提出的政府信息公开申请" in text
    assert "2025年江海化工园区环境影响评价报告" in text
    assert rule.decision in text
    assert rule.cited_articles in text
    assert "《中华人民共和国政府信息公开条例》" in text
    assert paragraphs[-2:] == ["江海市生态环境局", "2026年3月27日"]
    assert f"60日内向{REVIEW_BODY}申请行政复议" in text
    if rule.group in (OutcomeGroup.WITHHELD, OutcomeGroup.PARTIALLY_DISCLOSED):
        # 行政复议法 art. 23(1)(4): review first; a suit only within 15 days of the review decision
        # (行政诉讼法 art. 45).
        assert f"收到行政复议决定书之日起15日内向{COURT}提起行政诉讼" in text
        assert "6个月内" not in text
    else:
        assert f"或者在6个月内向{COURT}提起行政诉讼" in text
    if rule.group is not OutcomeGroup.PARTIALLY_DISCLOSED:
        assert rows == []


def test_docx_partial_disclosure_has_the_withheld_parts_table() -> None:
    """条例 art. 37: what was withheld and the reason for each, with its article."""
    _, rows = docx_text(render_notice_docx(context(Outcome.PARTIALLY_DISCLOSED)))
    assert rows == [
        ["序号", "不予公开的内容", "理由", "依据"],
        [
            "1",
            "第三章企业工艺参数",
            "属于第三方商业秘密，第三方不同意公开",
            "《中华人民共和国政府信息公开条例》第十五条",
        ],
        ["2", "附件5审查会议记录", "属于过程性信息", "《中华人民共和国政府信息公开条例》第十六条第二款"],
    ]


def test_group_templates_carry_their_own_details() -> None:
    """Each group prints what its rule records: access route (art. 36(1)), third party (art. 32),
    holding agency (art. 36(5)), the previous reply (art. 36(6)), the correction notice (art. 30)."""
    expectations = {
        Outcome.DISCLOSED: "获取方式和途径：已在江海市生态环境局门户网站",
        Outcome.WITHHELD_THIRD_PARTY_RIGHTS: "第三方意见：江海化工有限公司于2026年3月16日书面答复不同意公开",
        Outcome.UNAVAILABLE_NOT_HELD: "负责公开该政府信息的行政机关为：江海市自然资源局",
        Outcome.NOT_PROCESSED_REPEAT: "此前答复：本机关于2026年1月8日",
        Outcome.OTHER_CORRECTION_LAPSED: "补正告知：本机关于2026年3月4日发出补正告知",
        Outcome.WITHHELD_ADMINISTRATIVE_QUERY: "办理途径：请依照《不动产登记暂行条例》",
    }
    for outcome, expected in expectations.items():
        paragraphs, _ = docx_text(render_notice_docx(context(outcome)))
        assert any(expected in p for p in paragraphs), outcome
    # A detail of another group does not leak into a notice: a disclosure names no third party.
    disclosed = "\n".join(docx_text(render_notice_docx(context(Outcome.DISCLOSED)))[0])
    assert "第三方意见" not in disclosed and "江海市自然资源局" not in disclosed


def test_fee_breakdown_is_printed_when_a_fee_is_charged() -> None:
    """国办函〔2020〕109号: basis, standard and amount step by step."""
    fee = quote(FeeMethod.VOLUME, pages=120)
    paragraphs, _ = docx_text(render_notice_docx(context(Outcome.DISCLOSED, fee=fee)))
    text = "\n".join(paragraphs)
    assert "按量计收信息处理费" in text
    assert "第31—100页：70页 × 10元 = 700元" in text
    assert "合计：1100元" in text
    free = quote(FeeMethod.PIECE, nth_in_month=3)
    assert "信息处理费" not in "\n".join(docx_text(render_notice_docx(context(Outcome.DISCLOSED, fee=free)))[0])


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_hostile_input() -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    ctx = context(
        Outcome.PARTIALLY_DISCLOSED,
        applicant_name=hostile,
        request_description=hostile,
        withheld_parts=(WithheldPart(hostile, hostile, "条例第十五条"),),
        access_route=hostile,
        review_body=hostile,
    )
    page = render_notice_html(ctx)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert hostile + "：" in "".join(parser.text)


@pytest.mark.parametrize("outcome", ONE_PER_GROUP)
def test_html_is_a_complete_document_saying_what_the_docx_says(outcome: Outcome) -> None:
    ctx = context(outcome)
    page = render_notice_html(ctx)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page and page.rstrip().endswith("</html>")
    parser = _Collector()
    parser.feed(page)
    text = "".join(parser.text)
    composed = compose_notice(ctx)
    for paragraph in (*composed.body, composed.remedy, composed.salutation, *composed.signature):
        assert paragraph in text
    assert outcome_rule(outcome).decision in text


def test_missing_lists_what_the_rule_requires_and_the_notice_lacks() -> None:
    """A partial disclosure without withheld parts (art. 37) or a third-party refusal without the third party's
    opinion (art. 32) is incomplete; the service refuses to send it."""
    bare = {
        "withheld_parts": (),
        "access_route": None,
        "holding_agency": None,
        "third_party_opinion": None,
        "reason": None,
        "references": {},
    }
    assert context(Outcome.PARTIALLY_DISCLOSED, **bare).missing() == [
        Requirement.ACCESS_ROUTE,
        Requirement.WITHHELD_PARTS,
    ]
    assert context(Outcome.WITHHELD_THIRD_PARTY_RIGHTS, **bare).missing() == [
        Requirement.REFUSAL_REASON,
        Requirement.THIRD_PARTY_OPINION,
    ]
    assert context(Outcome.UNAVAILABLE_NOT_HELD, **{**bare, "reason": "经检索未找到"}).missing() == []
    assert context(Outcome.DISCLOSED, **{**bare, "access_route": "   "}).missing() == [Requirement.ACCESS_ROUTE]
    for outcome in OUTCOMES:
        assert context(outcome).missing() == [], outcome
