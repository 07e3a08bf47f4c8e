"""Tables 三 and 四 of the annual report (《中华人民共和国政府信息公开工作年度报告格式》, 国办公开办函〔2021〕30号).

Table 三 "收到和处理政府信息公开申请情况": 7 columns (自然人; 法人或其他组织: 商业企业, 科研机构, 社会公益组织,
法律服务机构, 其他; 总计) by the format's rows: 一、本年新收; 二、上年结转; 三、本年度办理结果 （一）-（六） with their
21 leaf rows (see :mod:`gongkai_requests.outcomes`) and （七）总计; 四、结转下年度继续办理. The checks that must hold
in every column (domain.md §3): 一 + 二 = （七）总计 + 四; （七） = the sum of the leaf rows; the 总计 column = the sum
of the other six.

Table 四 "政府信息公开行政复议、行政诉讼情况": 行政复议, 行政诉讼·未经复议直接起诉, 行政诉讼·复议后起诉, each with
结果维持 · 结果纠正 · 其他结果 · 尚未审结 · 总计 (15 cells); each 总计 is the sum of its four.

:func:`build_table3` and :func:`build_table4` compute the totals; the tables keep every cell, so a table that was
edited or imported (``with_cell``) is checked the same way (``checks()`` lists each violated rule, in Chinese).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from gongkai_requests.outcomes import OUTCOMES, Outcome, OutcomeGroup, outcomes_in_group

__all__ = [
    "TABLE3_COLUMN_LABELS",
    "TABLE3_ORGANIZATION_HEADER",
    "TABLE4_RESULT_LABELS",
    "TOTAL",
    "ApplicantColumn",
    "CaseResult",
    "RemedyKind",
    "StatisticsError",
    "Table3",
    "Table3Row",
    "Table4",
    "build_table3",
    "build_table4",
    "continuity_checks",
]

TOTAL: Literal["total"] = "total"


class StatisticsError(ValueError):
    """A count that cannot be in the report (negative, not an integer, an unknown row or column)."""


class ApplicantColumn(StrEnum):
    """The 6 data columns of table 三 (applicant types, domain.md §2)."""

    NATURAL_PERSON = "natural_person"
    COMMERCIAL_ENTERPRISE = "commercial_enterprise"
    RESEARCH_INSTITUTION = "research_institution"
    PUBLIC_WELFARE_ORGANIZATION = "public_welfare_organization"
    LEGAL_SERVICE_ORGANIZATION = "legal_service_organization"
    OTHER_ORGANIZATION = "other_organization"

    @property
    def label(self) -> str:
        return _COLUMN_LABELS[self]


_COLUMN_LABELS = {
    ApplicantColumn.NATURAL_PERSON: "自然人",
    ApplicantColumn.COMMERCIAL_ENTERPRISE: "商业企业",
    ApplicantColumn.RESEARCH_INSTITUTION: "科研机构",
    ApplicantColumn.PUBLIC_WELFARE_ORGANIZATION: "社会公益组织",
    ApplicantColumn.LEGAL_SERVICE_ORGANIZATION: "法律服务机构",
    ApplicantColumn.OTHER_ORGANIZATION: "其他",
}
#: The format's header: 申请人情况 → 自然人 | 法人或其他组织 (5 sub-columns) | 总计.
TABLE3_ORGANIZATION_HEADER = "法人或其他组织"
TABLE3_COLUMN_LABELS: tuple[str, ...] = (*(c.label for c in ApplicantColumn), "总计")
_NCOL = len(ApplicantColumn)

Values = tuple[int, ...]

# Row keys of table 三 besides the outcomes.
NEW, CARRIED_OVER, RESULTS_TOTAL, CARRIED_FORWARD = "new", "carried_over", "results_total", "carried_forward"
_SECTION_LABELS = {
    NEW: "一、本年新收政府信息公开申请数量",
    CARRIED_OVER: "二、上年结转政府信息公开申请数量",
    "results": "三、本年度办理结果",
    RESULTS_TOTAL: "（七）总计",
    CARRIED_FORWARD: "四、结转下年度继续办理",
}


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StatisticsError(f"{where}：数量必须是整数")
    if value < 0:
        raise StatisticsError(f"{where}：数量不能为负数")
    return value


def _row(counts: Mapping[ApplicantColumn, int] | None, where: str) -> Values:
    """Six data cells plus the computed 总计 cell."""
    counts = counts or {}
    unknown = [k for k in counts if k not in _COLUMN_LABELS]
    if unknown:
        raise StatisticsError(f"{where}：未知的申请人类型 {unknown!r}")
    cells = tuple(_count(counts.get(c, 0), f"{where}·{c.label}") for c in ApplicantColumn)
    return (*cells, sum(cells))


@dataclass(frozen=True, slots=True)
class Table3Row:
    """One printed row: its key (``"new"``, an :class:`Outcome` value, …), label, level and 7 values or None."""

    key: str
    label: str
    #: 0: 一、二、三、四; 1: （一）-（七); 2: the numbered sub-rows.
    level: int
    #: None for a heading the format prints without figures (三、本年度办理结果; a group with sub-rows).
    values: Values | None


@dataclass(frozen=True, slots=True)
class Table3:
    """Every cell of table 三, keyed by row (``new``, ``carried_over``, each :class:`Outcome`, ``results_total``,
    ``carried_forward``); each row holds the 6 data columns then 总计."""

    cells: Mapping[str, Values]

    def value(self, row: str | Outcome, column: ApplicantColumn | Literal["total"] = TOTAL) -> int:
        values = self.cells[str(row)]
        return values[_NCOL] if column == TOTAL else values[list(ApplicantColumn).index(ApplicantColumn(column))]

    def with_cell(self, row: str | Outcome, column: ApplicantColumn | Literal["total"], value: int) -> Table3:
        """A copy with one cell changed and nothing recomputed (an edited or imported figure)."""
        index = _NCOL if column == TOTAL else list(ApplicantColumn).index(ApplicantColumn(column))
        values = list(self.cells[str(row)])
        values[index] = value
        return Table3(MappingProxyType({**self.cells, str(row): tuple(values)}))

    def group_total(self, group: OutcomeGroup) -> Values:
        """The sum of one group's leaf rows (the format prints no subtotal; useful for summaries)."""
        rows = [self.cells[o.value] for o in outcomes_in_group(group)]
        return tuple(sum(col) for col in zip(*rows, strict=True))

    def rows(self) -> Iterator[Table3Row]:
        """The rows in the format's order with its exact labels."""
        yield Table3Row(NEW, _SECTION_LABELS[NEW], 0, self.cells[NEW])
        yield Table3Row(CARRIED_OVER, _SECTION_LABELS[CARRIED_OVER], 0, self.cells[CARRIED_OVER])
        yield Table3Row("results", _SECTION_LABELS["results"], 0, None)
        for group in OutcomeGroup:
            members = outcomes_in_group(group)
            first = OUTCOMES[members[0]]
            if first.report_row[2] is None:  # 予以公开, 部分公开: a row of its own
                yield Table3Row(members[0].value, f"{group.ordinal}{first.label}", 1, self.cells[members[0].value])
                continue
            yield Table3Row(group.value, f"{group.ordinal}{group.label}", 1, None)
            for outcome in members:
                rule = OUTCOMES[outcome]
                yield Table3Row(outcome.value, f"{rule.report_row[2]}.{rule.label}", 2, self.cells[outcome.value])
        yield Table3Row(RESULTS_TOTAL, _SECTION_LABELS[RESULTS_TOTAL], 1, self.cells[RESULTS_TOTAL])
        yield Table3Row(CARRIED_FORWARD, _SECTION_LABELS[CARRIED_FORWARD], 0, self.cells[CARRIED_FORWARD])

    def checks(self) -> list[str]:
        """Every violated consistency rule of the format, one message each (empty when the table holds)."""
        problems: list[str] = []
        labels = {row.key: row.label for row in self.rows()}
        for key, values in self.cells.items():
            for label, value in zip(TABLE3_COLUMN_LABELS, values, strict=True):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    problems.append(f"{labels.get(key, key)}·{label}：{value!r} 不是非负整数")
        if problems:
            return problems
        # 总计 column = the sum of the other six, in every row.
        for row in self.rows():
            if row.values is not None and sum(row.values[:_NCOL]) != row.values[_NCOL]:
                problems.append(f"{row.label}：总计列 {row.values[_NCOL]} ≠ 六类申请人之和 {sum(row.values[:_NCOL])}")
        for i, column in enumerate(TABLE3_COLUMN_LABELS):
            leaves = sum(self.cells[o.value][i] for o in Outcome)
            total = self.cells[RESULTS_TOTAL][i]
            if leaves != total:
                problems.append(f"{column}：（七）总计 {total} ≠ 各项办理结果之和 {leaves}")
            new, carried_over = self.cells[NEW][i], self.cells[CARRIED_OVER][i]
            carried_forward = self.cells[CARRIED_FORWARD][i]
            if new + carried_over != total + carried_forward:
                problems.append(
                    f"{column}：一、本年新收 {new} + 二、上年结转 {carried_over} = {new + carried_over}，"
                    f"≠ （七）总计 {total} + 四、结转下年度 {carried_forward} = {total + carried_forward}"
                )
        return problems


