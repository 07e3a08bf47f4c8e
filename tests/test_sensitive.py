"""The pre-publication scan (gongkai_catalog.sensitive).

条例 art. 15: third parties' 个人隐私 must not be published; art. 17: 先审查后公开 — the scan shows the
reviewer every suspected personal number before a notice goes out. Numbers used here are built by
an independent implementation of the check characters (ISO 7064 MOD 11-2, Luhn) written in this
file, never taken from the module under test.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from gongkai_catalog.sensitive import Finding, scan

# --------------------------------------------------------------------------------------------
# Independent check characters
# --------------------------------------------------------------------------------------------


def id_check(first17: str) -> str:
    c = (12 - sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17)) % 11) % 11
    return "X" if c == 10 else str(c)


def make_id(address: str, born: date, seq: str) -> str:
    first17 = f"{address}{born:%Y%m%d}{seq}"
    return first17 + id_check(first17)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


def make_card(prefix: str, length: int) -> str:
    body = prefix + "7" * (length - 1 - len(prefix))
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


ZHANG = make_id("440304", date(1975, 3, 8), "123")
LI = make_id("440306", date(1988, 11, 30), "245")
WANG = make_id("440303", date(1962, 1, 29), "002")
CARD = make_card("622202", 19)


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind for f in findings]


def spans(text: str, findings: list[Finding]) -> list[str]:
    return [text[f.start : f.end] for f in findings]


# --------------------------------------------------------------------------------------------
# Resident ID numbers
# --------------------------------------------------------------------------------------------


def test_a_gongshi_listing_names_with_id_numbers_finds_each_number_masked() -> None:
    """A 低保 公示 with full ID numbers is the classic leak (条例 art. 15 个人隐私)."""
    notice = (
        "关于2024年第三季度城乡最低生活保障对象的公示\n"
        "根据《社会救助暂行办法》，经审核，下列人员拟纳入最低生活保障范围，现予公示（公示期7天）：\n"
        f"序号 姓名 身份证号码 家庭人口\n1 张三 {ZHANG} 3人\n2 李四 {LI} 2人\n3 王五 {WANG} 1人\n"
        "如有异议，请于2024年10月15日前向街道办事处反映。监督电话：0755-12345678。\n"
        "索引号：11441700007280420Y/2024-00123"
    )
    found = scan(notice)
    assert kinds(found) == ["resident_id"] * 3
    assert spans(notice, found) == [ZHANG, LI, WANG]
    for f, number in zip(found, (ZHANG, LI, WANG), strict=True):
        assert f.message == "疑似公民身份号码" and f.confidence == "high"
        assert f.masked == number[:6] + "********" + number[14:]
        assert number not in f.masked and number[6:14] not in f.masked


def test_a_valid_number_is_found_and_the_same_number_with_a_wrong_check_character_is_not() -> None:
    wrong = next(
        ZHANG[:17] + c for c in "0123456789X" if c != ZHANG[17] and not luhn_valid((ZHANG[:17] + c).replace("X", "0"))
    )
    body = "经查，申请人{}于2024年3月提出申请。"
    assert kinds(scan(body.format(ZHANG))) == ["resident_id"]
    assert scan(body.format(wrong)) == []


def test_an_impossible_birth_date_is_not_an_id_number() -> None:
    first17 = "44030419750230123"  # 30 February
    assert [f for f in scan(f"编号{first17}{id_check(first17)}") if f.kind == "resident_id"] == []


def test_full_width_digits_are_found_and_offsets_point_into_the_original_text() -> None:
    full_width = ZHANG.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    text = f"身份证号：{full_width}，住址略。"
    [f] = scan(text)
    assert f.kind == "resident_id"
    assert text[f.start : f.end] == full_width
    assert f.masked == ZHANG[:6] + "********" + ZHANG[14:]


@pytest.mark.parametrize(
    "written",
    [
        f"{ZHANG[:6]} {ZHANG[6:14]} {ZHANG[14:]}",  # 6-8-4
        f"{ZHANG[:6]}-{ZHANG[6:14]}-{ZHANG[14:]}",
        f"{ZHANG[:6]} {ZHANG[6:10]} {ZHANG[10:14]} {ZHANG[14:]}",  # 6-4-4-4
        f"{ZHANG[:3]} {ZHANG[3:6]} {ZHANG[6:10]} {ZHANG[10:14]} {ZHANG[14:]}",
        f"{ZHANG[:6]}\u3000{ZHANG[6:14]}\u3000{ZHANG[14:]}",  # ideographic spaces
    ],
)
def test_numbers_written_in_groups_are_found(written: str) -> None:
    text = f"张三（身份证{written}）"
    [f] = scan(text)
    assert (f.kind, text[f.start : f.end]) == ("resident_id", written)


def test_lower_case_x_is_found() -> None:
    x_id = next(
        make_id("110105", date(1990, 1, d), "123")
        for d in range(1, 29)
        if make_id("110105", date(1990, 1, d), "123").endswith("X")
    )
    [f] = scan(f"身份证{x_id.lower()}")
    assert f.kind == "resident_id" and f.masked.endswith("X")


def test_a_number_inside_a_longer_digit_run_is_not_an_id_number() -> None:
    for text in (f"流水{ZHANG[:17]}{ZHANG[17]}7", f"1{ZHANG}", f"{ZHANG}0"):
        assert "resident_id" not in kinds(scan(text)), text


def test_old_15_digit_numbers_are_low_confidence_findings() -> None:
    found = scan("原户籍登记身份证号440304750308123，已换领。")
    assert [(f.kind, f.confidence, f.message, f.masked) for f in found] == [
        ("resident_id", "low", "疑似旧版（15位）公民身份号码", "440304******123")
    ]
    assert scan("原号码440304751308123") == []  # month 13


def test_foreign_permanent_residence_numbers_are_found() -> None:
    permit = make_id("931156", date(1980, 5, 17), "011")
    [f] = scan(f"持证人永居证号码{permit}")
    assert (f.kind, f.message) == ("resident_id", "疑似外国人永久居留身份证号码")


# --------------------------------------------------------------------------------------------
# Mobile numbers and bank cards
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    ["13800138000", "+86 138 0013 8000", "+86-13800138000", "8613800138000", "138-0013-8000", "１３８００１３８０００"],
)
def test_mobile_numbers_are_found_and_masked(written: str) -> None:
    text = f"联系人：张三，手机{written}。"
    [f] = scan(text)
    assert (f.kind, f.masked, f.message, text[f.start : f.end]) == ("mobile", "138****8000", "疑似手机号码", written)


def test_a_table_row_with_id_and_mobile_side_by_side_finds_both() -> None:
    text = f"1 张三 {ZHANG} 13800138000 幸福小区3栋"
    assert kinds(scan(text)) == ["resident_id", "mobile"]


def test_two_mobiles_separated_by_a_slash_are_both_found() -> None:
    assert kinds(scan("联系电话：13800138000/13900139000")) == ["mobile", "mobile"]


@pytest.mark.parametrize("length", [16, 19])
def test_bank_card_numbers_passing_luhn_are_found_together_or_in_fours(length: int) -> None:
    card = make_card("622848", length)
    grouped = " ".join(card[i : i + 4] for i in range(0, length, 4))
    for written in (card, grouped):
        text = f"补贴资金发放至户主银行账号{written}，请核对。"
        [f] = scan(text)
        assert (f.kind, text[f.start : f.end], f.message) == ("bank_card", written, "疑似银行卡号")
        assert f.masked == card[:6] + "*" * (length - 10) + card[-4:]


def test_a_card_number_failing_luhn_is_not_found() -> None:
    wrong = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
    assert scan(f"银行账号{wrong}") == []


# --------------------------------------------------------------------------------------------
# Negative-list terms
# --------------------------------------------------------------------------------------------


def test_negative_terms_are_found_case_and_width_insensitively() -> None:
    text = "本项目涉及ＡＢＣ内部评估报告，另见abc内部评估报告摘要。"
    found = scan(text, negative_terms=["abc内部评估报告", "  ", "不存在的词"])
    assert kinds(found) == ["negative_term", "negative_term"]
    assert spans(text, found) == ["ＡＢＣ内部评估报告", "abc内部评估报告"]
    assert found[0].message == "含有负面清单词语：abc内部评估报告"


# --------------------------------------------------------------------------------------------
# Ordinary government text is not a finding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2024年全市一般公共预算收入1234567890元。",  # an amount
        "全年完成固定资产投资13800000000元，同比增长5.2%。",  # an 11-digit amount starting with 13
        "项目总投资¥13800138000，资金已到位。",
        "合同金额：13800138000.00",
        "单价13800138000.50",  # a decimal
        "占比为0.13912345678",
        "监督电话：0755-12345678，传真：(0755)87654321。",  # office numbers with area codes
        "热线 400-123-4567，政务服务热线12345。",
        "本通知自20230101起施行，有效期至2027年12月31日。",  # dates
        "索引号：000013338/2023-00079",
        "索引号：11441700007280420Y/2021-00050",
        "索引号：000013338/202301-13800138000",
        "深府办〔2023〕12号、国办发〔2019〕54号",
        "项目编号：13202301001",  # a serial introduced as 编号
        "统计年份 2017 2018 2019 2020",  # a row of years in a table (passes Luhn as 16 digits)
        "全市常住人口13800000000人",
    ],
)
def test_ordinary_government_text_has_no_findings(text: str) -> None:
    assert scan(text) == [], scan(text)


def test_an_all_digit_credit_code_is_not_a_bank_card() -> None:
    """An agency's 统一社会信用代码 is public (domain.md §1 索引号), even when it is all digits and passes Luhn."""
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

    def uscc_check(first17: str) -> str:
        return chars[-sum(chars.index(c) * pow(3, i, 31) for i, c in enumerate(first17)) % 31]

    code = next(
        code
        for n in range(10**6)
        if (code := f"12440300{n:09}" + uscc_check(f"12440300{n:09}")).isdigit() and luhn_valid(code)
    )
    assert scan(f"发布机构：示范市司法局 {code}") == []  # no label: the code itself decides


def test_findings_are_frozen_and_in_text_order() -> None:
    text = f"申请人李四，电话13900139000，身份证{LI}，银行卡{CARD}。涉密"
    found = scan(text, ["涉密"])
    assert kinds(found) == ["mobile", "resident_id", "bank_card", "negative_term"]
    assert [f.start for f in found] == sorted(f.start for f in found)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].start = 0  # type: ignore[misc]
    assert all(number not in repr(found) for number in ("13900139000", LI, CARD))
