"""A draft interpretation written from the policy's own text: deterministic, no network.

domain.md §4 lists what an interpretation should cover: 背景依据、目标任务、主要内容、适用范围、
执行标准、注意事项、关键词注释、惠民利民举措、新旧政策差异. This module reads a policy (split into
sentences, with its structure: 第一章…, 第一条…, and outline headings 一、（一）1.) and proposes a
structured draft for each of those elements plus 3-6 questions and answers (简明问答). Every draft
sentence carries the ids and character offsets of the policy sentences it came from, so a drafter
sees where each statement stands in the document and a reviewer can check it.

The draft is a starting point, not the interpretation: it restates and condenses, and an
interpretation that merely excerpts or compresses the document is forbidden (文件要点摘抄、文件压缩,
domain.md §4); the quality check (quality.py) measures how much of the final text is copied.

Cost: one pass of precompiled regular expressions over the sentences; linear in the length of the
policy (bench/interpretation.py measures it beside rjieba segmentation of the same text). What a short
policy costs is mostly fixed work per sentence and per draft entry, kept small: the chapter and article
headings are found once for both the sentences and the structure (by patterns that start with a literal
"\n", which the regex engine finds fast, instead of "^" tried at every position), figures are tried only
where a run of numerals can start one, a sentence's body and clauses are split once however many elements
use them, no pattern is compiled per call, and the named tuples are built with ``tuple.__new__``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from gongkai_interpretation.diff import PolicyDiff

__all__ = [
    "ELEMENTS",
    "Draft",
    "DraftSentence",
    "Figure",
    "Heading",
    "QAPair",
    "Sentence",
    "cn_number",
    "find_figures",
    "make_draft",
    "split_sentences",
    "structure",
]

#: The content elements of an interpretation (domain.md §4), in the order a draft presents them.
ELEMENTS: tuple[tuple[str, str], ...] = (
    ("background", "背景依据"),
    ("goals", "目标任务"),
    ("main_content", "主要内容"),
    ("scope", "适用范围"),
    ("standards", "执行标准"),
    ("cautions", "注意事项"),
    ("terms", "关键词注释"),
    ("benefits", "惠民利民举措"),
    ("changes", "新旧政策差异"),
)
ELEMENT_LABELS = dict(ELEMENTS)

#: At most this many entries per element: a 50,000-character regulation has hundreds of 应当 clauses,
#: and a draft that lists them all is the compressed document the rules forbid.
MAX_PER_ELEMENT = 8

_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_VALUES = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN = "零〇一二两三四五六七八九十百千"

CHAPTER_RE = re.compile(rf"^[ \t\u3000]*(第[{_CN}\d]+[章节])[ \t\u3000]*([^\n]*)$", re.M)
ARTICLE_RE = re.compile(rf"^[ \t\u3000]*(第[{_CN}\d]+条)[ \t\u3000]*", re.M)
OUTLINE_RE = re.compile(rf"^[ \t\u3000]*([{_CN}]+、|（[{_CN}]+）|\([{_CN}]+\)|\d+[\.．、](?!\d))[ \t\u3000]*", re.M)
# The same three, run over "\n" + text: a pattern that starts with a literal "\n" is searched for that
# character (fast) instead of being tried at every position as "^" is; offsets are then one more.
_CHAPTER_AT_LINE = re.compile("\n" + CHAPTER_RE.pattern[1:], re.M)
_ARTICLE_AT_LINE = re.compile("\n" + ARTICLE_RE.pattern[1:])
_OUTLINE_AT_LINE = re.compile("\n" + OUTLINE_RE.pattern[1:])
# A sentence ends at 。！？；, or at the end of a line (headings, titles, list items without a full stop);
# leading blanks are not part of it.
_SENTENCE_RE = re.compile(r"[^。！？；!?;\n \t\u3000\r][^。！？；!?;\n]*[。！？；!?;]*")
_CLAUSE_SPLIT = re.compile(r"[，,：:]")

_NUM = r"\d+(?:[.,]\d+)*"
_CNNUM = "[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万]*"
_FIGURE_RE = re.compile(
    rf"(?P<date>\d{{4}}年\d{{1,2}}月(?:\d{{1,2}}日)?|\d{{4}}年(?!\d|度?以?[内来]))"
    rf"|(?P<amount>(?:{_NUM}|{_CNNUM})(?:万|亿|千)?元)"
    rf"|(?P<percent>{_NUM}%|{_NUM}％|百分之{_CNNUM})"
    rf"|(?P<duration>(?:{_NUM}|{_CNNUM})个?(?:工作日|自然日|日|天|个月|周|小时|年))"
    rf"|(?P<count>(?:{_NUM}|{_CNNUM})(?:倍|人次|人|户|家|个|项|次|名|平方米|亩|岁|公里|吨|套|辆)(?!性))"
)
FIGURE_KINDS = {
    "date": "日期",
    "amount": "金额",
    "percent": "比例",
    "duration": "期限",
    "count": "数量",
}

_PURPOSE_RE = re.compile(r"(?:^|[，,])为了?([^，,。；]{4,})")
_BASIS_RE = re.compile(r"《[^》]{2,60}》")
_BASIS_WORD_RE = re.compile(r"根据|依据|按照|依照")
_GOAL_RE = re.compile(r"目标|任务|到20\d\d年|力争|确保")
_SCOPE_RE = re.compile(r"适用于|适用范围|适用对象|不适用")
_TERM_RE = re.compile(
    r"(?:(?:本办法|本规定|本细则|本条例|本通知|本意见|本方案|本制度|本规则)?所称)?([^，,。；：:“”（）()]{2,16}?)[，,]?是指([^。；]+)"
)
_CAUTION_RE = re.compile(r"不得|禁止|严禁|应当|必须|须")
_BENEFIT_RE = re.compile(r"补贴|补助|减免|优惠|奖励|免费|救助金|扶持|资助|奖补|减征|免征")
_STANDARD_HINT_RE = re.compile(r"标准|不超过|不低于|以内|以上|以下|最高|最低|期限|时限")
_APPLIES_TO_RE = re.compile(r"适用于(.+)")
_TERM_PREFIX_RE = re.compile(r"^.*?所称")
_TITLE_END_RE = re.compile(r"[。；]")


def cn_number(label: str) -> int | None:
    """The number in 第十九条, 第二章, 二十三、 or 12.: 19, 2, 23, 12 (None when there is none)."""
    digits = re.sub(r"\D", "", label)
    if digits:
        return int(digits)
    chars = [c for c in label if c in _CN_VALUES or c in _CN_UNITS]
    if not chars:
        return None
    total, current = 0, 0
    for c in chars:
        if c in _CN_VALUES:
            current = _CN_VALUES[c]
        else:
            total += (current or 1) * _CN_UNITS[c]
            current = 0
    return total + current


class Sentence(NamedTuple):
    """One sentence of the policy: its id (0-based, in order), offsets and the article holding it."""

    id: int
    start: int
    end: int
    text: str
    article: str | None = None
    chapter: str | None = None


class Heading(NamedTuple):
    """A structural heading: 章/节 (level 1), 条 (level 2), outline 一、(3) （一）(4) 1.(5)."""

    level: int
    label: str
    title: str
    start: int
    sentence_id: int | None


class Figure(NamedTuple):
    """A figure in the policy (amount, percentage, date, period, count), with its offsets."""

    text: str
    kind: str
    start: int
    end: int

    @property
    def kind_label(self) -> str:
        return FIGURE_KINDS[self.kind]


class DraftSentence(NamedTuple):
    """A sentence of the draft and the policy sentences it was written from."""

    text: str
    sources: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    figures: tuple[Figure, ...] = ()


class QAPair(NamedTuple):
    question: str
    answer: str
    sources: tuple[int, ...]


@dataclass
class Draft:
    title: str
    sentences: list[Sentence]
    headings: list[Heading]
    elements: dict[str, list[DraftSentence]]
    omitted: dict[str, int]
    qa: list[QAPair] = field(default_factory=list)

    @property
    def covered(self) -> list[str]:
        return [key for key, _ in ELEMENTS if self.elements.get(key)]

    def text(self) -> str:
        """The draft as plain text, one section per content element; figures marked 【…】."""
        numerals = "一二三四五六七八九十"
        lines = [f"《{self.title}》政策解读（草稿）" if self.title else "政策解读（草稿）", ""]
        n = 0
        for key, label in ELEMENTS:
            entries = self.elements.get(key) or []
            if not entries:
                continue
            lines.append(f"{numerals[n]}、{label}")
            n += 1
            lines.extend(highlight(e.text, e.figures) for e in entries)
            lines.append("")
        if self.qa:
            lines.append(f"{numerals[n]}、简明问答")
            for i, pair in enumerate(self.qa, 1):
                lines.append(f"问{i}：{pair.question}")
                lines.append(f"答：{pair.answer}")
        return "\n".join(lines).strip() + "\n"

    def as_dict(self) -> dict:
        def entry(e: DraftSentence) -> dict:
            return {
                "text": e.text,
                "highlighted": highlight(e.text, e.figures),
                "sources": list(e.sources),
                "spans": [list(s) for s in e.spans],
                "figures": [{"text": f.text, "kind": f.kind, "kind_label": f.kind_label} for f in e.figures],
            }

        return {
            "title": self.title,
            "elements": [
                {
                    "key": key,
                    "label": label,
                    "sentences": [entry(e) for e in self.elements.get(key) or []],
                    "omitted": self.omitted.get(key, 0),
                }
                for key, label in ELEMENTS
            ],
            "covered": self.covered,
            "qa": [{"question": q.question, "answer": q.answer, "sources": list(q.sources)} for q in self.qa],
            "policy_sentences": len(self.sentences),
            "headings": [
                {"level": h.level, "label": h.label, "title": h.title, "sentence_id": h.sentence_id}
                for h in self.headings
                if h.level != 2
            ],
            "text": self.text(),
        }


#: ``tuple.__new__(Sentence, (…))`` builds a named tuple without the Python-level ``__new__`` of
#: ``typing.NamedTuple`` (its keyword handling costs more than the tuple; every field is given).
_new = tuple.__new__


def highlight(text: str, figures: Iterable[Figure]) -> str:
    """``text`` with each figure marked 【…】 (the figures a reader must not miss)."""
    out = text
    for fig in sorted({f.text for f in figures}, key=len, reverse=True):
        out = re.sub(rf"(?<!【){re.escape(fig)}(?!】)", f"【{fig}】", out)
    return out


# Where a figure can start: a run of digits or Chinese numerals. Scanning for these runs and trying the
# figure pattern only there is ~10× faster than letting the pattern's alternation try every position.
# A run of Chinese numerals alone can only start a figure when the character after it can continue one
# (元, 亿元, 百分之, 个月, 工作日, 人次 …: the first characters after the numerals in ``_FIGURE_RE``), so only
# those runs, and every run holding a digit, are tried (the others are the 第X条/第X章 labels, 一次性 …).
_NUMERALS = "零〇一二两三四五六七八九十百千万"
_FIGURE_NEXT = "元亿分个工自日天周小年倍人户家项次名平亩岁公吨套辆"
# One character class first, so that the scan skips every other character quickly.
_NUMERAL_RUN = re.compile(
    rf"[\d{_NUMERALS}](?:(?<=\d)[\d{_NUMERALS}]*|[{_NUMERALS}]*\d[\d{_NUMERALS}]*|[{_NUMERALS}]*(?=[{_FIGURE_NEXT}]))"
)
_DIGIT = re.compile(r"\d")


def _figures(text: str, offset: int = 0) -> list[Figure]:
    """Each figure of ``text``, in order (offsets plus ``offset``)."""
    out: list[Figure] = []
    reach = 0
    match = _FIGURE_RE.match
    for run in _NUMERAL_RUN.finditer(text):
        at = run.start()
        if at < reach:
            continue
        m = match(text, at)
        if m is None:
            found = run.group()
            if found[0].isdigit() or (digit := _DIGIT.search(found)) is None:
                continue
            m = match(text, at + digit.start())
            if m is None:
                continue
        start, reach = m.span()
        out.append(_new(Figure, (m.group(), m.lastgroup or "count", start + offset, reach + offset)))
    return out


def find_figures(text: str, offset: int = 0) -> list[Figure]:
    """Amounts (元/万元), percentages, dates, periods (days, months, years) and counts in ``text``."""
    return _figures(text, offset)


class _Marks(NamedTuple):
    """The chapter and article headings of a text, found once for both sentences and structure:
    chapters as (offset of 第, 第X章, rest of the line), articles as (offset of 第, 第X条)."""

    chapters: list[tuple[int, str, str]]
    articles: list[tuple[int, str]]


def _marks(text: str) -> _Marks:
    lined = "\n" + text
    return _Marks(
        [(m.start(1) - 1, m.group(1), m.group(2)) for m in _CHAPTER_AT_LINE.finditer(lined)],
        [(m.start(1) - 1, m.group(1)) for m in _ARTICLE_AT_LINE.finditer(lined)],
    )


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with offsets in ``text``; each knows the article (第X条) and chapter it sits in."""
    return _split_sentences(text, _marks(text))