def build_table3(
    new_counts: Mapping[ApplicantColumn, int],
    carried_over_counts: Mapping[ApplicantColumn, int],
    outcome_counts: Mapping[Outcome, Mapping[ApplicantColumn, int]],
    carried_forward_counts: Mapping[ApplicantColumn, int],
) -> Table3:
    """Table 三 from counts per applicant column (and per outcome); 总计 column and （七） are computed.

    A missing column or outcome counts 0. Raises :class:`StatisticsError` for a negative or non-integer count or
    an unknown outcome or column. The result may still fail ``checks()``: 一 + 二 = （七） + 四 depends on the
    data, and that is the point of checking it.
    """
    unknown = [k for k in outcome_counts if k not in set(Outcome)]
    if unknown:
        raise StatisticsError(f"未知的办理结果 {unknown!r}")
    cells: dict[str, Values] = {
        NEW: _row(new_counts, _SECTION_LABELS[NEW]),
        CARRIED_OVER: _row(carried_over_counts, _SECTION_LABELS[CARRIED_OVER]),
    }
    for outcome in Outcome:
        cells[outcome.value] = _row(outcome_counts.get(outcome), OUTCOMES[outcome].report_label)
    leaf_rows = [cells[o.value] for o in Outcome]
    cells[RESULTS_TOTAL] = tuple(sum(col) for col in zip(*leaf_rows, strict=True))
    cells[CARRIED_FORWARD] = _row(carried_forward_counts, _SECTION_LABELS[CARRIED_FORWARD])
    return Table3(MappingProxyType(cells))


