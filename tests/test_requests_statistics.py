"""Tables 三 and 四 of the annual report (国办公开办函〔2021〕30号) and their consistency checks (domain.md §3)."""

from __future__ import annotations

import pytest
from gongkai_requests.outcomes import Outcome, OutcomeGroup
from gongkai_requests.statistics import (
    TABLE3_COLUMN_LABELS,
    TABLE3_ORGANIZATION_HEADER,
    TOTAL,
    ApplicantColumn,
    CaseResult,
    RemedyKind,
    StatisticsError,
    build_table3,
    build_table4,
    continuity_checks,
)

C = ApplicantColumn

# The rows of table 三 exactly as the 2021 format prints them, with their level.
FORMAT_TABLE3_ROWS = [
    ("一、本年新收政府信息公开申请数量", 0),
    ("二、上年结转政府信息公开申请数量", 0),
    ("三、本年度办理结果", 0),
    ("（一）予以公开", 1),
    ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", 1),
    ("（三）不予公开", 1),
    ("1.属于国家秘密", 2),
    ("2.其他法律行政法规禁止公开", 2),
    ("3.危及“三安全一稳定”", 2),
    ("4.保护第三方合法权益", 2),
    ("5.属于三类内部事务信息", 2),
    ("6.属于四类过程性信息", 2),
    ("7.属于行政执法案卷", 2),
    ("8.属于行政查询事项", 2),
    ("（四）无法提供", 1),
    ("1.本机关不掌握相关政府信息", 2),
    ("2.没有现成信息需要另行制作", 2),
    ("3.补正后申请内容仍不明确", 2),
    ("（五）不予处理", 1),
    ("1.信访举报投诉类申请", 2),
    ("2.重复申请", 2),
    ("3.要求提供公开出版物", 2),
    ("4.无正当理由大量反复申请", 2),
    ("5.要求行政机关确认或重新出具已获取信息", 2),
    ("（六）其他处理", 1),
    ("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", 2),
    ("2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", 2),
    ("3.其他", 2),
    ("（七）总计", 1),
    ("四、结转下年度继续办理", 0),
]


def consistent_table3():
    """A year of a city department: 自然人 40 new + 5 carried over = 42 handled + 3 carried forward; 商业企业 6 + 1
    = 7 + 0; 法律服务机构 2 + 0 = 1 + 1; the other columns empty."""
    outcomes = {
        Outcome.DISCLOSED: {C.NATURAL_PERSON: 20, C.COMMERCIAL_ENTERPRISE: 3},
        Outcome.PARTIALLY_DISCLOSED: {C.NATURAL_PERSON: 5, C.COMMERCIAL_ENTERPRISE: 2},
        Outcome.WITHHELD_THIRD_PARTY_RIGHTS: {C.NATURAL_PERSON: 2},
        Outcome.WITHHELD_PROCESS_INFORMATION: {C.COMMERCIAL_ENTERPRISE: 1},
        Outcome.UNAVAILABLE_NOT_HELD: {C.NATURAL_PERSON: 8, C.LEGAL_SERVICE_ORGANIZATION: 1},
        Outcome.NOT_PROCESSED_REPEAT: {C.NATURAL_PERSON: 3},
        Outcome.OTHER_CORRECTION_LAPSED: {C.NATURAL_PERSON: 2},
        Outcome.OTHER_FEE_UNPAID: {C.NATURAL_PERSON: 1, C.COMMERCIAL_ENTERPRISE: 1},
        Outcome.OTHER: {C.NATURAL_PERSON: 1},
    }
    return build_table3(
        new_counts={C.NATURAL_PERSON: 40, C.COMMERCIAL_ENTERPRISE: 6, C.LEGAL_SERVICE_ORGANIZATION: 2},
        carried_over_counts={C.NATURAL_PERSON: 5, C.COMMERCIAL_ENTERPRISE: 1},
        outcome_counts=outcomes,
        carried_forward_counts={C.NATURAL_PERSON: 3, C.LEGAL_SERVICE_ORGANIZATION: 1},
    )


