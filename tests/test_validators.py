"""Identifiers (gongkai_shared.validators): resident ID numbers, agency codes, mobile numbers.

Check characters here are computed by an independent implementation written from the standards'
definitions (ISO 7064 MOD 11-2 with weights 2^(n-1) mod 11; GB 32100 weights 3^(i) mod 31), not by
the module's tables, and checked against published example numbers:

* 11010519491231002X — the example number of GB 11643-1999 itself;
* 91350100M000100Y43 — the example code of GB 32100-2015;
* D2143569-X — the example code of GB 11714-1997;
* 11441700007280420Y and 000013338 — the agency codes of the 索引号 examples in domain.md §1 (both
  valid; the USCC's positions 9-17, 007280420, are themselves a valid 组织机构代码).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import httpx
import pytest
from fastapi import FastAPI
from gongkai_shared.errors import install_error_handlers
from gongkai_shared.timeutil import china_today
from gongkai_shared.validators import (
    AgencyCode,
    MobileNumber,
    ResidentId,
    agency_code_problem,
    is_valid_mobile,
    is_valid_org_code,
    is_valid_resident_id,
    is_valid_uscc,
    luhn_ok,
    mask_bank_card,
    mask_mobile,
    mask_resident_id,
    normalize_agency_code,
    normalize_mobile,
    normalize_resident_id,
    old_resident_id_problem,
    resident_id_birth_date,
    resident_id_problem,
    upgrade_old_resident_id,
)
from pydantic import BaseModel, ValidationError

# --------------------------------------------------------------------------------------------
# An independent implementation of the check characters
# --------------------------------------------------------------------------------------------


def iso7064_mod11_2(first17: str) -> str:
    """ISO 7064 MOD 11-2 as the standard defines it: weight of position i (from the right, the check
    character being position 1) is 2^(i-1) mod 11; the check value c satisfies sum + c ≡ 1 (mod 11)."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    c = (12 - total % 11) % 11
    return "X" if c == 10 else str(c)


USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def gb32100_check(first17: str) -> str:
    total = sum(USCC_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return USCC_CHARS[-total % 31]


def gb11714_check(first8: str) -> str:
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    values = [int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10 for ch in first8]
    c = (11 - sum(v * w for v, w in zip(values, weights, strict=True)) % 11) % 11
    return "X" if c == 10 else str(c)


def make_id(address: str, born: date, seq: str = "123") -> str:
    first17 = f"{address}{born:%Y%m%d}{seq}"
    return first17 + iso7064_mod11_2(first17)


def with_wrong_check(rid: str) -> str:
    wrong = "0" if rid[-1] != "0" else "1"
    return rid[:-1] + wrong


# --------------------------------------------------------------------------------------------
# 公民身份号码 (GB 11643-1999)
# --------------------------------------------------------------------------------------------


def test_the_gb11643_example_number_is_valid_and_the_independent_check_agrees() -> None:
    assert iso7064_mod11_2("11010519491231002") == "X"
    assert is_valid_resident_id("11010519491231002X")
    assert resident_id_problem("11010519491231002X") is None
    assert resident_id_birth_date("11010519491231002X") == date(1949, 12, 31)


def test_random_numbers_agree_with_the_independent_checksum() -> None:
    rng = random.Random(11643)
    for _ in range(2000):
        born = date(1900, 1, 1) + timedelta(days=rng.randrange((date(2020, 1, 1) - date(1900, 1, 1)).days))
        rid = make_id(rng.choice(["110105", "440304", "650102", "810000", "830000"]), born, f"{rng.randrange(1000):03}")
        assert is_valid_resident_id(rid), rid
        assert not is_valid_resident_id(with_wrong_check(rid))


def test_lower_case_x_full_width_digits_and_spaces_are_normalised() -> None:
    assert normalize_resident_id("11010519491231002x") == "11010519491231002X"
    assert normalize_resident_id("１１０１０５１９４９１２３１００２Ｘ") == "11010519491231002X"
    assert normalize_resident_id(" 110105 19491231 002X ") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "公民身份号码不能为空"),
        ("11010519491231002", "公民身份号码长度应为18位"),
        ("11010519491231002X1", "公民身份号码长度应为18位"),
        ("1101051949123100AX", "公民身份号码应为17位数字加1位校验码（0-9或X）"),
        ("11010519491231002Y", "公民身份号码应为17位数字加1位校验码（0-9或X）"),
        ("11010519491231002１", "公民身份号码校验码错误"),  # full-width digit: normalised, then wrong
        ("110105194912310021", "公民身份号码校验码错误"),
    ],
)
def test_each_malformed_number_gets_its_own_message(value: str, message: str) -> None:
    assert resident_id_problem(value) == message
    assert not is_valid_resident_id(value)
    with pytest.raises(ValueError, match=message):
        normalize_resident_id(value)


def test_an_impossible_birth_date_is_reported_even_with_a_correct_check_character() -> None:
    first17 = "11010519490230002"  # 30 February
    assert resident_id_problem(first17 + iso7064_mod11_2(first17)) == "公民身份号码出生日期无效"
    first17 = "11010519491331002"  # month 13
    assert resident_id_problem(first17 + iso7064_mod11_2(first17)) == "公民身份号码出生日期无效"