def continuity_checks(previous: Table3, current: Table3) -> list[str]:
    """Last year's 四、结转下年度继续办理 must be this year's 二、上年结转, column by column."""
    problems = []
    for i, column in enumerate(TABLE3_COLUMN_LABELS):
        before, now = previous.cells[CARRIED_FORWARD][i], current.cells[CARRIED_OVER][i]
        if before != now:
            problems.append(f"{column}：上年报告结转下年度 {before} ≠ 本年报告上年结转 {now}")
    return problems


class RemedyKind(StrEnum):
    """The three blocks of table 四."""

    ADMINISTRATIVE_REVIEW = "administrative_review"
    DIRECT_SUIT = "direct_suit"
    SUIT_AFTER_REVIEW = "suit_after_review"

    @property
    def label(self) -> str:
        return _REMEDY_LABELS[self]


_REMEDY_LABELS = {
    RemedyKind.ADMINISTRATIVE_REVIEW: "行政复议",
    RemedyKind.DIRECT_SUIT: "行政诉讼·未经复议直接起诉",
    RemedyKind.SUIT_AFTER_REVIEW: "行政诉讼·复议后起诉",
}


class CaseResult(StrEnum):
    UPHELD = "upheld"
    CORRECTED = "corrected"
    OTHER = "other"
    PENDING = "pending"

    @property
    def label(self) -> str:
        return _RESULT_LABELS[self]


_RESULT_LABELS = {
    CaseResult.UPHELD: "结果维持",
    CaseResult.CORRECTED: "结果纠正",
    CaseResult.OTHER: "其他结果",
    CaseResult.PENDING: "尚未审结",
}
TABLE4_RESULT_LABELS: tuple[str, ...] = (*(r.label for r in CaseResult), "总计")


@dataclass(frozen=True, slots=True)
class Table4:
    """Table 四: per :class:`RemedyKind`, 4 results then 总计."""

    cells: Mapping[RemedyKind, Values]

    def values(self) -> Values:
        """The 15 cells in the format's order (行政复议 ×5, 直接起诉 ×5, 复议后起诉 ×5)."""
        return tuple(v for kind in RemedyKind for v in self.cells[kind])

    def headers(self) -> tuple[tuple[str, str], ...]:
        """(block, column) for each of the 15 cells."""
        return tuple((kind.label, label) for kind in RemedyKind for label in TABLE4_RESULT_LABELS)

    def with_cell(self, kind: RemedyKind, column: CaseResult | Literal["total"], value: int) -> Table4:
        index = len(CaseResult) if column == TOTAL else list(CaseResult).index(CaseResult(column))
        values = list(self.cells[kind])
        values[index] = value
        return Table4(MappingProxyType({**self.cells, kind: tuple(values)}))

    def checks(self) -> list[str]:
        problems: list[str] = []
        for kind in RemedyKind:
            values = self.cells[kind]
            bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 0]
            if bad:
                problems.append(f"{kind.label}：{bad!r} 不是非负整数")
                continue
            parts, total = values[: len(CaseResult)], values[len(CaseResult)]
            if sum(parts) != total:
                problems.append(f"{kind.label}：总计 {total} ≠ 维持、纠正、其他、尚未审结之和 {sum(parts)}")
        return problems


def build_table4(
    administrative_review: Mapping[CaseResult, int],
    direct_suit: Mapping[CaseResult, int],
    suit_after_review: Mapping[CaseResult, int],
) -> Table4:
    """Table 四 from counts per result; each 总计 is computed. A missing result counts 0."""
    cells: dict[RemedyKind, Values] = {}
    for kind, counts in zip(RemedyKind, (administrative_review, direct_suit, suit_after_review), strict=True):
        unknown = [k for k in counts if k not in set(CaseResult)]
        if unknown:
            raise StatisticsError(f"{kind.label}：未知的结果 {unknown!r}")
        parts = tuple(_count(counts.get(r, 0), f"{kind.label}·{r.label}") for r in CaseResult)
        cells[kind] = (*parts, sum(parts))
    return Table4(MappingProxyType(cells))
