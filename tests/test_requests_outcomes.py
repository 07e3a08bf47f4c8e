"""The outcome rules of a disclosure application (条例 art. 30, 35-39; 国办公开办函〔2021〕30号 table 三)."""

from __future__ import annotations

import dataclasses

import pytest
from gongkai_requests.outcomes import (
    OUTCOMES,
    Outcome,
    OutcomeGroup,
    Precondition,
    RemedyPath,
    Requirement,
    cite,
    outcome_rule,
    outcomes_in_group,
)

# Table 三 of 国办公开办函〔2021〕30号, the leaf rows of 三、本年度办理结果 as the format prints them.
FORMAT_LEAF_ROWS = [
    ("予以公开", None, "予以公开"),
    ("部分公开", None, "部分公开（区分处理的，只计这一情形，不计其他情形）"),
    ("不予公开", 1, "属于国家秘密"),
    ("不予公开", 2, "其他法律行政法规禁止公开"),
    ("不予公开", 3, "危及“三安全一稳定”"),
    ("不予公开", 4, "保护第三方合法权益"),
    ("不予公开", 5, "属于三类内部事务信息"),
    ("不予公开", 6, "属于四类过程性信息"),
    ("不予公开", 7, "属于行政执法案卷"),
    ("不予公开", 8, "属于行政查询事项"),
    ("无法提供", 1, "本机关不掌握相关政府信息"),
    ("无法提供", 2, "没有现成信息需要另行制作"),
    ("无法提供", 3, "补正后申请内容仍不明确"),
    ("不予处理", 1, "信访举报投诉类申请"),
    ("不予处理", 2, "重复申请"),
    ("不予处理", 3, "要求提供公开出版物"),
    ("不予处理", 4, "无正当理由大量反复申请"),
    ("不予处理", 5, "要求行政机关确认或重新出具已获取信息"),
    ("其他处理", 1, "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
    ("其他处理", 2, "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
    ("其他处理", 3, "其他"),
]


def test_there_are_21_leaf_rows_in_the_2021_format_not_20() -> None:
    """国办公开办函〔2021〕30号 table 三: 1 + 1 + 8 + 3 + 5 + 3 leaf rows (domain.md's "20" is a miscount)."""
    assert len(Outcome) == 21
    assert len(OUTCOMES) == 21
    assert set(OUTCOMES) == set(Outcome)
    counts = {group: len(outcomes_in_group(group)) for group in OutcomeGroup}
    assert list(counts.values()) == [1, 1, 8, 3, 5, 3]


def test_labels_rows_and_order_match_the_2021_format() -> None:
    """Every rule's label and report row are the format's wording, in the format's order."""
    actual = [(rule.report_row[1], rule.report_row[2], rule.label) for rule in OUTCOMES.values()]
    assert actual == FORMAT_LEAF_ROWS
    assert [o for o in OUTCOMES] == list(Outcome)
    for rule in OUTCOMES.values():
        assert rule.report_row[0] == "三"
        assert rule.report_row[1] == rule.group.label


def test_report_label_prints_the_group_ordinal_and_index() -> None:
    assert outcome_rule(Outcome.WITHHELD_STATE_SECRET).report_label == "（三）不予公开 1.属于国家秘密"
    assert outcome_rule(Outcome.DISCLOSED).report_label == "（一）予以公开"
    assert outcome_rule(Outcome.OTHER).report_label == "（六）其他处理 3.其他"


@pytest.mark.parametrize(
    ("outcome", "article"),
    [
        (Outcome.WITHHELD_STATE_SECRET, "条例第十四条"),
        (Outcome.WITHHELD_PROHIBITED_BY_LAW, "条例第十四条"),
        (Outcome.WITHHELD_ENDANGERS_SECURITY, "条例第十四条"),
        (Outcome.WITHHELD_THIRD_PARTY_RIGHTS, "条例第十五条"),
        (Outcome.WITHHELD_INTERNAL_AFFAIRS, "条例第十六条第一款"),
        (Outcome.WITHHELD_PROCESS_INFORMATION, "条例第十六条第二款"),
        (Outcome.WITHHELD_ENFORCEMENT_CASE_FILE, "条例第十六条第二款"),
        (Outcome.WITHHELD_ADMINISTRATIVE_QUERY, "条例第三十六条第（七）项"),
        (Outcome.PARTIALLY_DISCLOSED, "条例第三十七条"),
        (Outcome.DISCLOSED, "条例第三十六条第（一）项"),
        (Outcome.UNAVAILABLE_NOT_HELD, "条例第三十六条第（五）项"),
        (Outcome.UNAVAILABLE_NEEDS_CREATION, "条例第三十八条"),
        (Outcome.UNAVAILABLE_STILL_UNCLEAR, "条例第三十条"),
        (Outcome.NOT_PROCESSED_PETITION, "条例第三十九条第一款"),
        (Outcome.NOT_PROCESSED_REPEAT, "条例第三十六条第（六）项"),
        (Outcome.NOT_PROCESSED_PUBLICATION, "条例第三十九条第二款"),
        (Outcome.NOT_PROCESSED_EXCESSIVE, "条例第三十五条"),
        (Outcome.OTHER_CORRECTION_LAPSED, "条例第三十条"),
        (Outcome.OTHER_FEE_UNPAID, "收费办法"),
    ],
)
def test_each_outcome_rests_on_its_article(outcome: Outcome, article: str) -> None:
    """条例 art. 14-16, 30, 35-39 and 国办函〔2020〕109号: the decision cites the article it rests on."""
    rule = outcome_rule(outcome)
    assert article in rule.articles
    # The law's title is printed once per run of articles: the first in full, the next by article number only.
    printed = cite(article) if rule.articles[0] == article or not article.startswith("条例") else article[2:]
    assert printed in rule.cited_articles
    assert rule.cited_articles in rule.decision


def test_every_decision_names_the_regulation_and_has_no_unfilled_placeholder() -> None:
    for rule in OUTCOMES.values():
        assert rule.articles, rule.outcome
        assert "《" in rule.decision
        assert "{" not in rule.decision and "}" not in rule.decision


def test_cited_articles_name_the_law_once_per_run() -> None:
    rule = outcome_rule(Outcome.WITHHELD_THIRD_PARTY_RIGHTS)
    assert rule.cited_articles == "《中华人民共和国政府信息公开条例》第十五条、第三十二条、第三十六条第（三）项"
    fee = outcome_rule(Outcome.OTHER_FEE_UNPAID)
    assert fee.cited_articles == (
        "《中华人民共和国政府信息公开条例》第四十二条、《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"
    )


def test_refusals_require_review_first_others_keep_the_choice() -> None:
    """行政复议法 art. 23(1)(4) (in force 2024-01-01): 不予公开 is challenged by 行政复议 first; a partial
    disclosure refuses the withheld part, so it too. Every other decision: 复议 (art. 20) or 诉讼
    (行政诉讼法 art. 46)."""
    for outcome, rule in OUTCOMES.items():
        refused = rule.group in (OutcomeGroup.WITHHELD, OutcomeGroup.PARTIALLY_DISCLOSED)
        assert rule.remedy is (RemedyPath.REVIEW_FIRST if refused else RemedyPath.REVIEW_OR_SUIT), outcome


def test_partial_disclosure_records_withheld_parts_and_reasons() -> None:
    """条例 art. 37: the parts withheld and the reason for each."""
    rule = outcome_rule(Outcome.PARTIALLY_DISCLOSED)
    assert Requirement.WITHHELD_PARTS in rule.requires
    assert Requirement.ACCESS_ROUTE in rule.requires


def test_disclosure_records_where_or_how_to_get_it() -> None:
    """条例 art. 36(1)(2): already published → where; can be published → how and when."""
    assert Requirement.ACCESS_ROUTE in outcome_rule(Outcome.DISCLOSED).requires


def test_not_held_may_name_the_agency_that_holds_it() -> None:
    """条例 art. 36(5): naming the responsible agency where it can be determined (may, not must)."""
    rule = outcome_rule(Outcome.UNAVAILABLE_NOT_HELD)
    assert Requirement.HOLDING_AGENCY in rule.may_record
    assert Requirement.HOLDING_AGENCY not in rule.requires


def test_third_party_refusal_records_the_third_partys_opinion() -> None:
    """条例 art. 32 and 15: the written consultation's answer (or its silence) is on record."""
    assert Requirement.THIRD_PARTY_OPINION in outcome_rule(Outcome.WITHHELD_THIRD_PARTY_RIGHTS).requires


def test_every_refusal_states_a_reason() -> None:
    """条例 art. 36(3): 告知申请人不予公开并说明理由."""
    for outcome in outcomes_in_group(OutcomeGroup.WITHHELD):
        rule = outcome_rule(outcome)
        assert rule.requires, outcome


def test_only_the_lapsed_windows_close_without_a_decision_on_the_merits() -> None:
    """条例 art. 30 (逾期不补正) and 国办函〔2020〕109号 (逾期未缴费): 其他处理 1 and 2, each needing its state."""
    off_merits = {o: r.precondition for o, r in OUTCOMES.items() if not r.on_merits}
    assert off_merits == {
        Outcome.OTHER_CORRECTION_LAPSED: Precondition.CORRECTION_WINDOW_LAPSED,
        Outcome.OTHER_FEE_UNPAID: Precondition.FEE_WINDOW_LAPSED,
    }


def test_still_unclear_needs_a_received_correction() -> None:
    """条例 art. 30: "补正后申请内容仍不明确" only fits after a corrected application arrived."""
    assert outcome_rule(Outcome.UNAVAILABLE_STILL_UNCLEAR).precondition is Precondition.CORRECTION_RECEIVED


def test_excessive_requests_need_reasons_asked_first() -> None:
    """条例 art. 35: the agency may ask for reasons; only unreasonable ones lead to 不予处理."""
    assert outcome_rule(Outcome.NOT_PROCESSED_EXCESSIVE).precondition is Precondition.REASONS_REQUESTED


def test_outcome_rule_accepts_the_stored_value_and_refuses_unknown() -> None:
    assert outcome_rule("withheld_state_secret") is OUTCOMES[Outcome.WITHHELD_STATE_SECRET]
    with pytest.raises(ValueError):
        outcome_rule("nonsense")


def test_rules_are_immutable() -> None:
    rule = outcome_rule(Outcome.DISCLOSED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.label = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        OUTCOMES[Outcome.DISCLOSED] = rule  # type: ignore[index]


def test_requirement_labels_cite_their_source() -> None:
    for requirement in Requirement:
        if requirement is not Requirement.EXPLANATION:
            assert "条例" in requirement.label or "109号" in requirement.label, requirement
