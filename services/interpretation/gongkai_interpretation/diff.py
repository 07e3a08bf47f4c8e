"""Clause-by-clause differences between a policy and the one it supersedes (新旧政策差异, domain.md §4).

The clauses (articles 第X条; outline sections 一、/（一） when a document has no articles; paragraphs
otherwise) of the old and the new text are aligned first by identical text, then by text similarity
(character bigrams), preferring the same number and nearby positions: a revision that inserts an
article renumbers the ones after it, so numbers alone would report every later article as changed.
The result lists clauses added, removed and changed; inside a changed clause, the figures that
changed (old → new: amounts, percentages, dates, periods, counts) and the changed text segments.

Pure and deterministic: no database, no network.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gongkai_interpretation.drafting import ARTICLE_RE, OUTLINE_RE, cn_number, find_figures, split_sentences

__all__ = ["Clause", "ClauseChange", "FigureChange", "PolicyDiff", "clauses", "diff_policies", "similarity"]

#: Two clauses with at least this bigram similarity are the same clause, revised.
MATCH_THRESHOLD = 0.45

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Clause:
    label: str
    number: int | None
    text: str
    start: int
    end: int
    sentence_ids: tuple[int, ...]


@dataclass(frozen=True)
class FigureChange:
    old: str | None
    new: str | None
    kind: str


@dataclass(frozen=True)
class ClauseChange:
    change: str  # added / removed / changed / unchanged
    old: Clause | None
    new: Clause | None
    similarity: float = 1.0
    figures: tuple[FigureChange, ...] = ()
    segments: tuple[dict, ...] = ()

    @property
    def renumbered(self) -> bool:
        return self.old is not None and self.new is not None and self.old.label != self.new.label


@dataclass
class PolicyDiff:
    changes: list[ClauseChange] = field(default_factory=list)

    def of(self, kind: str) -> list[ClauseChange]:
        return [c for c in self.changes if c.change == kind]

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(self.of(k)) for k in ("added", "removed", "changed", "unchanged")}

    def summary_lines(self) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
        """One line per difference for a reader: (text, old sentence ids, new sentence ids)."""
        lines = []
        for c in self.changes:
            if c.change == "added" and c.new is not None:
                lines.append((f"新增{c.new.label}：{_short(c.new.text)}。", (), c.new.sentence_ids))
            elif c.change == "removed" and c.old is not None:
                lines.append((f"删除原{c.old.label}：{_short(c.old.text)}。", c.old.sentence_ids, ()))
            elif c.change == "changed" and c.old is not None and c.new is not None:
                where = c.new.label if not c.renumbered else f"{c.new.label}（原{c.old.label}）"
                if c.figures:
                    what = "，".join(_figure_phrase(f) for f in c.figures)
                else:
                    what = "，".join(_segment_phrase(g) for g in c.segments[:3]) or "表述作了修改"
                lines.append((f"{where}：{what}。", c.old.sentence_ids, c.new.sentence_ids))
        return lines

    def as_dict(self) -> dict:
        def clause(c: Clause | None) -> dict | None:
            if c is None:
                return None
            return {"label": c.label, "text": c.text, "start": c.start, "end": c.end, "sentences": list(c.sentence_ids)}

        return {
            "counts": self.counts,
            "changes": [
                {
                    "change": c.change,
                    "old": clause(c.old),
                    "new": clause(c.new),
                    "renumbered": c.renumbered,
                    "similarity": round(c.similarity, 3),
                    "figures": [{"old": f.old, "new": f.new, "kind": f.kind} for f in c.figures],
                    "segments": list(c.segments),
                }
                for c in self.changes
                if c.change != "unchanged"
            ],
            "summary": [line for line, _, _ in self.summary_lines()],
        }


def _figure_phrase(f: FigureChange) -> str:
    if f.old is None:
        return f"新增{f.new}"
    if f.new is None:
        return f"删去{f.old}"
    return f"{f.old}调整为{f.new}"


def _segment_phrase(g: dict) -> str:
    if g["op"] == "insert":
        return f"增加“{_short(g['new'], 20)}”"
    if g["op"] == "delete":
        return f"删去“{_short(g['old'], 20)}”"
    return f"“{_short(g['old'], 20)}”改为“{_short(g['new'], 20)}”"


def _short(text: str, n: int = 40) -> str:
    text = text.rstrip("。；")
    return text if len(text) <= n else text[:n] + "……"


def _bigrams(text: str) -> set[str]:
    t = _NOT_WORD.sub("", text)
    return {t[i : i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the character bigrams of ``a`` and ``b`` (punctuation ignored)."""
    x, y = _bigrams(a), _bigrams(b)
    if not x and not y:
        return 1.0
    return len(x & y) / len(x | y)


