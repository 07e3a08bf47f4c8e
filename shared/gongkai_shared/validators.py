"""Identifiers of people and agencies: resident ID numbers, agency codes, mobile numbers.

Every service that takes an applicant's identity (条例 art. 29: 申请人的姓名、身份证明、联系方式), an
agency's code (the 索引号 of 条例 art. 12 starts with it, domain.md §1) or scans text before publication
(条例 art. 15: 个人隐私 of third parties must not be published) checks them here, with one set of rules
and one set of Chinese messages.

* **公民身份号码** (GB 11643-1999): 17 digits and a check character, ISO 7064 MOD 11-2. Positions 1-6
  are the address code (地址码, province first, GB/T 2260), 7-14 the birth date, 15-17 the sequence
  code, 18 the check character (0-9 or X). The first digit of a citizen's number is 1-8 (province
  codes 11-65, 71 台湾, 81 香港, 82 澳门; 港澳台居民居住证 use 810000/820000/830000, so 83 is
  accepted too). Since 2023-12-01 the 外国人永久居留身份证 (国家移民管理局, 2023 edition) uses the
  same 18-character form and checksum with first digit **9** (外国人身份标识), followed by codes of
  the accepting province and the nationality: a 9 is accepted, and only the first digit is checked
  for it. A first digit 0 is never valid.
  Masking keeps the address code and the last four characters and hides the birth date
  (``110101********1234``), the common practice of published 公示 lists.
* **统一社会信用代码** (GB 32100-2015): 18 characters from ``0-9 A-H J-N P-R T-U W-Y`` (no I, O, Z, S,
  V); positions 3-8 are the registering authority's 行政区划码 (digits); the 18th is a check
  character (weights 3^(i) mod 31, mod 31).
* **组织机构代码** (GB 11714-1997): 8 characters (digits or capital letters) and a check character
  (weights 3 7 9 10 5 8 4 2, mod 11; 10 → X, 11 → 0), written with or without a hyphen before the
  check character; stored without it.
* **手机号码** (mainland): ``1[3-9]`` and 9 more digits, optionally after ``+86``/``86``/``0086``, with
  spaces or hyphens anywhere between the digits.

Inputs are normalised before they are checked: NFKC (full-width ``１１０…`` → ``110…``), whitespace
removed, latin letters upper-cased. ``is_valid_*`` answer for that normalised form; ``normalize_*``
return it or raise :class:`ValueError` carrying the Chinese message; ``*_problem`` return that
message, or ``None`` when the value is valid.

The pydantic types :data:`ResidentId`, :data:`AgencyCode` and :data:`MobileNumber` normalise on the
way in and fail with the Chinese message, so a FastAPI problem+json names the field
(``body.applicant.id_number``) with a stable ``type`` (``resident_id_invalid`` …).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from gongkai_shared.timeutil import china_today

__all__ = [
    "PROVINCE_CODES",
    "USCC_CHARSET",
    "AgencyCode",
    "MobileNumber",
    "ResidentId",
    "agency_code_problem",
    "is_valid_mobile",
    "is_valid_org_code",
    "is_valid_resident_id",
    "is_valid_uscc",
    "luhn_ok",
    "mask_bank_card",
    "mask_mobile",
    "mask_resident_id",
    "mobile_problem",
    "normalize_agency_code",
    "normalize_mobile",
    "normalize_resident_id",
    "old_resident_id_problem",
    "org_code_check_char",
    "org_code_problem",
    "resident_id_birth_date",
    "resident_id_check_char",
    "resident_id_problem",
    "upgrade_old_resident_id",
    "uscc_check_char",
    "uscc_problem",
]

# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------

_DIGITS = frozenset("0123456789")
_WHITESPACE = re.compile(r"\s+")


def _clean(value: str) -> str:
    """NFKC (full-width → half-width), no whitespace, latin upper-case."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", value)).upper()


def _all_digits(text: str) -> bool:
    # str.isdigit() is true for "²" and Arabic-Indic digits: only ASCII digits count here.
    return bool(text) and all(c in _DIGITS for c in text)


# --------------------------------------------------------------------------------------------
# 公民身份号码 (GB 11643-1999)
# --------------------------------------------------------------------------------------------

#: Province-level codes (first two digits) of GB/T 2260, plus 83 of the 台湾居民居住证 (830000).
#: They have not changed since 重庆 (50) in 1997, and no code was ever withdrawn.
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23"}
    | {"31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54"}
    | {"61", "62", "63", "64", "65", "71", "81", "82", "83"}
)
_FOREIGNER_MARK = "9"  # 外国人永久居留身份证 (2023 edition): first digit 9

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)


def resident_id_check_char(first17: str) -> str:
    """The check character of 17 digits (ISO 7064 MOD 11-2, GB 11643-1999 §5.5)."""
    if len(first17) != 17 or not _all_digits(first17):
        raise ValueError("需要17位数字")
    total = sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True))
    return _RID_CHECK[total % 11]


