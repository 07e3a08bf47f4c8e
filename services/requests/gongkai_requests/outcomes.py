"""Every outcome of a disclosure application (条例 art. 30, 35-39; 国办函〔2020〕109号), as rules.

The outcomes are exactly the leaf rows of table 三 of the annual report format (国办公开办函〔2021〕30号,
"三、收到和处理政府信息公开申请情况"): （一）予以公开; （二）部分公开; （三）不予公开 1-8; （四）无法提供 1-3;
（五）不予处理 1-5; （六）其他处理 1-3. That is 1 + 1 + 8 + 3 + 5 + 3 = **21** leaf rows, not 20: domain.md §3 says
"the 20 leaf rows" but lists 21, and the published 2021 format has three rows under （六）其他处理 (the 2019 format
had no 其他处理 sub-rows; the 2021 revision added 1 逾期不补正 and 2 逾期未缴费 beside 3 其他). ``len(Outcome) == 21``
is a test.

Each outcome carries what a reply notice (告知书) and the service need: the row's exact wording in the format, its
group, its report row, the articles it rests on, the decision sentence, the remedy path and what the decision
must record.

Remedies (条例 art. 51). Every decision tells the applicant how to challenge it: 行政复议 within 60 days
(行政复议法 art. 20) or 行政诉讼 within 6 months (行政诉讼法 art. 46). Since the revised 行政复议法 came into force
on 2024-01-01, its art. 23(1)(4) makes review compulsory first ("复议前置") where "申请政府信息公开，行政机关不予公开":
a notice that refuses disclosure, wholly (不予公开) or in part (部分公开: the withheld part is refused), must not
offer a direct suit; it offers 行政复议, and a suit only against the review decision (within 15 days of receiving
it, 行政诉讼法 art. 45). Telling the applicant to go to review first never costs them a remedy; offering a direct
suit where review is compulsory would mislead them. Every other outcome keeps the choice.

Two outcomes are not decisions on the merits: 其他处理 1 and 2 close an application whose correction window
(art. 30) or fee window (国办函〔2020〕109号) lapsed. Their ``precondition`` names the state they need, so the
service can refuse "an outcome that does not fit the state".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "LAW_TITLES",
    "OUTCOMES",
    "Outcome",
    "OutcomeGroup",
    "OutcomeRule",
    "Precondition",
    "RemedyPath",
    "Requirement",
    "cite",
    "outcome_rule",
    "outcomes_in_group",
]

#: Short names used in ``OutcomeRule.articles`` and their full titles, as a notice cites them.
LAW_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "条例": "《中华人民共和国政府信息公开条例》",
        "行政复议法": "《中华人民共和国行政复议法》",
        "行政诉讼法": "《中华人民共和国行政诉讼法》",
        "收费办法": "《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）",
    }
)


def cite(article: str) -> str:
    """``"条例第十四条"`` → ``"《中华人民共和国政府信息公开条例》第十四条"`` (the form a notice prints)."""
    for short, title in LAW_TITLES.items():
        if article.startswith(short):
            return title + article[len(short) :]
    return article


class OutcomeGroup(StrEnum):
    """The six groups of table 三, 三、本年度办理结果 （一）-（六）."""

    DISCLOSED = "disclosed"
    PARTIALLY_DISCLOSED = "partially_disclosed"
    WITHHELD = "withheld"
    UNAVAILABLE = "unavailable"
    NOT_PROCESSED = "not_processed"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _GROUP_LABELS[self]

    @property
    def ordinal(self) -> str:
        """The group's number in table 三: （一）…（六）."""
        return _GROUP_ORDINALS[self]


_GROUP_LABELS = {
    OutcomeGroup.DISCLOSED: "予以公开",
    OutcomeGroup.PARTIALLY_DISCLOSED: "部分公开",
    OutcomeGroup.WITHHELD: "不予公开",
    OutcomeGroup.UNAVAILABLE: "无法提供",
    OutcomeGroup.NOT_PROCESSED: "不予处理",
    OutcomeGroup.OTHER: "其他处理",
}
_GROUP_ORDINALS = dict(zip(OutcomeGroup, ("（一）", "（二）", "（三）", "（四）", "（五）", "（六）"), strict=True))