def clauses(text: str) -> list[Clause]:
    """The clauses of a policy: its articles; else its outline sections; else its paragraphs."""
    sentences = split_sentences(text)
    marks = [(m.start(1), m.group(1)) for m in ARTICLE_RE.finditer(text)]
    if not marks:
        marks = [(m.start(1), m.group(1)) for m in OUTLINE_RE.finditer(text)]
    out: list[Clause] = []
    if marks:
        bounds = [start for start, _ in marks] + [len(text)]
        for i, (start, label) in enumerate(marks):
            end = bounds[i + 1]
            # A chapter heading between two articles belongs to neither.
            raw = text[start:end]
            cut = re.search(r"\n[ \t\u3000]*第[零〇一二两三四五六七八九十百千\d]+[章节]", raw)
            raw = raw[: cut.start()] if cut else raw
            body = raw[len(label) :].strip(" \t\u3000\n")
            ids = tuple(s.id for s in sentences if start <= s.start < start + len(raw))
            out.append(Clause(label, cn_number(label), body, start, start + len(raw.rstrip()), ids))
        return out
    pos = 0
    for n, line in enumerate(text.split("\n")):
        if line.strip():
            start = pos + len(line) - len(line.lstrip())
            ids = tuple(s.id for s in sentences if start <= s.start < pos + len(line))
            out.append(Clause(f"第{n + 1}段", n + 1, line.strip(), start, pos + len(line.rstrip()), ids))
        pos += len(line) + 1
    return out


def _figure_changes(old: str, new: str) -> tuple[FigureChange, ...]:
    a, b = find_figures(old), find_figures(new)
    ta, tb = [f.text for f in a], [f.text for f in b]
    out: list[FigureChange] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ta, b=tb, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for k in range(max(len(olds), len(news))):
            o = olds[k] if k < len(olds) else None
            n = news[k] if k < len(news) else None
            out.append(FigureChange(o.text if o else None, n.text if n else None, (n or o).kind))  # type: ignore[union-attr]
    return tuple(out)


def _segments(old: str, new: str) -> tuple[dict, ...]:
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op != "equal":
            out.append({"op": op, "old": old[i1:i2], "new": new[j1:j2]})
    return tuple(out)


def _align(old: Sequence[Clause], new: Sequence[Clause]) -> dict[int, tuple[int, float]]:
    """new index → (old index, similarity) for the clauses that are the same clause."""
    pairs: dict[int, tuple[int, float]] = {}
    used_old: set[int] = set()
    by_text: dict[str, list[int]] = {}
    for i, c in enumerate(old):
        by_text.setdefault(_NOT_WORD.sub("", c.text), []).append(i)
    for j, c in enumerate(new):
        same = by_text.get(_NOT_WORD.sub("", c.text))
        if same:
            i = same.pop(0)
            pairs[j] = (i, 1.0)
            used_old.add(i)
    rest_old = [i for i in range(len(old)) if i not in used_old]
    rest_new = [j for j in range(len(new)) if j not in pairs]
    old_grams = {i: _bigrams(old[i].text) for i in rest_old}
    candidates = []
    for j in rest_new:
        gj = _bigrams(new[j].text)
        for i in rest_old:
            gi = old_grams[i]
            union, common = len(gi | gj), len(gi & gj)
            sim = common / union if union else 1.0
            same_number = old[i].number == new[j].number
            if same_number and gi and gj:
                # An article that kept its number and was extended (a sentence appended) is still that
                # article: compare what the shorter one shares with the longer.
                sim = max(sim, 0.8 * common / min(len(gi), len(gj)))
            if sim >= MATCH_THRESHOLD:
                candidates.append((-sim, not same_number, abs(i - j), j, i, sim))
    candidates.sort()
    for *_, j, i, sim in candidates:
        if j in pairs or i in used_old:
            continue
        pairs[j] = (i, sim)
        used_old.add(i)
    return pairs


def diff_policies(old_text: str, new_text: str) -> PolicyDiff:
    """Clause-by-clause differences of ``new_text`` against ``old_text``."""
    old, new = clauses(old_text), clauses(new_text)
    pairs = _align(old, new)
    matched_old = {i for i, _ in pairs.values()}
    changes: list[tuple[float, ClauseChange]] = []
    for j, c in enumerate(new):
        if j in pairs:
            i, sim = pairs[j]
            o = old[i]
            if _NOT_WORD.sub("", o.text) == _NOT_WORD.sub("", c.text):
                changes.append((j, ClauseChange("unchanged", o, c, 1.0)))
            else:
                changes.append(
                    (j, ClauseChange("changed", o, c, sim, _figure_changes(o.text, c.text), _segments(o.text, c.text)))
                )
        else:
            changes.append((j, ClauseChange("added", None, c, 0.0)))
    # A removed clause is listed where it stood: after the new clause that matched its predecessor.
    new_of_old = {i: j for j, (i, _) in pairs.items()}
    for i, o in enumerate(old):
        if i in matched_old:
            continue
        before = max((new_of_old[k] for k in range(i) if k in new_of_old), default=-1)
        changes.append((before + 0.5, ClauseChange("removed", o, None, 0.0)))
    changes.sort(key=lambda pair: pair[0])
    return PolicyDiff([c for _, c in changes])