def test_a_birth_date_before_1900_or_in_the_future_is_invalid() -> None:
    assert resident_id_problem(make_id("110105", date(1899, 12, 31))) == "公民身份号码出生日期无效"
    assert resident_id_problem(make_id("110105", date(1900, 1, 1))) is None
    today = china_today()
    assert resident_id_problem(make_id("110105", today)) is None
    assert resident_id_problem(make_id("110105", today + timedelta(days=1))) == "公民身份号码出生日期无效"
    # ``today`` can be given, e.g. to check a number as of a document's date.
    as_of = date(2020, 4, 30)
    assert resident_id_problem(make_id("110105", date(2020, 5, 1)), today=as_of) == "公民身份号码出生日期无效"


def test_the_address_code_must_start_with_a_province_or_the_foreigner_mark_9() -> None:
    """GB 11643 / GB/T 2260: first digit 1-8 by province; 9 marks the 外国人永久居留身份证 (2023 edition)."""
    born = date(1985, 6, 15)
    assert resident_id_problem(make_id("010105", born)) == "公民身份号码地址码无效"  # no province 0x
    assert resident_id_problem(make_id("190105", born)) == "公民身份号码地址码无效"  # no province 19
    assert resident_id_problem(make_id("770105", born)) == "公民身份号码地址码无效"
    for address in ("110105", "500101", "650102", "710000", "810000", "820000", "830000"):
        assert resident_id_problem(make_id(address, born)) is None, address
    assert resident_id_problem(make_id("931156", born)) is None  # 外国人永久居留身份证


def test_masking_keeps_the_address_code_and_last_four_and_hides_the_birth_date() -> None:
    assert mask_resident_id("11010519491231002X") == "110105********002X"
    assert mask_resident_id("11010519491231002x") == "110105********002X"
    assert mask_resident_id("110105491231002") == "110105******002"
    assert mask_resident_id("12345") == "*****"  # not an ID: nothing of it is shown
    assert "19491231" not in mask_resident_id("11010519491231002X")


def test_old_15_digit_numbers_are_checked_by_date_and_upgraded_with_a_check_character() -> None:
    assert old_resident_id_problem("110105491231002") is None
    assert old_resident_id_problem("110105491331002") == "公民身份号码出生日期无效"
    assert old_resident_id_problem("11010549123100") == "旧版公民身份号码长度应为15位"
    assert old_resident_id_problem("000105491231002") == "公民身份号码地址码无效"
    assert upgrade_old_resident_id("110105491231002") == "11010519491231002X"
    assert resident_id_birth_date("110105491231002") == date(1949, 12, 31)
    with pytest.raises(ValueError):
        upgrade_old_resident_id("110105491331002")


# --------------------------------------------------------------------------------------------
# 统一社会信用代码 (GB 32100-2015) and 组织机构代码 (GB 11714-1997)
# --------------------------------------------------------------------------------------------


def test_published_uscc_examples_are_valid_and_the_independent_check_agrees() -> None:
    for code in ("91350100M000100Y43", "11441700007280420Y"):
        assert gb32100_check(code[:17]) == code[17]
        assert is_valid_uscc(code), code
        assert agency_code_problem(code) is None


def test_random_usccs_agree_with_the_independent_check() -> None:
    rng = random.Random(32100)
    for _ in range(2000):
        body = (
            rng.choice("159ANY")
            + rng.choice("123")
            + f"{rng.randrange(10**6):06}"
            + "".join(rng.choice(USCC_CHARS) for _ in range(9))
        )
        code = body + gb32100_check(body)
        assert is_valid_uscc(code), code
        bad = body + USCC_CHARS[(USCC_CHARS.index(code[17]) + 1) % 31]
        assert agency_code_problem(bad) == "统一社会信用代码校验码错误"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("11441700007280420Z", "统一社会信用代码含有无效字符（只用数字和除I、O、Z、S、V以外的大写字母）"),
        ("1144170000728042OY", "统一社会信用代码含有无效字符（只用数字和除I、O、Z、S、V以外的大写字母）"),
        ("11A41700007280420Y", "统一社会信用代码第3-8位（登记管理机关行政区划码）应为数字"),
        ("11441700007280421Y", "统一社会信用代码校验码错误"),
        ("1144170000728042Y", "机关代码应为18位统一社会信用代码或9位组织机构代码"),
        ("", "机关代码不能为空"),
    ],
)
def test_each_uscc_failure_has_its_message(code: str, message: str) -> None:
    assert agency_code_problem(code) == message
    assert not is_valid_uscc(code)


def test_organization_codes_with_or_without_hyphen_normalise_to_nine_characters() -> None:
    for code in ("D2143569X", "000013338", "007280420"):
        assert gb11714_check(code[:8]) == code[8]
    assert is_valid_org_code("D2143569-X")
    assert is_valid_org_code("d2143569-x")
    assert normalize_agency_code("D2143569-X") == "D2143569X"
    assert normalize_agency_code("00001333-8") == "000013338"
    assert normalize_agency_code("000013338") == "000013338"
    assert normalize_agency_code(" 11441700007280420y ") == "11441700007280420Y"