def _split_sentences(text: str, marks: _Marks) -> list[Sentence]:
    articles = marks.articles
    chapters = []
    for pos, label, rest in marks.chapters:
        name = rest.strip()
        chapters.append((pos, label + ("　" + name if name else "")))
    out: list[Sentence] = []
    ai = ci = 0
    article: str | None = None
    chapter: str | None = None
    n_articles, n_chapters = len(articles), len(chapters)
    for m in _SENTENCE_RE.finditer(text):
        start, end = m.span()
        stripped = m.group()
        if stripped[-1] in " \t\u3000\r":
            stripped = stripped.rstrip(" \t\u3000\r")
            end = start + len(stripped)
        while ai < n_articles and articles[ai][0] <= start:
            article = articles[ai][1]
            ai += 1
        while ci < n_chapters and chapters[ci][0] <= start:
            chapter = chapters[ci][1]
            article = None if (ai == 0 or articles[ai - 1][0] < chapters[ci][0]) else article
            ci += 1
        out.append(_new(Sentence, (len(out), start, end, stripped, article, chapter)))
    return out


def structure(text: str, sentences: Sequence[Sentence] | None = None) -> list[Heading]:
    """The headings of the document, in order: chapters and sections, articles, outline headings."""
    marks = _marks(text)
    return _structure(text, sentences if sentences is not None else _split_sentences(text, marks), marks)


