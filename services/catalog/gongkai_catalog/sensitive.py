"""The sensitive-content scan run on a notice before it is published.

条例 art. 15 forbids publishing third parties' 个人隐私, and art. 17 requires review before publication
(先审查后公开); every agency also keeps a 负面清单 of things not to publish (domain.md §1, "Before
publishing"). Leaked ID numbers in published 公示 lists are a recurring scandal, so this scan looks
for personal numbers a reviewer must see before the text goes out:

* ``resident_id``: 18-character 公民身份号码 (and 外国人永久居留身份证号码) with a valid check character,
  address code and birth date (:mod:`gongkai_shared.validators`), written together, or in groups
  separated by spaces or hyphens (6-8-4, 6-4-4-4, 3-3-4-4-4); 15-digit numbers of the pre-1999 form
  with a valid address code and birth date are findings of ``confidence="low"`` (no check digit).
* ``mobile``: mainland mobile numbers, with or without +86/86/0086, together or as 3-4-4.
* ``bank_card``: 16-19 digits passing the Luhn check, together or in groups of four separated by spaces.
* ``negative_term``: terms of the agency's 负面清单, case-insensitive and full-width-insensitive.

Matching runs on a normalised copy of the text (NFKC: full-width ``１３８`` → ``138``, ideographic
space → space; lower-case) while offsets are reported in the original text, so a reviewer's
editor can highlight ``text[start:end]``. Chinese has no spaces between words, so a number is
recognised only when it is not part of a longer run of digits.

Ordinary government text must not drown the reviewer in false findings. Not findings: amounts
(``13800000000元``, ``¥6222…``, decimals), office numbers with area codes (``0755-12345678``), dates,
索引号 (``000013338/2023-00079``), 文号 (``深府办〔2023〕12号``), serials introduced as 编号/代码/流水号…,
and an all-digit number that is a valid 统一社会信用代码 where a bank card would be suspected. A
finding never carries the full number: ``masked`` hides the birth date of an ID number, the middle
of a mobile number and of a card number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from gongkai_shared.validators import (
    is_valid_uscc,
    luhn_ok,
    mask_bank_card,
    mask_mobile,
    mask_resident_id,
    old_resident_id_problem,
    resident_id_problem,
)

__all__ = ["Finding", "FindingKind", "scan"]

FindingKind = Literal["resident_id", "mobile", "bank_card", "negative_term"]


@dataclass(frozen=True, slots=True)
class Finding:
    """Something in a text that a reviewer must look at before it is published."""

    kind: FindingKind
    start: int  # character offsets in the original text: text[start:end] is the match
    end: int
    masked: str  # the match with its identifying part hidden; never the full number
    message: str  # Chinese, for the reviewer
    confidence: Literal["high", "low"] = "high"


# --------------------------------------------------------------------------------------------
# Normalised copy with a map back to the original offsets
# --------------------------------------------------------------------------------------------


class _Normalized:
    """NFKC + lower-case, character by character, remembering where each character came from."""

    __slots__ = ("origin", "original", "text")

    def __init__(self, original: str) -> None:
        out: list[str] = []
        origin: list[int] = []
        for i, ch in enumerate(original):
            norm = (ch if ch.isascii() else unicodedata.normalize("NFKC", ch)).lower()
            out.append(norm)
            origin.extend([i] * len(norm))
        self.original = original
        self.text = "".join(out)
        self.origin = origin

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


# --------------------------------------------------------------------------------------------
# Patterns (on the normalised, lower-case text)
# --------------------------------------------------------------------------------------------

_SEP = r"[ \-]"
_ID18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9x](?![0-9])")
_ID18_GROUPED = re.compile(
    rf"(?<![0-9])(?:[0-9]{{6}}{_SEP}[0-9]{{8}}{_SEP}[0-9]{{3}}[0-9x]"
    rf"|[0-9]{{6}}{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}{_SEP}[0-9]{{3}}[0-9x]"
    rf"|[0-9]{{3}}{_SEP}[0-9]{{3}}{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}{_SEP}[0-9]{{3}}[0-9x])(?![0-9])"
)
_ID15 = re.compile(r"(?<![0-9])[0-9]{15}(?![0-9x])")
_CARD = re.compile(r"(?<![0-9])[0-9]{16,19}(?![0-9])")
# Groups of four separated by single spaces; a longer spaced sequence is something else (a table row).
_CARD_GROUPED = re.compile(r"(?<![0-9])(?<![0-9] )[0-9]{4}(?: [0-9]{4}){3}(?: [0-9]{1,3})?(?![0-9])(?! [0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:(?:\+|00)?86[ \-]?)?1[3-9][0-9](?:[0-9]{8}|[ \-][0-9]{4}[ \-][0-9]{4})(?![0-9])")

# Codes that hold long digit runs and are public, not personal: 索引号 <agency code>/<YYYY[MM]>-<serial>
# (domain.md §1) and 文号 such as 深府办〔2023〕12号 or 国办发[2019]54号.
_INDEX_NUMBER = re.compile(r"[0-9a-z]{9,18}/[0-9]{4,6}-[0-9]{1,8}")
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,12}[〔\[(【][0-9]{4}[〕\])】]第?[0-9]{1,8}号")

# A number followed by a unit or preceded by a currency sign is an amount or a count.
_UNIT_AFTER = re.compile(
    r"\s*(?:元|万|亿|千|百|角|%|‰|人|户|名|个|次|件|吨|米|平方|公里|亩|公顷|年|月|日|天|小时|岁|台|辆|套|册|页|份|条|项|号|股|kg|km)"
)
_CURRENCY_BEFORE = re.compile(r"(?:¥|\$|rmb|人民币|金额)\s*[:：]?\s*$")
# A serial introduced by its name is not a phone or card number.
_SERIAL_BEFORE = re.compile(
    r"(?:编号|编码|代码|序号|流水号|订单号|合同号|索引号|文号|登记号|批次号|项目号|证书号|许可证号|备案号)[^。；;，,\n]{0,6}$"
)
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
_SENTENCE_BREAK = re.compile(r"[。；;，,\n]")


def _context_before(text: str, start: int, width: int = 12) -> str:
    window = text[max(0, start - width) : start]
    parts = _SENTENCE_BREAK.split(window)
    return parts[-1]


def _is_amount_or_serial(text: str, start: int, end: int) -> bool:
    """Amounts, decimals, counts, serials and parts of compound codes (2023-13800138000)."""
    if _UNIT_AFTER.match(text, end):
        return True
    before = _context_before(text, start)
    if _CURRENCY_BEFORE.search(before) or _SERIAL_BEFORE.search(before):
        return True
    if start >= 2 and text[start - 1] in "-." and text[start - 2].isalnum():
        return True
    return end + 1 < len(text) and text[end] in "-." and text[end + 1].isdigit()


def _digits(match: str) -> str:
    return re.sub(r"[ \-]", "", match)


# --------------------------------------------------------------------------------------------
# The scan
# --------------------------------------------------------------------------------------------


def scan(text: str, negative_terms: Iterable[str] = ()) -> list[Finding]:
    """Findings in ``text``, ordered by position; offsets refer to ``text`` itself."""
    norm = _Normalized(text)
    t = norm.text
    # One flag per character of the normalised text: part of a public code or of an earlier finding.
    taken = bytearray(len(t))
    for pattern in (_INDEX_NUMBER, _DOC_NUMBER):
        for m in pattern.finditer(t):
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    findings: list[Finding] = []

    def free(start: int, end: int) -> bool:
        return not any(taken[start:end])

    def add(kind: FindingKind, start: int, end: int, masked: str, message: str, confidence: str = "high") -> None:
        taken[start:end] = b"\x01" * (end - start)
        o_start, o_end = norm.span(start, end)
        findings.append(Finding(kind, o_start, o_end, masked, message, confidence))  # type: ignore[arg-type]

    def candidates(*patterns: re.Pattern[str]) -> Iterator[tuple[int, int, str]]:
        for pattern in patterns:
            for m in pattern.finditer(t):
                if free(*m.span()):
                    yield m.start(), m.end(), _digits(m.group())

    # Resident IDs first: an ID number that also passes Luhn is an ID number, not a card.
    for start, end, number in candidates(_ID18, _ID18_GROUPED):
        if resident_id_problem(number) is None:
            foreign = number[0] == "9"
            add(
                "resident_id",
                start,
                end,
                mask_resident_id(number),
                "疑似外国人永久居留身份证号码" if foreign else "疑似公民身份号码",
            )

    for start, end, number in candidates(_CARD, _CARD_GROUPED):
        if not luhn_ok(number) or _is_amount_or_serial(t, start, end):
            continue
        if len(number) == 18 and is_valid_uscc(number):
            continue  # an agency's 统一社会信用代码 written in digits only: public
        if " " in t[start:end] and all(_YEAR.fullmatch(g) for g in t[start:end].split(" ")):
            continue  # a row of years in a table: 2019 2020 2021 2022
        add("bank_card", start, end, mask_bank_card(number), "疑似银行卡号")

    for start, end, number in candidates(_ID15):
        if old_resident_id_problem(number) is None and not _is_amount_or_serial(t, start, end):
            add("resident_id", start, end, mask_resident_id(number), "疑似旧版（15位）公民身份号码", "low")

    for start, end, number in candidates(_MOBILE):
        if not _is_amount_or_serial(t, start, end):
            add("mobile", start, end, mask_mobile(number), "疑似手机号码")

    for term in dict.fromkeys(negative_terms):
        needle = "".join(unicodedata.normalize("NFKC", ch).lower() for ch in term.strip())
        if not needle:
            continue
        at = t.find(needle)
        while at != -1:
            o_start, o_end = norm.span(at, at + len(needle))
            findings.append(
                Finding("negative_term", o_start, o_end, text[o_start:o_end], f"含有负面清单词语：{term.strip()}")
            )
            at = t.find(needle, at + len(needle))

    findings.sort(key=lambda f: (f.start, f.end, f.kind))
    return findings
