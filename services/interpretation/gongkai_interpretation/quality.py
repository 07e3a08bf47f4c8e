"""The quality check before publication: a score from 0 to 100 with its reasons (domain.md §4).

Four parts, each with its points and a reason a drafter can act on:

- content elements (40): which of 背景依据、目标任务、主要内容、适用范围、执行标准、注意事项、关键词注释、
  惠民利民举措 (and 新旧政策差异 when the policy supersedes another) the interpretation covers;
- its own words (35): the share of the interpretation copied verbatim from the policy, measured as
  the characters covered by runs of at least ``COPY_NGRAM`` characters that also occur in the policy
  (punctuation and spaces ignored). An interpretation that merely excerpts or compresses the
  document (文件要点摘抄、文件压缩) is forbidden; from ``COPY_FORBIDDEN`` on, the score is capped
  below any sensible publication threshold and the reason says why;
- non-text forms (15): 图解, 问答, 音视频 … present (evaluations count their share, domain.md §4);
- links (10): the interpretation names its policy (the catalog links back when it publishes it:
  双向关联).

Pure: no database. The service stores the result and enforces the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

__all__ = ["COPY_FORBIDDEN", "COPY_NGRAM", "ELEMENT_CUES", "QualityReport", "Reason", "check", "copied_share"]

#: Runs of this many characters (punctuation ignored) shared with the policy count as copied.
COPY_NGRAM = 10
#: Copied share at or below which the text counts as the drafter's own words (full points).
COPY_OK = 0.2
#: Copied share from which the interpretation is an excerpt of the document (forbidden).
COPY_FORBIDDEN = 0.5
#: The score a forbidden excerpt cannot exceed.
COPY_CAP = 30

#: What signals that an interpretation covers an element (its heading or its typical wording).
ELEMENT_CUES: dict[str, tuple[str, re.Pattern[str]]] = {
    "background": ("背景依据", re.compile(r"背景|依据|出台|制定.{0,6}(?:目的|原因)|为什么")),
    "goals": ("目标任务", re.compile(r"目标|任务|到20\d\d年|力争")),
    "main_content": ("主要内容", re.compile(r"主要内容|共[一二三四五六七八九十\d]+[章条部]|主要包括|明确了|规定了")),
    "scope": ("适用范围", re.compile(r"适用|范围|对象|哪些人")),
    "standards": ("执行标准", re.compile(r"标准|\d+(?:万)?元|\d+%|\d+个?工作日|时限|期限")),
    "cautions": ("注意事项", re.compile(r"注意|不得|禁止|提醒|应当")),
    "terms": ("关键词注释", re.compile(r"是指|指的是|含义|名词解释|关键词|注释|【[^】]+】：")),
    "benefits": ("惠民利民举措", re.compile(r"补贴|补助|减免|优惠|奖励|免费|惠民|利民|救助金|扶持")),
    "changes": ("新旧政策差异", re.compile(r"新旧|变化|调整为|修订|原政策|原办法|新增|删除|提高|降低")),
}

NON_TEXT_FORMS = frozenset({"graphic", "qa", "video", "animation", "case", "expert", "interview", "press_conference"})

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Reason:
    code: str
    title: str
    points: int
    max_points: int
    detail: str


@dataclass
class QualityReport:
    score: int
    passed: bool
    min_score: int
    copied_share: float
    elements_covered: list[str]
    elements_missing: list[str]
    reasons: list[Reason] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _letters(text: str) -> str:
    return _NOT_WORD.sub("", text)


def copied_share(text: str, policy: str, *, n: int = COPY_NGRAM) -> float:
    """Share of ``text`` (letters and digits) inside runs of ``n``+ characters that occur in ``policy``."""
    t, p = _letters(text), _letters(policy)
    if len(t) < n or len(p) < n:
        return 0.0
    grams = {p[i : i + n] for i in range(len(p) - n + 1)}
    covered = 0
    reach = 0  # first position not yet counted
    for i in range(len(t) - n + 1):
        if t[i : i + n] in grams:
            end = i + n
            covered += end - max(i, reach)
            reach = end
    return covered / len(t)


def check(
    *,
    text: str,
    qa_pairs: Sequence[dict] = (),
    forms: Iterable[str] = (),
    policy_body: str | None,
    policy_linked: bool,
    supersedes: bool = False,
    min_score: int = 60,
) -> QualityReport:
    """Score an interpretation (its text and its Q&A answers) against its policy."""
    full = "\n".join([text, *(f"{q.get('question', '')}\n{q.get('answer', '')}" for q in qa_pairs)]).strip()
    reasons: list[Reason] = []
    if not full:
        reasons.append(Reason("empty", "没有解读内容", 0, 100, "解读正文和问答均为空，不能发布"))
        return QualityReport(0, False, min_score, 0.0, [], [k for k in ELEMENT_CUES], reasons)

    wanted = [k for k in ELEMENT_CUES if k != "changes" or supersedes]
    covered = [k for k in wanted if ELEMENT_CUES[k][1].search(full)]
    missing = [k for k in wanted if k not in covered]
    element_points = round(40 * len(covered) / len(wanted))
    reasons.append(
        Reason(
            "elements",
            "解读要素",
            element_points,
            40,
            f"覆盖{len(covered)}/{len(wanted)}项要素"
            + (f"；缺少：{'、'.join(ELEMENT_CUES[k][0] for k in missing)}" if missing else ""),
        )
    )

    share = copied_share(full, policy_body) if policy_body else 0.0
    if share <= COPY_OK:
        copy_points = 35
    elif share >= COPY_FORBIDDEN:
        copy_points = 0
    else:
        copy_points = round(35 * (COPY_FORBIDDEN - share) / (COPY_FORBIDDEN - COPY_OK))
    if policy_body is None:
        detail = "尚无政策原文，无法比对照抄比例"
    elif share >= COPY_FORBIDDEN:
        detail = f"{share:.0%}的内容照抄政策原文：解读不得是文件要点摘抄或文件压缩，应以通俗语言解释政策"
    else:
        detail = f"照抄政策原文的比例为{share:.0%}（{COPY_OK:.0%}以内为佳）"
    reasons.append(Reason("copied", "原创表述（非文件摘抄）", copy_points, 35, detail))

    forms = set(forms)
    non_text = sorted(forms & NON_TEXT_FORMS)
    has_qa = bool(qa_pairs) or "qa" in forms
    form_points = 15 if non_text else (8 if has_qa else 0)
    reasons.append(
        Reason(
            "forms",
            "多样化解读形式",
            form_points,
            15,
            f"已有非文字形式：{'、'.join(non_text)}"
            if non_text
            else (
                "只有文字和问答，建议增加图解、音视频等形式"
                if has_qa
                else "只有文字解读，建议增加图解、问答、音视频等形式"
            ),
        )
    )

    link_points = 10 if policy_linked else 0
    reasons.append(
        Reason(
            "linked",
            "政策与解读双向关联",
            link_points,
            10,
            "已关联政策文件，发布后目录将在政策页面链接本解读"
            if policy_linked
            else "尚未关联政策文件（政策发布后按文号或文件标识自动关联）",
        )
    )

    score = element_points + copy_points + form_points + link_points
    if share >= COPY_FORBIDDEN:
        score = min(score, COPY_CAP)
    return QualityReport(
        score=score,
        passed=score >= min_score,
        min_score=min_score,
        copied_share=round(share, 4),
        elements_covered=covered,
        elements_missing=missing,
        reasons=reasons,
    )
