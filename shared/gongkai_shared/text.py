"""Chinese text: normalisation, segmentation, full-text search terms, similarity.

Shared by the catalog's search (条例 art. 24: the public platform must support retrieval), the
requests service (similar applications, repeat applications and 依申请转主动, domain.md §2) and the
sentiment service (near-duplicate posts).

* :func:`normalize`: NFKC (full-width ``ＡＢＣ１２３，`` → ``ABC123,``), whitespace collapsed, latin
  lower-cased. Traditional characters are *not* mapped to simplified ones: that needs a conversion
  table such as OpenCC, which is not a dependency.
* :func:`segment` (precise mode) and :func:`search_tokens` (search mode) use rjieba, the Rust port
  of jieba with the same output. Search mode also emits the words inside a long word (生态环境 →
  生态, 环境, 生态环境), which is what makes a two-character query find the documents that contain
  it inside a longer word (architecture.md "Data": precise mode found only 10% of them).
* :func:`tsvector_text` / :func:`tsquery_text` build the strings for PostgreSQL's
  ``to_tsvector('simple', :t)`` and ``to_tsquery('simple', :q)``. Tokens hold only letters and digits,
  so PostgreSQL's parser keeps each one as one lexeme (it would split ``e-mail`` or ``3.14``
  itself), and the query quotes each token, so no input is a tsquery syntax error.
* Similarity: character :func:`shingles` with :func:`jaccard`; :func:`minhash` signatures, stable
  across processes and machines (blake2b, never Python's salted ``hash()``), so they can be stored
  and compared later; :func:`cosine_similarity` over search-token counts, optionally weighted (IDF).
  Short texts sharing a formula (申请公开某某…) score about 0.2 on shingles and 0.35 on unweighted
  cosine even when they ask for unrelated things: callers that compare applications should
  weight tokens by IDF or strip the formula.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping

import rjieba

__all__ = [
    "STOP_WORDS",
    "cosine_similarity",
    "jaccard",
    "minhash",
    "minhash_similarity",
    "normalize",
    "search_tokens",
    "segment",
    "shingles",
    "tsquery_text",
    "tsvector_text",
]

#: Function words that carry no meaning for search or similarity. Deliberately small: a word a
#: person might search for (关于, 通知, 公开…) is not here.
STOP_WORDS = frozenset(
    "的 了 和 与 及 以及 等 或 或者 之 其 在 是 对 为 由 于 以 把 被 也 并 而 且 向 从 将 所 即 着 过".split()
    + "吗 呢 吧 啊".split()
)

_WHITESPACE = re.compile(r"\s+")
# Letters and digits of any script (\w without the underscore): what PostgreSQL's parser keeps as a word.
_WORD_PART = re.compile(r"[^\W_]+")


def normalize(text: str) -> str:
    """NFKC, whitespace runs as one space, no leading or trailing space, latin lower-case."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def segment(text: str) -> list[str]:
    """Words of the normalised text in precise mode (rjieba.cut), without whitespace tokens."""
    return [token for token in rjieba.cut(normalize(text)) if not token.isspace()]


def _clean(tokens: Iterable[str]) -> list[str]:
    """Only letters and digits (``e-mail`` → ``e``, ``mail``), no stop words."""
    out = []
    for token in tokens:
        for part in _WORD_PART.findall(token):
            if part not in STOP_WORDS:
                out.append(part)
    return out


def search_tokens(text: str) -> list[str]:
    """Search-mode tokens (rjieba.cut_for_search) without punctuation, whitespace and stop words.

    Repeats are kept, in text order: the token counts are what ranking and cosine similarity use.
    """
    return _clean(rjieba.cut_for_search(normalize(text)))


def tsvector_text(text: str) -> str:
    """The text to store as ``to_tsvector('simple', :t)``: search tokens joined by spaces."""
    return " ".join(search_tokens(text))


@functools.lru_cache(maxsize=4096)
def _query_terms_of_word(word: str) -> tuple[str, ...]:
    # A long word is replaced by shorter words that search mode finds inside it, when they cover
    # it: a document may hold 生态环境 segmented as 生态 + 环境保护, and its tsvector then has 生态
    # and 环境 but not 生态环境; asking for 生态 & 环境 finds it. The cover is chosen greedily,
    # left to right, each step taking the word that reaches farthest (中华人民共和国政府 → 中华 人民
    # 共和国 政府, not the overlapping 华人 or 国政 that search mode also emits).
    spans = []
    for part in {p for p in rjieba.cut_for_search(word) if len(p) < len(word)}:
        at = word.find(part)
        while at != -1:
            spans.append((at, at + len(part)))
            at = word.find(part, at + 1)
    cover, position = [], 0
    while position < len(word):
        reach = [(end, start) for start, end in spans if start <= position < end]
        if not reach:
            return (word,)
        end, start = max(reach)
        cover.append(word[start:end])
        position = end
    return tuple(cover) if cover else (word,)