def test_table3_rows_and_labels_follow_the_2021_format() -> None:
    """国办公开办函〔2021〕30号 table 三: every row, in order, with the format's wording."""
    table = consistent_table3()
    assert [(row.label, row.level) for row in table.rows()] == FORMAT_TABLE3_ROWS


def test_table3_columns_follow_the_2021_format() -> None:
    assert TABLE3_COLUMN_LABELS == ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")
    assert TABLE3_ORGANIZATION_HEADER == "法人或其他组织"
    assert len(ApplicantColumn) == 6


def test_headings_carry_no_figures_and_every_other_row_has_seven() -> None:
    for row in consistent_table3().rows():
        if row.label in ("三、本年度办理结果", "（三）不予公开", "（四）无法提供", "（五）不予处理", "（六）其他处理"):
            assert row.values is None
        else:
            assert row.values is not None and len(row.values) == 7


def test_a_consistent_table3_passes_and_totals_are_computed() -> None:
    """domain.md §3: 一 + 二 = （七） + 四; （七） = the sum of the leaf rows; 总计 column = the sum of the six."""
    table = consistent_table3()
    assert table.checks() == []
    assert table.value("new") == 48
    assert table.value("results_total") == 50
    assert table.value("results_total", C.NATURAL_PERSON) == 42
    assert table.value(Outcome.DISCLOSED) == 23
    assert table.value("carried_forward", C.LEGAL_SERVICE_ORGANIZATION) == 1
    assert table.group_total(OutcomeGroup.OTHER) == (4, 1, 0, 0, 0, 0, 5)


def test_check_catches_intake_not_matching_results_plus_carried_forward() -> None:
    """一 + 二 = （七）总计 + 四 in every column (国办公开办函〔2021〕30号)."""
    table = consistent_table3().with_cell("carried_forward", C.NATURAL_PERSON, 4).with_cell("carried_forward", TOTAL, 5)
    problems = table.checks()
    assert len(problems) == 2  # the 自然人 column and the 总计 column
    assert problems[0].startswith("自然人：一、本年新收 40 + 二、上年结转 5 = 45")
    assert problems[1].startswith("总计：")


def test_check_catches_results_total_not_matching_leaf_rows() -> None:
    """（七）总计 = the sum of the 21 leaf rows."""
    table = consistent_table3().with_cell(Outcome.WITHHELD_STATE_SECRET, C.RESEARCH_INSTITUTION, 1)
    problems = table.checks()
    assert "1.属于国家秘密：总计列 0 ≠ 六类申请人之和 1" in problems
    assert "科研机构：（七）总计 0 ≠ 各项办理结果之和 1" in problems


def test_check_catches_total_column_not_matching_the_six() -> None:
    """The 总计 column = the sum of the other six, in every row."""
    table = consistent_table3().with_cell("new", TOTAL, 47)
    problems = table.checks()
    assert problems[0] == "一、本年新收政府信息公开申请数量：总计列 47 ≠ 六类申请人之和 48"
    # The 总计 column's own 一 + 二 = （七） + 四 fails with it.
    assert any(p.startswith("总计：一、本年新收 47") for p in problems)


def test_check_catches_negative_cells() -> None:
    table = consistent_table3().with_cell(Outcome.OTHER, C.OTHER_ORGANIZATION, -1)
    assert table.checks() == ["3.其他·其他：-1 不是非负整数"]