def _structure(text: str, sentences: Sequence[Sentence], marks: _Marks) -> list[Heading]:
    starts = [s.start for s in sentences]
    # The sentence holding offset ``pos``: sentences[bisect_right(starts, pos) - 1].
    found: list[Heading] = []
    for pos, label, rest in marks.chapters:
        at = bisect_right(starts, pos)
        found.append(_new(Heading, (1, label, rest.strip(), pos, sentences[at - 1].id if at else None)))
    for pos, label in marks.articles:
        at = bisect_right(starts, pos)
        if at:
            holder = sentences[at - 1]
            title = holder.text[len(label) :].strip(" \u3000")[:40]
            found.append(_new(Heading, (2, label, title, pos, holder.id)))
        else:
            found.append(_new(Heading, (2, label, "", pos, None)))
    for m in _OUTLINE_AT_LINE.finditer("\n" + text):
        label = m.group(1)
        level = 3 if label.endswith("、") and not label[0].isdigit() else 4 if label[0] in "（(" else 5
        pos, after = m.start(1) - 1, m.end() - 1
        at = bisect_right(starts, pos)
        line_end = text.find("\n", after)
        line = text[after : line_end if line_end != -1 else len(text)]
        title = _TITLE_END_RE.split(line, maxsplit=1)[0].strip()[:40]
        found.append(_new(Heading, (level, label, title, pos, sentences[at - 1].id if at else None)))
    found.sort(key=_start)
    return found