def tsquery_text(query: str) -> str:
    """An AND query of the query's terms for ``to_tsquery('simple', :q)``; ``""`` when it has none.

    Each term is quoted (``'生态' & '环境'``), so quotes and operators typed by a user are never
    tsquery syntax. A caller given ``""`` should not search (PostgreSQL would match nothing and
    log a notice).
    """
    terms: dict[str, None] = {}
    for word in rjieba.cut(normalize(query)):
        for term in _clean(_query_terms_of_word(word)):
            terms[term] = None
    return " & ".join("'" + term.replace("'", "''") + "'" for term in terms)


# --------------------------------------------------------------------------------------------
# Similarity
# --------------------------------------------------------------------------------------------


def _letters_and_digits(text: str) -> str:
    return "".join(_WORD_PART.findall(normalize(text)))


def shingles(text: str, n: int = 2) -> set[str]:
    """Character n-grams of the normalised text without punctuation or spaces.

    A text shorter than ``n`` (but not empty) is its own single shingle.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    chars = _letters_and_digits(text)
    if len(chars) < n:
        return {chars} if chars else set()
    return {chars[i : i + n] for i in range(len(chars) - n + 1)}


def jaccard(a: str | Collection[str], b: str | Collection[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two shingle sets (a text is turned into its 2-shingles); 0.0 if both are empty."""
    set_a = shingles(a) if isinstance(a, str) else set(a)
    set_b = shingles(b) if isinstance(b, str) else set(b)
    union = len(set_a | set_b)
    return len(set_a & set_b) / union if union else 0.0


_MERSENNE_61 = (1 << 61) - 1


def _stable_hash(value: str, *, salt: bytes = b"") -> int:
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8, salt=salt.ljust(16, b"\0")[:16]).digest()
    return int.from_bytes(digest, "big")


@functools.lru_cache(maxsize=16)
def _permutations(num_perm: int) -> tuple[tuple[int, int], ...]:
    """(a, b) of h(x) = (a·x + b) mod (2^61 - 1), derived from fixed seeds: the same everywhere."""
    out = []
    for i in range(num_perm):
        a = _stable_hash(f"a{i}", salt=b"gongkai-minhash") % (_MERSENNE_61 - 1) + 1
        b = _stable_hash(f"b{i}", salt=b"gongkai-minhash") % _MERSENNE_61
        out.append((a, b))
    return tuple(out)


def minhash(text: str, num_perm: int = 64, *, n: int = 2) -> tuple[int, ...]:
    """A MinHash signature of the text's n-shingles, deterministic across processes and machines.

    An empty text has the signature of all ``2^61 - 1`` (matching nothing, see :func:`minhash_similarity`).
    """
    if num_perm < 1:
        raise ValueError("num_perm must be at least 1")
    values = [_stable_hash(s) % _MERSENNE_61 for s in shingles(text, n)]
    if not values:
        return (_MERSENNE_61,) * num_perm
    return tuple(min((a * x + b) % _MERSENNE_61 for x in values) for a, b in _permutations(num_perm))


def minhash_similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """The share of equal positions of two signatures: an estimate of the shingles' Jaccard similarity."""
    if len(a) != len(b):
        raise ValueError("signatures of different lengths cannot be compared")
    if not a:
        return 0.0
    return sum(1 for x, y in zip(a, b, strict=True) if x == y and x != _MERSENNE_61) / len(a)


def cosine_similarity(a: str, b: str, *, weights: Mapping[str, float] | None = None) -> float:
    """Cosine of the search-token count vectors of two texts; 0.0 if either has no tokens.

    ``weights`` (for example inverse document frequencies computed by the caller over its own
    texts) scale each token's count; a token missing from it weighs 1. Without weights, wording
    every text shares (申请 公开 …) lifts the score of unrelated texts.
    """
    w = weights or {}
    vec_a = {t: c * w.get(t, 1.0) for t, c in Counter(search_tokens(a)).items()}
    vec_b = {t: c * w.get(t, 1.0) for t, c in Counter(search_tokens(b)).items()}
    dot = sum(value * vec_b.get(token, 0.0) for token, value in vec_a.items())
    norm = math.sqrt(sum(v * v for v in vec_a.values())) * math.sqrt(sum(v * v for v in vec_b.values()))
    return dot / norm if norm else 0.0