def _birth_date(digits: str, *, today: date | None) -> date | None:
    """YYYYMMDD as a real date between 1900-01-01 and today (China), else None."""
    try:
        born = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    if born < _EARLIEST_BIRTH or born > (today or china_today()):
        return None
    return born


def _address_ok(code: str) -> bool:
    if code[0] == _FOREIGNER_MARK:
        return True
    return code[:2] in PROVINCE_CODES


def resident_id_problem(value: str, *, today: date | None = None) -> str | None:
    """What is wrong with an 18-character resident ID number, in Chinese; ``None`` if it is valid."""
    rid = _clean(value)
    if not rid:
        return "公民身份号码不能为空"
    if len(rid) != 18:
        return "公民身份号码长度应为18位"
    if not _all_digits(rid[:17]) or not (rid[17] in _DIGITS or rid[17] == "X"):
        return "公民身份号码应为17位数字加1位校验码（0-9或X）"
    if not _address_ok(rid[:6]):
        return "公民身份号码地址码无效"
    if _birth_date(rid[6:14], today=today) is None:
        return "公民身份号码出生日期无效"
    if resident_id_check_char(rid[:17]) != rid[17]:
        return "公民身份号码校验码错误"
    return None


def is_valid_resident_id(value: str, *, today: date | None = None) -> bool:
    return resident_id_problem(value, today=today) is None


def normalize_resident_id(value: str) -> str:
    """The canonical form (half-width, no spaces, upper-case X); ValueError with the Chinese message."""
    problem = resident_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return _clean(value)


def resident_id_birth_date(value: str) -> date | None:
    """The birth date of a valid 18- or 15-character number, else None."""
    rid = _clean(value)
    if len(rid) == 18 and resident_id_problem(rid) is None:
        return _birth_date(rid[6:14], today=None)
    if len(rid) == 15 and old_resident_id_problem(rid) is None:
        return _birth_date("19" + rid[6:12], today=None)
    return None


def old_resident_id_problem(value: str, *, today: date | None = None) -> str | None:
    """The 15-digit number issued before 1999 (no check digit; birth date YYMMDD of the 1900s)."""
    rid = _clean(value)
    if len(rid) != 15:
        return "旧版公民身份号码长度应为15位"
    if not _all_digits(rid):
        return "旧版公民身份号码应为15位数字"
    if rid[:2] not in PROVINCE_CODES:
        return "公民身份号码地址码无效"
    if _birth_date("19" + rid[6:12], today=today) is None:
        return "公民身份号码出生日期无效"
    return None


def upgrade_old_resident_id(value: str) -> str:
    """The 18-character form of a 15-digit number (GB 11643-1999: insert 19, add the check character)."""
    problem = old_resident_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    rid = _clean(value)
    first17 = rid[:6] + "19" + rid[6:]
    return first17 + resident_id_check_char(first17)


def mask_resident_id(value: str) -> str:
    """``110101********1234``: address code and last four kept, birth date hidden.

    A 15-digit number keeps its first six and last three. Anything else is masked entirely, so a
    malformed number never leaks through the mask.
    """
    rid = _clean(value)
    if len(rid) == 18:
        return rid[:6] + "*" * 8 + rid[14:]
    if len(rid) == 15:
        return rid[:6] + "*" * 6 + rid[12:]
    return "*" * len(rid)


# --------------------------------------------------------------------------------------------
# 统一社会信用代码 (GB 32100-2015) and 组织机构代码 (GB 11714-1997)
# --------------------------------------------------------------------------------------------

#: The 31 characters of GB 32100-2015 in value order (I, O, Z, S, V are never used).
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = re.compile(r"[0-9A-Z]{8}")
_DASHES = re.compile(r"[-‐‑‒–—―]")