class Outcome(StrEnum):
    """One leaf row of table 三 (国办公开办函〔2021〕30号), in the format's order."""

    DISCLOSED = "disclosed"
    PARTIALLY_DISCLOSED = "partially_disclosed"
    WITHHELD_STATE_SECRET = "withheld_state_secret"
    WITHHELD_PROHIBITED_BY_LAW = "withheld_prohibited_by_law"
    WITHHELD_ENDANGERS_SECURITY = "withheld_endangers_security"
    WITHHELD_THIRD_PARTY_RIGHTS = "withheld_third_party_rights"
    WITHHELD_INTERNAL_AFFAIRS = "withheld_internal_affairs"
    WITHHELD_PROCESS_INFORMATION = "withheld_process_information"
    WITHHELD_ENFORCEMENT_CASE_FILE = "withheld_enforcement_case_file"
    WITHHELD_ADMINISTRATIVE_QUERY = "withheld_administrative_query"
    UNAVAILABLE_NOT_HELD = "unavailable_not_held"
    UNAVAILABLE_NEEDS_CREATION = "unavailable_needs_creation"
    UNAVAILABLE_STILL_UNCLEAR = "unavailable_still_unclear"
    NOT_PROCESSED_PETITION = "not_processed_petition"
    NOT_PROCESSED_REPEAT = "not_processed_repeat"
    NOT_PROCESSED_PUBLICATION = "not_processed_publication"
    NOT_PROCESSED_EXCESSIVE = "not_processed_excessive"
    NOT_PROCESSED_CONFIRMATION = "not_processed_confirmation"
    OTHER_CORRECTION_LAPSED = "other_correction_lapsed"
    OTHER_FEE_UNPAID = "other_fee_unpaid"
    OTHER = "other"


class RemedyPath(StrEnum):
    """Which remedy sentence a notice states (条例 art. 51)."""

    #: 行政复议 within 60 days (行政复议法 art. 20) or 行政诉讼 within 6 months (行政诉讼法 art. 46).
    REVIEW_OR_SUIT = "review_or_suit"
    #: 复议前置: 行政复议 first (行政复议法 art. 23(1)(4)); a suit only against the review decision
    #: (within 15 days of receiving it, 行政诉讼法 art. 45).
    REVIEW_FIRST = "review_first"


class Requirement(StrEnum):
    """Something a decision must (``requires``) or may (``may_record``) record, with its source."""

    ACCESS_ROUTE = "access_route"
    WITHHELD_PARTS = "withheld_parts"
    REFUSAL_REASON = "refusal_reason"
    THIRD_PARTY_OPINION = "third_party_opinion"
    HOLDING_AGENCY = "holding_agency"
    SPECIAL_PROCEDURE = "special_procedure"
    PROPER_CHANNEL = "proper_channel"
    PUBLICATION_ROUTE = "publication_route"
    PREVIOUS_REPLY = "previous_reply"
    CORRECTION_NOTICE = "correction_notice"
    FEE_NOTICE = "fee_notice"
    EXPLANATION = "explanation"

    @property
    def label(self) -> str:
        return _REQUIREMENT_LABELS[self]


_REQUIREMENT_LABELS = {
    Requirement.ACCESS_ROUTE: (
        "获取该政府信息的方式、途径（已主动公开的，写明公开的位置）（条例第三十六条第（一）（二）项）"
    ),
    Requirement.WITHHELD_PARTS: "不予公开的部分及每一部分的理由（条例第三十七条）",
    Requirement.REFUSAL_REASON: "不予公开的理由（条例第三十六条第（三）项）",
    Requirement.THIRD_PARTY_OPINION: "第三方的意见，或第三方逾期未提出意见（条例第三十二条）",
    Requirement.HOLDING_AGENCY: "负责公开该政府信息的行政机关名称、联系方式（条例第三十六条第（五）项）",
    Requirement.SPECIAL_PROCEDURE: "依照有关法律、行政法规办理的规定和途径（条例第三十六条第（七）项）",
    Requirement.PROPER_CHANNEL: "信访、投诉、举报等事项的相应渠道（条例第三十九条第一款）",
    Requirement.PUBLICATION_ROUTE: "公开出版物的获取途径（条例第三十九条第二款）",
    Requirement.PREVIOUS_REPLY: "此前就相同政府信息作出的答复（日期、文号）（条例第三十六条第（六）项）",
    Requirement.CORRECTION_NOTICE: "补正告知书（日期、需补正的事项、补正期限）（条例第三十条）",
    Requirement.FEE_NOTICE: "收费通知（日期、金额、缴费期限）（国办函〔2020〕109号）",
    Requirement.EXPLANATION: "处理情况的说明",
}