def _start(h: Heading) -> int:
    return h.start


def _body(s: Sentence) -> str:
    """The sentence without its article label and final punctuation."""
    text = s.text
    if s.article and text.startswith(s.article):
        text = text[len(s.article) :]
    return text.strip(" \u3000").rstrip("。；;！!？?")


def _clauses(text: str) -> list[str]:
    return [c for part in _CLAUSE_SPLIT.split(text) if (c := part.strip())]


def _pick(parts: Sequence[str], test: Callable[[str], object], following: int = 0) -> str:
    """The clauses ``parts`` of a sentence that pass ``test`` (and up to ``following`` clauses after each),
    in order, each once, joined with "，"."""
    if not following:
        return "，".join([part for part in parts if test(part)])
    hits = [i for i, part in enumerate(parts) if test(part)]
    if not hits:
        return ""
    if len(hits) == 1:
        return "，".join(parts[hits[0] : hits[0] + following + 1])
    chosen: list[str] = []
    upto = 0  # the ranges [i, i + following] of the hits, merged
    for i in hits:
        end = i + following + 1
        chosen.extend(parts[max(i, upto) : end])
        upto = max(upto, end)
    return "，".join(chosen)


class _Collector:
    def __init__(self) -> None:
        self.elements: dict[str, list[DraftSentence]] = {key: [] for key, _ in ELEMENTS}
        self.omitted: dict[str, int] = {}

    def full(self, key: str) -> bool:
        return len(self.elements[key]) >= MAX_PER_ELEMENT

    def skip(self, key: str) -> None:
        """One more sentence for ``key`` that the draft leaves out (the element is full)."""
        self.omitted[key] = self.omitted.get(key, 0) + 1

    def add(self, key: str, text: str, sentences: Sequence[Sentence], figures: Sequence[Figure] = ()) -> None:
        if self.full(key):
            self.skip(key)
            return
        self.elements[key].append(
            DraftSentence(
                text=text,
                sources=tuple(s.id for s in sentences),
                spans=tuple((s.start, s.end) for s in sentences),
                figures=tuple(figures),
            )
        )


