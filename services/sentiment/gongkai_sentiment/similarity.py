"""Near-duplicates and event membership, fast enough for a burst.

Near-duplicates (reposts, copy-paste campaigns): a one-permutation MinHash (OPH) of character 2-shingles.
Each shingle is hashed once (CRC-32 twice, 64 bits, deterministic across processes) and falls into one of
``BINS`` bins by its hash; a bin keeps its smallest value; empty bins borrow the next non-empty bin's value
(rotation densification). The share of equal bins estimates the Jaccard similarity, as the k-permutation
MinHash of gongkai_shared.text does, at 1/k of its cost (measured: ~2 ms a post there for 64 permutations,
which a 10,000-post burst cannot afford). LSH: ``BANDS`` bands of ``ROWS`` bins; two posts become
candidates when one band is equal, then the full signatures decide.

Events: a post joins the active event of its topic whose bounded term vector it overlaps most (weighted by
how specific each word is: place and entity names weigh more than the topic's common words), above the
``event_similarity`` setting.
"""

from __future__ import annotations

import functools
import operator
import re
import zlib
from collections.abc import Iterable, Sequence

from gongkai_shared.text import STOP_WORDS, normalize, shingles

from gongkai_sentiment.classifier import lexicons

__all__ = [
    "BANDS",
    "BINS",
    "band_keys",
    "event_overlap",
    "signature",
    "signature_similarity",
    "term_weight",
    "terms_of",
]

BINS = 32
ROWS = 4
BANDS = BINS // ROWS
_EMPTY = (1 << 63) - 1
_SEED = 0x9E3779B9


def _hash(shingle: str) -> int:
    raw = shingle.encode("utf-8")
    return (zlib.crc32(raw) << 31) ^ zlib.crc32(raw, _SEED)


#: shingle → (bin, value) of its hash, remembered: shingles of one language repeat from post to post.
_PARTS: dict[str, tuple[int, int]] = {}
_PARTS_LIMIT = 1_000_000
_WORD_PART = re.compile(r"[^\W_]+")