class Precondition(StrEnum):
    """The state an application must be in for an outcome to fit it."""

    #: A correction notice was sent and its period passed without a corrected application (条例 art. 30).
    CORRECTION_WINDOW_LAPSED = "correction_window_lapsed"
    #: A fee notice was received and 20 working days passed without payment (国办函〔2020〕109号).
    FEE_WINDOW_LAPSED = "fee_window_lapsed"
    #: A corrected application was received (无法提供3: "补正后申请内容仍不明确", 条例 art. 30).
    CORRECTION_RECEIVED = "correction_received"
    #: The agency asked the applicant for reasons and found them unreasonable (条例 art. 35).
    REASONS_REQUESTED = "reasons_requested"


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    """What the law says about one outcome."""

    outcome: Outcome
    #: The row's exact wording in table 三 of 国办公开办函〔2021〕30号.
    label: str
    group: OutcomeGroup
    #: (section, group label, index within the group or ``None`` for a group without sub-rows).
    report_row: tuple[str, str, int | None]
    #: Short citations, e.g. ``"条例第十四条"``; :func:`cite` gives the full title.
    articles: tuple[str, ...]
    #: The decision as a 告知书 states it, with ``{articles}`` filled by the cited articles.
    decision_text: str
    remedy: RemedyPath
    requires: frozenset[Requirement]
    may_record: frozenset[Requirement] = frozenset()
    #: False for 其他处理1/2: the application is closed without a decision on what was asked.
    on_merits: bool = True
    precondition: Precondition | None = None

    @property
    def cited_articles(self) -> str:
        """The articles as a notice prints them.

        E.g. ``《中华人民共和国政府信息公开条例》第十四条、第三十六条第（三）项``: the law's title once per run.
        """
        parts: list[str] = []
        previous_law = None
        for article in self.articles:
            law = next((short for short in LAW_TITLES if article.startswith(short)), None)
            if law is not None and law == previous_law:
                parts.append(article[len(law) :])
            else:
                parts.append(cite(article))
            previous_law = law
        return "、".join(parts)

    @property
    def decision(self) -> str:
        """``decision_text`` with its articles filled in."""
        return self.decision_text.format(articles=self.cited_articles)

    @property
    def report_label(self) -> str:
        """The row as the report prints it: ``（三）不予公开 1.属于国家秘密``."""
        _, group_label, index = self.report_row
        if index is None:
            return f"{self.group.ordinal}{group_label}"
        return f"{self.group.ordinal}{group_label} {index}.{self.label}"


_WITHHOLD = "经审查，您申请公开的政府信息{what}，根据{{articles}}的规定，本机关决定不予公开。"
_R = Requirement