def _preamble(sentences: Sequence[Sentence], headings: Sequence[Heading]) -> list[Sentence]:
    """The opening: the first article, or what comes before the first article or outline heading."""
    first_article = next((s.article for s in sentences if s.article), None)
    if first_article is not None:
        opening = [s for s in sentences if s.article == first_article]
        before = [s for s in sentences if s.article is None and s.id < opening[0].id]
        return before[1:] + opening  # the first line is the title
    first_outline = next((h.sentence_id for h in headings if h.level >= 3 and h.sentence_id is not None), None)
    limit = first_outline if first_outline is not None else min(len(sentences), 4)
    return list(sentences[1:limit]) if limit > 1 else list(sentences[:limit])


def make_draft(
    title: str, body: str, *, differences: PolicyDiff | Sequence[tuple[str, Sequence[int]]] | None = None
) -> Draft:
    """The structured draft of the interpretation of the policy ``title`` with text ``body``.

    ``differences``: the clause differences from the superseded policy (diff.py), or their summary
    lines as stored, each with the ids of the new policy's sentences it concerns.
    """
    marks = _marks(body)
    sentences = _split_sentences(body, marks)
    headings = _structure(body, sentences, marks)
    out = _Collector()
    title = title.strip() or (sentences[0].text if sentences else "")

    # 背景依据: the preamble's 为了… (purpose) and 根据《…》 (basis).
    preamble = _preamble(sentences, headings)
    for s in preamble:
        purpose = _PURPOSE_RE.search(_body(s))
        bases = _BASIS_RE.findall(s.text) if _BASIS_WORD_RE.search(s.text) else []
        if purpose:
            out.add("background", f"出台目的：{purpose.group(1).strip()}。", [s])
        if bases:
            out.add("background", f"制定依据：{'、'.join(dict.fromkeys(bases))}等规定。", [s])

    scope_done: set[int] = set()
    term_names: list[tuple[str, Sentence]] = []
    # Figures in one pass over the whole text, handed to the sentences that hold them.
    all_figures = _figures(body)
    figure_starts = [f.start for f in all_figures]
    fi = 0
    # One pass over the sentences; each element's list is appended to directly (at most MAX_PER_ELEMENT, the
    # rest counted as omitted), and a sentence's body and clauses are computed once, when first needed.
    elements = out.elements
    goals, scope, terms = elements["goals"], elements["scope"], elements["terms"]
    standards, cautions, benefits = elements["standards"], elements["cautions"], elements["benefits"]
    skipped = dict.fromkeys(("goals", "scope", "terms", "standards", "cautions", "benefits"), 0)
    most = MAX_PER_ELEMENT
    goal_search, scope_search, caution_search = _GOAL_RE.search, _SCOPE_RE.search, _CAUTION_RE.search
    benefit_search, hint_search = _BENEFIT_RE.search, _STANDARD_HINT_RE.search
    for s in sentences:
        if (s.article is None and s.id == 0) or (s.chapter is not None and s.text == s.chapter):
            continue  # the title, a chapter heading
        text = s.text
        fi = bisect_left(figure_starts, s.start, fi)
        fj = bisect_left(figure_starts, s.end, fi)
        figures = all_figures[fi:fj]
        source, span = (s.id,), ((s.start, s.end),)
        where = f"（{s.article}）" if s.article else ""
        body_s: str | None = None  # _body(s), on first use
        parts: list[str] | None = None  # its clauses, on first use
        # 目标任务
        if goal_search(text):
            if len(goals) >= most:
                skipped["goals"] += 1
            else:
                body_s = _body(s)
                parts = _clauses(body_s)
                if clause := _pick(parts, goal_search, 2):
                    found = tuple([f for f in figures if f.text in clause]) if figures else ()
                    goals.append(_new(DraftSentence, (f"{where}{clause}。", source, span, found)))
        # 适用范围
        if scope_search(text):
            if len(scope) >= most:
                skipped["scope"] += 1
            else:
                if body_s is None:
                    body_s = _body(s)
                m = _APPLIES_TO_RE.search(body_s)
                if m:
                    line = f"适用范围：{m.group(1)}。"
                else:
                    if parts is None:
                        parts = _clauses(body_s)
                    line = f"{where}{_pick(parts, scope_search, 1)}。"
                scope.append(_new(DraftSentence, (line, source, span, ())))
                scope_done.add(s.id)
        # 关键词注释 (本办法所称…是指…)
        if "是指" in text:
            if len(terms) >= most:
                skipped["terms"] += 1
            else:
                if body_s is None:
                    body_s = _body(s)
                if term := _TERM_RE.search(body_s):
                    name = _TERM_PREFIX_RE.sub("", term.group(1)).strip("“”\"' ")
                    meaning = term.group(2).strip().rstrip("。")
                    terms.append(_new(DraftSentence, (f"【{name}】：指{meaning}。", source, span, ())))
                    term_names.append((name, s))
                    if "所称" in text and s.id not in scope_done and len(scope) < most:
                        scope.append(_new(DraftSentence, (f"所称“{name}”的范围：{meaning}。", source, span, ())))
        # 执行标准: sentences with figures (the effective date included)
        if figures:
            if len(standards) >= most:
                skipped["standards"] += 1
            else:
                if parts is None:
                    parts = _clauses(body_s if body_s is not None else _body(s))
                # The clauses holding one of the figures (as text).
                if len(figures) == 1:
                    only = figures[0].text
                    chosen = [part for part in parts if only in part]
                else:
                    texts = [f.text for f in figures]
                    chosen = [part for part in parts if any([t in part for t in texts])]
                label = "、".join(dict.fromkeys([f.kind_label for f in figures]))
                line = f"{where}{label}：{'，'.join(chosen)}。"
                standards.append(_new(DraftSentence, (line, source, span, tuple(figures))))
        elif "标准" in text and hint_search(text):
            if len(standards) >= most:
                skipped["standards"] += 1
            else:
                if parts is None:
                    parts = _clauses(body_s if body_s is not None else _body(s))
                standards.append(_new(DraftSentence, (f"{where}{_pick(parts, hint_search)}。", source, span, ())))
        # 注意事项
        if caution_search(text):
            if len(cautions) >= most:
                skipped["cautions"] += 1
            else:
                if parts is None:
                    parts = _clauses(body_s if body_s is not None else _body(s))
                if clause := _pick(parts, caution_search, 1):
                    found = tuple([f for f in figures if f.text in clause]) if figures else ()
                    cautions.append(_new(DraftSentence, (f"{where}需要注意：{clause}。", source, span, found)))
        # 惠民利民举措
        if benefit_search(text):
            if len(benefits) >= most:
                skipped["benefits"] += 1
            else:
                if parts is None:
                    parts = _clauses(body_s if body_s is not None else _body(s))
                if clause := _pick(parts, benefit_search, 1):
                    found = tuple([f for f in figures if f.text in clause]) if figures else ()
                    benefits.append(_new(DraftSentence, (f"{where}{clause}。", source, span, found)))
    for key, n in skipped.items():
        if n:
            out.omitted[key] = out.omitted.get(key, 0) + n

    # 主要内容: from the structure (chapters, outline headings), else the articles.
    chapters = [h for h in headings if h.level == 1]
    articles = [h for h in headings if h.level == 2]
    outline = [h for h in headings if h.level == 3]
    by_id = {s.id: s for s in sentences}
    if chapters:
        names = "、".join(h.title or h.label for h in chapters)
        srcs = [by_id[h.sentence_id] for h in chapters if h.sentence_id is not None]
        out.add("main_content", f"共{len(chapters)}章{len(articles)}条，分为{names}等部分。", srcs)
        # The articles of each chapter by bisection (a scan of every article per chapter was quadratic
        # in the length of long regulations: measured in bench/interpretation.py); headings are in order.
        article_starts = [a.start for a in articles]
        for i, h in enumerate(chapters):
            end = chapters[i + 1].start if i + 1 < len(chapters) else len(body) + 1
            inside = articles[bisect_right(article_starts, h.start) : bisect_left(article_starts, end)]
            if not inside or h.sentence_id is None:
                continue
            span = inside[0].label if len(inside) == 1 else f"{inside[0].label}至{inside[-1].label}"
            topics = "；".join(_topic(a) for a in inside[:4])
            out.add("main_content", f"{h.label}“{h.title}”（{span}）：{topics}。", [by_id[h.sentence_id]])
    elif outline:
        srcs = [by_id[h.sentence_id] for h in outline if h.sentence_id is not None]
        names = "；".join(h.title for h in outline)
        out.add("main_content", f"共{len(outline)}个部分：{names}。", srcs)
    elif articles:
        for a in articles:
            if a.sentence_id is not None:
                out.add("main_content", f"{a.label}：{_topic(a)}。", [by_id[a.sentence_id]])

    # 新旧政策差异
    if differences is not None:
        lines: Sequence[tuple[str, Sequence[int]]] = (
            differences
            if isinstance(differences, Sequence)
            else [(line, new_ids) for line, _, new_ids in differences.summary_lines()]
        )
        for line, new_ids in lines:
            out.add("changes", line, [by_id[i] for i in new_ids if i in by_id])

    draft = Draft(title=title, sentences=sentences, headings=headings, elements=out.elements, omitted=out.omitted)
    draft.qa = _questions(draft, term_names)
    return draft