def _parts(shingle: str) -> tuple[int, int]:
    h = _hash(shingle)
    if len(_PARTS) > _PARTS_LIMIT:
        _PARTS.clear()  # bounded
    parts = _PARTS[shingle] = (h % BINS, h // BINS)
    return parts


def _shingles(text: str, *, normalized: bool = False) -> set[str]:
    """gongkai_shared.text.shingles(text, 2), without its cost of a second normalisation when ``text`` is
    already normalised (normalising is idempotent, so the result is the same either way). ``normalized``: the
    caller vouches for it (classifier.normalize_text's output: its traditional → simplified table only brings in
    CJK characters, which normalising leaves alone)."""
    if not normalized and normalize(text) != text:
        return shingles(text, 2)
    chars = "".join(_WORD_PART.findall(text))
    if len(chars) < 2:
        return {chars} if chars else set()
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def signature(text: str, *, normalized: bool = False) -> list[int]:
    """The OPH signature of ``text``'s 2-shingles (``BINS`` signed-64-bit-safe integers); ``normalized``: ``text``
    is classifier.normalize_text's output."""
    bins = [_EMPTY] * BINS
    get = _PARTS.get
    for s in _shingles(text, normalized=normalized):
        p = get(s) or _parts(s)
        b, v = p
        if v < bins[b]:
            bins[b] = v
    if _EMPTY not in bins:
        return bins
    if all(v == _EMPTY for v in bins):
        return bins
    out = list(bins)
    for i in range(BINS):
        j = i
        shift = 0
        while out[i] == _EMPTY:
            j = (j + 1) % BINS
            shift += 1
            if bins[j] != _EMPTY:
                out[i] = bins[j] + shift * 7919  # the borrowed value, made distinct per distance
    return out


def signature_similarity(a: Sequence[int], b: Sequence[int]) -> float:
    if len(a) != len(b) or not a:
        return 0.0
    if a[0] == _EMPTY or b[0] == _EMPTY:
        return 0.0  # densification fills every bin unless the text had no shingle at all
    # map(eq) runs in C: a burst compares tens of candidates per post.
    return sum(map(operator.eq, a, b)) / len(a)


_BAND_FORMATS = [b"%d:" % band + b",".join([b"%d"] * ROWS) for band in range(BANDS)]


def band_keys(sig: Sequence[int]) -> list[int]:
    """One 63-bit key per band (the band number is part of the key): CRC-32 twice of ``"<band>:<v>,<v>,…"``."""
    out = []
    crc32 = zlib.crc32
    for band, fmt in enumerate(_BAND_FORMATS):
        raw = fmt % tuple(sig[band * ROWS : (band + 1) * ROWS])
        out.append(((crc32(raw) << 31) ^ crc32(raw, _SEED)) & _EMPTY)
    return out


_ENTITY_ENDINGS = tuple("区县镇乡街路村厂园湖河桥站场院校馆店司局委巷苑城庄湾")


def _generic_words() -> frozenset[str]:
    lex = lexicons()
    words: set[str] = set(lex.negative_cues) | set(lex.positive_cues) | set(lex.neutral_cues)
    for topic_words in lex.topics.values():
        words.update(topic_words)
    return frozenset(words)


_IS_TERM: dict[str, bool] = {}


def terms_of(tokens: Iterable[str]) -> list[str]:
    """Content words of a post: two characters or more, not function words."""
    tokens = tokens if isinstance(tokens, list | tuple) else list(tokens)
    known = _IS_TERM
    try:
        return [t for t in tokens if known[t]]
    except KeyError:
        if len(known) > 500_000:
            known.clear()  # bounded
        for t in tokens:
            known[t] = len(t) >= 2 and t not in STOP_WORDS and not t.isdigit()
        return [t for t in tokens if known[t]]


def term_weight(term: str, generic: frozenset[str] | None = None) -> float:
    generic = generic if generic is not None else _generic_words()
    if term in generic:
        return 0.5  # the topic's common words (污染, 投诉 …) say little about *which* matter
    if len(term) >= 3 or term.endswith(_ENTITY_ENDINGS):
        return 2.0  # places and names (城东区, 宏达化工厂) say the most
    return 1.0


_WEIGHTS: dict[tuple[str, frozenset[str]], float] = {}


def term_weights(terms: Iterable[str], generic: frozenset[str]) -> dict[str, float]:
    """{term: term_weight(term, generic)} of a post's terms (remembered per term and lexicon)."""
    out = {}
    known = _WEIGHTS
    for t in terms:
        w = known.get((t, generic))
        if w is None:
            if len(known) > 500_000:
                known.clear()  # bounded
            w = known[(t, generic)] = term_weight(t, generic)
        out[t] = w
    return out


def is_entity(term: str, generic: frozenset[str]) -> bool:
    """A place or a named body (城东区, 宏达化工厂, 长丰路): ends like one and is not a topic's common word."""
    return len(term) >= 2 and term.endswith(_ENTITY_ENDINGS) and term not in generic


def event_overlap(post_terms: Iterable[str], event_terms: dict[str, float], generic: frozenset[str]) -> float:
    """Weighted share of the post's terms that the event already has."""
    unique = set(post_terms)
    total = sum(term_weight(t, generic) for t in unique)
    if not total:
        return 0.0
    return sum(term_weight(t, generic) for t in unique if t in event_terms) / total


def merge_terms(event_terms: dict[str, float], post_terms: Iterable[str], limit: int) -> dict[str, float]:
    """Add a post's terms to an event's bounded centroid (keeps the ``limit`` heaviest, heaviest first; of equal
    weights, the earlier: what ``Counter.most_common`` gives)."""
    merged = dict(event_terms)
    get = merged.get
    for t in set(post_terms):
        merged[t] = get(t, 0) + 1.0
    return dict(sorted(merged.items(), key=operator.itemgetter(1), reverse=True)[:limit])


generic_words = functools.cache(_generic_words)