def test_build_table3_refuses_impossible_counts() -> None:
    with pytest.raises(StatisticsError, match="负数"):
        build_table3({C.NATURAL_PERSON: -1}, {}, {}, {})
    with pytest.raises(StatisticsError, match="整数"):
        build_table3({}, {}, {Outcome.DISCLOSED: {C.NATURAL_PERSON: 1.5}}, {})  # type: ignore[dict-item]
    with pytest.raises(StatisticsError, match="未知的申请人类型"):
        build_table3({"robot": 1}, {}, {}, {})  # type: ignore[dict-item]
    with pytest.raises(StatisticsError, match="未知的办理结果"):
        build_table3({}, {}, {"granted": {}}, {})  # type: ignore[dict-item]


def test_an_empty_year_is_consistent() -> None:
    table = build_table3({}, {}, {}, {})
    assert table.checks() == []
    assert all(row.values is None or set(row.values) == {0} for row in table.rows())


def test_carried_forward_last_year_is_carried_over_this_year() -> None:
    """Last year's 四、结转下年度继续办理 is this year's 二、上年结转政府信息公开申请数量, column by column."""
    last_year = consistent_table3()
    this_year = build_table3(
        {C.NATURAL_PERSON: 1},
        {C.NATURAL_PERSON: 3, C.LEGAL_SERVICE_ORGANIZATION: 1},
        {Outcome.DISCLOSED: {C.NATURAL_PERSON: 4, C.LEGAL_SERVICE_ORGANIZATION: 1}},
        {},
    )
    assert this_year.checks() == []
    assert continuity_checks(last_year, this_year) == []
    wrong = build_table3({}, {C.NATURAL_PERSON: 2}, {Outcome.DISCLOSED: {C.NATURAL_PERSON: 2}}, {})
    assert continuity_checks(last_year, wrong) == [
        "自然人：上年报告结转下年度 3 ≠ 本年报告上年结转 2",
        "法律服务机构：上年报告结转下年度 1 ≠ 本年报告上年结转 0",
        "总计：上年报告结转下年度 4 ≠ 本年报告上年结转 2",
    ]


def test_table4_has_15_cells_in_the_formats_order() -> None:
    """国办公开办函〔2021〕30号 table 四: 行政复议, 行政诉讼 未经复议直接起诉 and 复议后起诉, each with
    维持/纠正/其他/尚未审结/总计."""
    table = build_table4(
        {CaseResult.UPHELD: 3, CaseResult.CORRECTED: 1, CaseResult.PENDING: 1},
        {CaseResult.UPHELD: 1, CaseResult.OTHER: 1},
        {CaseResult.PENDING: 2},
    )
    assert table.values() == (3, 1, 0, 1, 5, 1, 0, 1, 0, 2, 0, 0, 0, 2, 2)
    assert len(table.headers()) == 15
    assert table.headers()[:5] == (
        ("行政复议", "结果维持"),
        ("行政复议", "结果纠正"),
        ("行政复议", "其他结果"),
        ("行政复议", "尚未审结"),
        ("行政复议", "总计"),
    )
    assert [h[0] for h in table.headers()[5::5]] == ["行政诉讼·未经复议直接起诉", "行政诉讼·复议后起诉"]
    assert table.checks() == []


def test_table4_check_catches_a_total_that_is_not_the_sum_of_its_four() -> None:
    table = build_table4({CaseResult.UPHELD: 3}, {}, {}).with_cell(RemedyKind.DIRECT_SUIT, CaseResult.CORRECTED, 1)
    assert table.checks() == ["行政诉讼·未经复议直接起诉：总计 0 ≠ 维持、纠正、其他、尚未审结之和 1"]
    negative = build_table4({}, {}, {}).with_cell(RemedyKind.ADMINISTRATIVE_REVIEW, TOTAL, -2)
    assert negative.checks() == ["行政复议：[-2] 不是非负整数"]


def test_build_table4_refuses_impossible_counts() -> None:
    with pytest.raises(StatisticsError, match="负数"):
        build_table4({CaseResult.UPHELD: -1}, {}, {})
    with pytest.raises(StatisticsError, match="未知的结果"):
        build_table4({}, {"won": 1}, {})  # type: ignore[dict-item]