def _topic(article: Heading) -> str:
    """A short topic for an article: its first clause, at most 24 characters (its label when it has none,
    e.g. a line "第三条：" alone)."""
    first = _CLAUSE_SPLIT.split(article.title, maxsplit=1)[0].strip() if article.title else ""
    if not first:
        clauses = _clauses(article.title) if article.title else []
        first = clauses[0] if clauses else article.label
    return first if len(first) <= 24 else first[:24] + "……"


def _answer(entries: Sequence[DraftSentence], limit: int = 3) -> tuple[str, tuple[int, ...]]:
    chosen = entries[:limit]
    text = "".join(e.text for e in chosen)
    sources = tuple(dict.fromkeys(i for e in chosen for i in e.sources))
    return text, sources


def _questions(draft: Draft, terms: Sequence[tuple[str, Sentence]]) -> list[QAPair]:
    """3-6 questions a reader asks, answered from the elements; each answer keeps its sources."""
    e = draft.elements
    name = f"《{draft.title}》" if draft.title else "本政策"
    qa: list[QAPair] = []

    def ask(question: str, entries: Sequence[DraftSentence], limit: int = 3) -> None:
        if entries and len(qa) < 6:
            answer, sources = _answer(entries, limit)
            qa.append(QAPair(question, answer, sources))

    ask(f"为什么出台{name}？", e["background"])
    ask(f"{name}适用于哪些对象和情形？", e["scope"], 2)
    if terms:
        term, _ = terms[0]
        ask(f"什么是“{term}”？", [d for d in e["terms"] if d.text.startswith(f"【{term}】")], 1)
    ask(f"{name}有哪些惠民利民举措？", e["benefits"])
    ask("有哪些具体标准和时限要求？", e["standards"])
    ask("与原政策相比有哪些变化？", e["changes"], 4)
    for question, key in (
        ("主要内容有哪些？", "main_content"),
        ("需要注意什么？", "cautions"),
        ("目标任务是什么？", "goals"),
    ):
        if len(qa) >= 3:
            break
        ask(f"{name}{question}", e[key], 2)
    return qa