def uscc_check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 (GB 32100-2015 §5: mod 31)."""
    if len(first17) != 17 or any(c not in _USCC_VALUE for c in first17):
        raise ValueError("需要17位统一社会信用代码字符")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    code = _clean(value)
    if len(code) != 18:
        return "统一社会信用代码长度应为18位"
    if any(c not in _USCC_VALUE for c in code):
        return "统一社会信用代码含有无效字符（只用数字和除I、O、Z、S、V以外的大写字母）"
    if not _all_digits(code[2:8]):
        return "统一社会信用代码第3-8位（登记管理机关行政区划码）应为数字"
    if uscc_check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验码错误"
    return None


def is_valid_uscc(value: str) -> bool:
    return uscc_problem(value) is None


def org_code_check_char(first8: str) -> str:
    """The 9th character of a 组织机构代码 (GB 11714-1997: mod 11; 10 → X, 11 → 0)."""
    if not _ORG_BODY.fullmatch(first8):
        raise ValueError("需要8位数字或大写字母")
    # Digits are worth 0-9, letters A-Z 10-35.
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def _org_code_form(value: str) -> str:
    """The 9 characters without the hyphen, if the value has the shape of an organisation code."""
    code = _clean(value)
    if len(code) == 10 and _DASHES.fullmatch(code[8]):
        code = code[:8] + code[9]
    return code


def org_code_problem(value: str) -> str | None:
    code = _org_code_form(value)
    if len(code) != 9:
        return "组织机构代码应为8位本体代码加1位校验码"
    if not _ORG_BODY.fullmatch(code[:8]) or not (code[8] in _DIGITS or code[8] == "X"):
        return "组织机构代码含有无效字符（本体代码为数字或大写字母，校验码为0-9或X）"
    if org_code_check_char(code[:8]) != code[8]:
        return "组织机构代码校验码错误"
    return None


def is_valid_org_code(value: str) -> bool:
    return org_code_problem(value) is None


def agency_code_problem(code: str) -> str | None:
    """An agency's code: an 18-character 统一社会信用代码 or a 9-character 组织机构代码 (domain.md §1, 索引号)."""
    cleaned = _clean(code)
    if len(cleaned) == 18:
        return uscc_problem(cleaned)
    if len(_org_code_form(cleaned)) == 9:
        return org_code_problem(cleaned)
    if not cleaned:
        return "机关代码不能为空"
    return "机关代码应为18位统一社会信用代码或9位组织机构代码"


def normalize_agency_code(code: str) -> str:
    """18 characters, or 9 without the hyphen, upper-case; ValueError with the Chinese message."""
    problem = agency_code_problem(code)
    if problem is not None:
        raise ValueError(problem)
    cleaned = _clean(code)
    return cleaned if len(cleaned) == 18 else _org_code_form(cleaned)


# --------------------------------------------------------------------------------------------
# Mobile numbers and card numbers
# --------------------------------------------------------------------------------------------

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
_MOBILE_SEPARATORS = re.compile(r"[\s\-‐‑–—()（）]")


def _mobile_digits(value: str) -> str | None:
    compact = _MOBILE_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    match = _MOBILE.fullmatch(compact)
    return match.group(1) if match else None


def mobile_problem(value: str) -> str | None:
    if _mobile_digits(value) is None:
        return "手机号码应为11位数字，以13-19开头（可带+86）"
    return None


def is_valid_mobile(value: str) -> bool:
    return _mobile_digits(value) is not None


def normalize_mobile(value: str) -> str:
    """The 11 digits, without country code or separators; ValueError with the Chinese message."""
    digits = _mobile_digits(value)
    if digits is None:
        raise ValueError(mobile_problem(value))
    return digits


def mask_mobile(value: str) -> str:
    """``138****8000``: the operator prefix and the last four kept."""
    digits = _mobile_digits(value)
    if digits is None:
        return "*" * len(_clean(value))
    return digits[:3] + "****" + digits[7:]


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check of bank card numbers (ISO/IEC 7812-1)."""
    if len(digits) < 2 or not _all_digits(digits):
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_bank_card(digits: str) -> str:
    """``622202******1234``: the issuer prefix (BIN, 6) and the last four, as card statements show."""
    cleaned = _clean(digits)
    if len(cleaned) < 13:
        return "*" * len(cleaned)
    return cleaned[:6] + "*" * (len(cleaned) - 10) + cleaned[-4:]


# --------------------------------------------------------------------------------------------
# pydantic types
# --------------------------------------------------------------------------------------------


def _pydantic(normalize: Callable[[str], str], error_type: str) -> AfterValidator:
    def validate(value: str) -> str:
        try:
            return normalize(value)
        except ValueError as exc:
            # PydanticCustomError is a ValueError whose message is shown as is (no "Value error, "
            # prefix), with a stable type for clients.
            raise PydanticCustomError(error_type, str(exc)) from None

    return AfterValidator(validate)


ResidentId = Annotated[
    str,
    _pydantic(normalize_resident_id, "resident_id_invalid"),
    Field(
        description="公民身份号码（18位，GB 11643-1999；含外国人永久居留身份证号码）", examples=["11010519491231002X"]
    ),
]
"""An 18-character resident ID number, normalised (half-width, upper-case X)."""

AgencyCode = Annotated[
    str,
    _pydantic(normalize_agency_code, "agency_code_invalid"),
    Field(description="机关代码：18位统一社会信用代码或9位组织机构代码", examples=["11441700007280420Y", "000013338"]),
]
"""An agency code, normalised (upper-case; an organisation code without its hyphen)."""

MobileNumber = Annotated[
    str,
    _pydantic(normalize_mobile, "mobile_invalid"),
    Field(description="手机号码（中国大陆，11位）", examples=["13800138000"]),
]
"""A mainland mobile number, normalised to its 11 digits."""