def test_organization_code_check_maps_10_to_x_and_11_to_0() -> None:
    rng = random.Random(11714)
    seen = set()
    for _ in range(3000):
        body = "".join(rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
        check = gb11714_check(body)
        seen.add(check)
        assert is_valid_org_code(body + check)
        assert is_valid_org_code(f"{body}-{check}")
    assert {"X", "0"} <= seen


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("000013337", "组织机构代码校验码错误"),
        ("00001333-7", "组织机构代码校验码错误"),
        ("0000133#8", "组织机构代码含有无效字符（本体代码为数字或大写字母，校验码为0-9或X）"),
        ("00001333Y", "组织机构代码含有无效字符（本体代码为数字或大写字母，校验码为0-9或X）"),
        ("0000133-38", "机关代码应为18位统一社会信用代码或9位组织机构代码"),  # hyphen in the wrong place
        ("00001333", "机关代码应为18位统一社会信用代码或9位组织机构代码"),
    ],
)
def test_each_organization_code_failure_has_its_message(code: str, message: str) -> None:
    assert agency_code_problem(code) == message
    with pytest.raises(ValueError, match=message):
        normalize_agency_code(code)


# --------------------------------------------------------------------------------------------
# Mobile numbers and Luhn
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["13800138000", "+86 138 0013 8000", "86-138-0013-8000", "0086 19912345678", "１３８００１３８０００"]
)
def test_mainland_mobile_numbers_in_their_usual_spellings(value: str) -> None:
    assert is_valid_mobile(value)
    assert len(normalize_mobile(value)) == 11


@pytest.mark.parametrize(
    "value",
    [
        "12800138000",  # 12x is not a mobile prefix
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "0755-12345678",  # an office number with its area code
        "+1 138 0013 8000",
        "1380013800a",
        "",
    ],
)
def test_what_is_not_a_mainland_mobile_number(value: str) -> None:
    assert not is_valid_mobile(value)
    with pytest.raises(ValueError, match="手机号码应为11位数字"):
        normalize_mobile(value)


def test_mobile_and_card_masks_show_prefix_and_last_four_only() -> None:
    assert mask_mobile("+86 138 0013 8000") == "138****8000"
    assert mask_bank_card("6222021234567890123") == "622202*********0123"
    assert mask_bank_card("1234") == "****"


def test_luhn() -> None:
    assert luhn_ok("79927398713")  # the textbook example
    assert not luhn_ok("79927398710")
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("41111111111111a1")
    assert not luhn_ok("0")


# --------------------------------------------------------------------------------------------
# pydantic types through FastAPI: problem+json naming the field, nothing stored
# --------------------------------------------------------------------------------------------


class ApplicantIn(BaseModel):
    id_number: ResidentId
    agency: AgencyCode
    mobile: MobileNumber


def test_pydantic_types_normalise_on_the_way_in() -> None:
    got = ApplicantIn(id_number="11010519491231002x", agency="00001333-8", mobile="+86 138-0013-8000")
    assert (got.id_number, got.agency, got.mobile) == ("11010519491231002X", "000013338", "13800138000")
    with pytest.raises(ValidationError) as info:
        ApplicantIn(id_number="110105194912310021", agency="000013337", mobile="123")
    errors = {e["loc"][0]: (e["type"], e["msg"]) for e in info.value.errors()}
    assert errors == {
        "id_number": ("resident_id_invalid", "公民身份号码校验码错误"),
        "agency": ("agency_code_invalid", "组织机构代码校验码错误"),
        "mobile": ("mobile_invalid", "手机号码应为11位数字，以13-19开头（可带+86）"),
    }


async def test_invalid_identifiers_are_a_problem_naming_each_field_and_nothing_is_stored() -> None:
    stored: list[ApplicantIn] = []
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/applicants", status_code=201)
    async def create(applicant: ApplicantIn) -> ApplicantIn:
        stored.append(applicant)
        return applicant

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        bad = await client.post(
            "/applicants", json={"id_number": "110105194902300021", "agency": "11441700007280420Y", "mobile": "12345"}
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        problem = bad.json()
        assert problem["code"] == "validation_error"
        assert {(e["field"], e["message"], e["type"]) for e in problem["errors"]} == {
            ("body.id_number", "公民身份号码出生日期无效", "resident_id_invalid"),
            ("body.mobile", "手机号码应为11位数字，以13-19开头（可带+86）", "mobile_invalid"),
        }
        assert stored == []

        good = await client.post(
            "/applicants", json={"id_number": "11010519491231002x", "agency": "d2143569-x", "mobile": "138 0013 8000"}
        )
        assert good.status_code == 201
        assert good.json() == {"id_number": "11010519491231002X", "agency": "D2143569X", "mobile": "13800138000"}
        assert len(stored) == 1

    schema = app.openapi()["components"]["schemas"]["ApplicantIn"]["properties"]
    assert "公民身份号码" in schema["id_number"]["description"]
    assert "统一社会信用代码" in schema["agency"]["description"]