def _rules() -> dict[Outcome, OutcomeRule]:
    o, g = Outcome, OutcomeGroup
    review_first = RemedyPath.REVIEW_FIRST
    either = RemedyPath.REVIEW_OR_SUIT
    withheld = frozenset({_R.REFUSAL_REASON})
    rules = [
        OutcomeRule(
            o.DISCLOSED,
            "予以公开",
            g.DISCLOSED,
            ("三", "予以公开", None),
            ("条例第三十六条第（一）项", "条例第三十六条第（二）项"),
            "经审查，您申请公开的政府信息属于公开范围，根据{articles}的规定，本机关决定予以公开。",
            either,
            frozenset({_R.ACCESS_ROUTE}),
        ),
        OutcomeRule(
            o.PARTIALLY_DISCLOSED,
            "部分公开（区分处理的，只计这一情形，不计其他情形）",
            g.PARTIALLY_DISCLOSED,
            ("三", "部分公开", None),
            ("条例第三十七条",),
            "经审查，您申请公开的政府信息中含有不应当公开的内容，但能够作区分处理，根据{articles}的规定，"
            "本机关向您提供可以公开的部分，对不予公开的部分说明理由。",
            review_first,
            frozenset({_R.ACCESS_ROUTE, _R.WITHHELD_PARTS}),
        ),
        OutcomeRule(
            o.WITHHELD_STATE_SECRET,
            "属于国家秘密",
            g.WITHHELD,
            ("三", "不予公开", 1),
            ("条例第十四条", "条例第三十六条第（三）项"),
            _WITHHOLD.format(what="属于国家秘密"),
            review_first,
            withheld,
        ),
        OutcomeRule(
            o.WITHHELD_PROHIBITED_BY_LAW,
            "其他法律行政法规禁止公开",
            g.WITHHELD,
            ("三", "不予公开", 2),
            ("条例第十四条", "条例第三十六条第（三）项"),
            _WITHHOLD.format(what="属于法律、行政法规禁止公开的政府信息"),
            review_first,
            withheld,
        ),
        OutcomeRule(
            o.WITHHELD_ENDANGERS_SECURITY,
            "危及“三安全一稳定”",
            g.WITHHELD,
            ("三", "不予公开", 3),
            ("条例第十四条", "条例第三十六条第（三）项"),
            _WITHHOLD.format(what="公开后可能危及国家安全、公共安全、经济安全、社会稳定"),
            review_first,
            withheld,
        ),
        OutcomeRule(
            o.WITHHELD_THIRD_PARTY_RIGHTS,
            "保护第三方合法权益",
            g.WITHHELD,
            ("三", "不予公开", 4),
            ("条例第十五条", "条例第三十二条", "条例第三十六条第（三）项"),
            _WITHHOLD.format(what="涉及商业秘密、个人隐私等公开会对第三方合法权益造成损害的内容，经书面征求第三方意见"),
            review_first,
            withheld | {_R.THIRD_PARTY_OPINION},
        ),
        OutcomeRule(
            o.WITHHELD_INTERNAL_AFFAIRS,
            "属于三类内部事务信息",
            g.WITHHELD,
            ("三", "不予公开", 5),
            ("条例第十六条第一款", "条例第三十六条第（三）项"),
            _WITHHOLD.format(what="属于人事管理、后勤管理、内部工作流程等内部事务信息"),
            review_first,
            withheld,
        ),
        OutcomeRule(
            o.WITHHELD_PROCESS_INFORMATION,
            "属于四类过程性信息",
            g.WITHHELD,
            ("三", "不予公开", 6),
            ("条例第十六条第二款", "条例第三十六条第（三）项"),
            _WITHHOLD.format(
                what="属于行政机关在履行行政管理职能过程中形成的讨论记录、过程稿、磋商信函、请示报告等过程性信息"
            ),
            review_first,
            withheld,
        ),
        OutcomeRule(
            o.WITHHELD_ENFORCEMENT_CASE_FILE,
            "属于行政执法案卷",
            g.WITHHELD,
            ("三", "不予公开", 7),
            ("条例第十六条第二款", "条例第三十六条第（三）项"),
            _WITHHOLD.format(what="属于行政执法案卷信息"),
            review_first,
            withheld,
        ),
        OutcomeRule(
            o.WITHHELD_ADMINISTRATIVE_QUERY,
            "属于行政查询事项",
            g.WITHHELD,
            ("三", "不予公开", 8),
            ("条例第三十六条第（七）项",),
            "经审查，您申请公开的信息属于工商、不动产登记资料等有关法律、行政法规对信息的获取有特别规定的信息，"
            "根据{articles}的规定，请您依照有关法律、行政法规的规定办理。",
            review_first,
            frozenset({_R.SPECIAL_PROCEDURE}),
        ),
        OutcomeRule(
            o.UNAVAILABLE_NOT_HELD,
            "本机关不掌握相关政府信息",
            g.UNAVAILABLE,
            ("三", "无法提供", 1),
            ("条例第三十六条第（四）项", "条例第三十六条第（五）项"),
            "经检索，本机关未制作或者获取您申请公开的政府信息，根据{articles}的规定，本机关无法提供。",
            either,
            frozenset({_R.EXPLANATION}),
            may_record=frozenset({_R.HOLDING_AGENCY}),
        ),
        OutcomeRule(
            o.UNAVAILABLE_NEEDS_CREATION,
            "没有现成信息需要另行制作",
            g.UNAVAILABLE,
            ("三", "无法提供", 2),
            ("条例第三十八条",),
            "经审查，本机关没有您所申请的现成信息，提供该信息需要对现有政府信息进行加工、分析或者另行制作，"
            "根据{articles}的规定，本机关无法提供。",
            either,
            frozenset({_R.EXPLANATION}),
        ),
        OutcomeRule(
            o.UNAVAILABLE_STILL_UNCLEAR,
            "补正后申请内容仍不明确",
            g.UNAVAILABLE,
            ("三", "无法提供", 3),
            ("条例第三十条",),
            "本机关已告知您对申请作出补正，补正后您的申请内容仍不明确，无法确定所需政府信息，"
            "根据{articles}的规定，本机关无法提供。",
            either,
            frozenset({_R.CORRECTION_NOTICE}),
            precondition=Precondition.CORRECTION_RECEIVED,
        ),
        OutcomeRule(
            o.NOT_PROCESSED_PETITION,
            "信访举报投诉类申请",
            g.NOT_PROCESSED,
            ("三", "不予处理", 1),
            ("条例第三十九条第一款",),
            "经审查，您以政府信息公开申请的形式进行信访、投诉、举报等活动，根据{articles}的规定，"
            "本机关不作为政府信息公开申请处理，请您通过相应渠道提出。",
            either,
            frozenset(),
            may_record=frozenset({_R.PROPER_CHANNEL}),
        ),
        OutcomeRule(
            o.NOT_PROCESSED_REPEAT,
            "重复申请",
            g.NOT_PROCESSED,
            ("三", "不予处理", 2),
            ("条例第三十六条第（六）项",),
            "本机关已就您提出的政府信息公开申请作出答复，您再次申请公开相同的政府信息，根据{articles}的规定，"
            "本机关不予重复处理。",
            either,
            frozenset({_R.PREVIOUS_REPLY}),
        ),
        OutcomeRule(
            o.NOT_PROCESSED_PUBLICATION,
            "要求提供公开出版物",
            g.NOT_PROCESSED,
            ("三", "不予处理", 3),
            ("条例第三十九条第二款",),
            "经审查，您申请的内容为要求提供政府公报、报刊、书籍等公开出版物，根据{articles}的规定，"
            "本机关不作为政府信息公开申请处理。",
            either,
            frozenset(),
            may_record=frozenset({_R.PUBLICATION_ROUTE}),
        ),
        OutcomeRule(
            o.NOT_PROCESSED_EXCESSIVE,
            "无正当理由大量反复申请",
            g.NOT_PROCESSED,
            ("三", "不予处理", 4),
            ("条例第三十五条",),
            "您申请公开政府信息的数量、频次明显超过合理范围，本机关已要求您说明理由，经审查理由不合理，"
            "根据{articles}的规定，本机关不予处理。",
            either,
            frozenset({_R.EXPLANATION}),
            precondition=Precondition.REASONS_REQUESTED,
        ),
        OutcomeRule(
            o.NOT_PROCESSED_CONFIRMATION,
            "要求行政机关确认或重新出具已获取信息",
            g.NOT_PROCESSED,
            ("三", "不予处理", 5),
            # No article of 条例 names this case. It is not a request for existing information (art. 2 defines
            # 政府信息 as information already made or obtained and recorded) and confirming or re-issuing is
            # making new information (art. 38). Marked for legal review in docs/decisions.md.
            ("条例第二条", "条例第三十八条"),
            "经审查，您的申请是要求本机关对您已获取的信息进行确认或者重新出具，不属于申请获取政府信息，"
            "根据{articles}的规定，本机关不作为政府信息公开申请处理。",
            either,
            frozenset(),
        ),
        OutcomeRule(
            o.OTHER_CORRECTION_LAPSED,
            "申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
            g.OTHER,
            ("三", "其他处理", 1),
            ("条例第三十条",),
            "本机关已一次性告知您作出补正，您无正当理由逾期未补正，视为放弃申请，根据{articles}的规定，"
            "本机关不再处理该政府信息公开申请。",
            either,
            frozenset({_R.CORRECTION_NOTICE}),
            on_merits=False,
            precondition=Precondition.CORRECTION_WINDOW_LAPSED,
        ),
        OutcomeRule(
            o.OTHER_FEE_UNPAID,
            "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
            g.OTHER,
            ("三", "其他处理", 2),
            ("条例第四十二条", "收费办法"),
            "本机关已向您发出收费通知，您逾期未按收费通知要求缴纳费用，视为放弃申请，根据{articles}的规定，"
            "本机关不再处理该政府信息公开申请。",
            either,
            frozenset({_R.FEE_NOTICE}),
            on_merits=False,
            precondition=Precondition.FEE_WINDOW_LAPSED,
        ),
        OutcomeRule(
            o.OTHER,
            "其他",
            g.OTHER,
            ("三", "其他处理", 3),
            ("条例第三十六条",),
            "根据{articles}的规定，本机关对您的政府信息公开申请作如下处理。",
            either,
            frozenset({_R.EXPLANATION}),
        ),
    ]
    return {rule.outcome: rule for rule in rules}


OUTCOMES: Mapping[Outcome, OutcomeRule] = MappingProxyType(_rules())


def outcome_rule(outcome: Outcome | str) -> OutcomeRule:
    """The rule of one outcome; a string must be one of :class:`Outcome`'s values (``ValueError`` otherwise)."""
    return OUTCOMES[Outcome(outcome)]


def outcomes_in_group(group: OutcomeGroup) -> tuple[Outcome, ...]:
    """The leaf rows of one group, in the format's order."""
    return tuple(o for o, rule in OUTCOMES.items() if rule.group is group)
