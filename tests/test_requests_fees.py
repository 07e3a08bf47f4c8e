"""信息处理费 under 条例 art. 42 and 《政府信息公开信息处理费管理办法》 (国办函〔2020〕109号)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from gongkai_requests.fees import (
    PAYMENT_WINDOW_BASIS,
    PAYMENT_WINDOW_WORKING_DAYS,
    FeeError,
    FeeMethod,
    FeeMethodsCombined,
    fees_apply_on,
    piece_fee_for_nth,
    piece_fee_total,
    quote,
    volume_fee,
)
from gongkai_shared.errors import ValidationFailed


def test_109hao_piece_worked_example_45_in_a_month_is_5500() -> None:
    """domain.md §2: 45 in a month = 20×100 + 10×200 + 5×300 = 5,500 元 (国办函〔2020〕109号 第四条)."""
    assert piece_fee_total(45) == Decimal(5500)
    assert sum(piece_fee_for_nth(n) for n in range(1, 46)) == Decimal(5500)


def test_109hao_volume_worked_example_250_pages_is_4700() -> None:
    """domain.md §2: 250 pages = 700 + 2,000 + 2,000 = 4,700 元 (国办函〔2020〕109号 第五条)."""
    assert volume_fee(250) == Decimal(4700)


@pytest.mark.parametrize(
    ("n", "fee"),
    [(1, 0), (10, 0), (11, 100), (30, 100), (31, 200), (40, 200), (41, 300), (50, 300), (51, 400), (101, 900)],
)
def test_109hao_art4_piece_fee_of_the_nth_application_at_band_boundaries(n: int, fee: int) -> None:
    """国办函〔2020〕109号 第四条: 1-10 free, 11-30 100 元, then +100 元 per band of 10 (31-40 200, 41-50 300…)."""
    assert piece_fee_for_nth(n) == Decimal(fee)


@pytest.mark.parametrize(
    ("count", "total"),
    [(1, 0), (10, 0), (11, 100), (30, 2000), (31, 2200), (40, 4000), (41, 4300), (50, 7000)],
)
def test_109hao_art4_piece_totals_are_marginal(count: int, total: int) -> None:
    """超额累进: each application is charged at its own band, not the whole month at the top band."""
    assert piece_fee_total(count) == Decimal(total)


@pytest.mark.parametrize(
    ("pages", "fee"),
    [(1, 0), (30, 0), (31, 10), (100, 700), (101, 720), (200, 2700), (201, 2740), (250, 4700)],
)
def test_109hao_art5_volume_fee_at_band_boundaries(pages: int, fee: int) -> None:
    """国办函〔2020〕109号 第五条: ≤30 free; 31-100 10 元/页; 101-200 20 元/页; 201+ 40 元/页, marginal."""
    assert volume_fee(pages) == Decimal(fee)


@pytest.mark.parametrize("bad", [0, -1, -45])
def test_zero_and_negative_inputs_are_refused_naming_the_field(bad: int) -> None:
    for call, field in (
        (piece_fee_for_nth, "body.nth_in_month"),
        (piece_fee_total, "body.count"),
        (volume_fee, "body.pages"),
    ):
        with pytest.raises(FeeError) as caught:
            call(bad)
        assert caught.value.field == field
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, ValidationFailed)
        problem = caught.value.to_problem()
        assert problem["status"] == 422
        assert problem["errors"][0]["field"] == field


def test_non_integers_are_refused() -> None:
    with pytest.raises(FeeError):
        volume_fee(30.5)  # type: ignore[arg-type]
    with pytest.raises(FeeError):
        piece_fee_total(True)  # type: ignore[arg-type]


def test_109hao_art3_both_methods_for_one_application_are_refused() -> None:
    """国办函〔2020〕109号 第三条: one method per application, 不得同时按照两种标准重复计算."""
    for method in FeeMethod:
        with pytest.raises(FeeMethodsCombined) as caught:
            quote(method, nth_in_month=12, pages=80)
        problem = caught.value.to_problem()
        assert problem["code"] == "fee_methods_combined"
        assert problem["status"] == 422
        assert "第三条" in problem["detail"]
    with pytest.raises(FeeMethodsCombined):
        quote(FeeMethod.VOLUME, pages=80, units=2)
    assert issubclass(FeeMethodsCombined, ValueError)


def test_quote_requires_the_input_of_its_method_and_a_known_method() -> None:
    with pytest.raises(FeeError) as caught:
        quote(FeeMethod.PIECE)
    assert caught.value.field == "body.nth_in_month"
    with pytest.raises(FeeError) as caught:
        quote(FeeMethod.VOLUME)
    assert caught.value.field == "body.pages"
    with pytest.raises(FeeError) as caught:
        quote("both", pages=3)
    assert caught.value.field == "body.fee_method"


def test_volume_quote_prints_each_band_for_the_fee_notice() -> None:
    """The fee notice states basis, standard and amount (domain.md §2), step by step."""
    q = quote("volume", pages=250)
    assert q.method is FeeMethod.VOLUME
    assert q.total == Decimal(4700)
    assert [(b.label, b.count, b.unit_price, b.amount) for b in q.bands] == [
        ("第1—30页", 30, Decimal(0), Decimal(0)),
        ("第31—100页", 70, Decimal(10), Decimal(700)),
        ("第101—200页", 100, Decimal(20), Decimal(2000)),
        ("第201页以上", 50, Decimal(40), Decimal(2000)),
    ]
    assert q.lines()[-1] == "合计：4700元"
    assert q.lines()[1] == "第31—100页：70页 × 10元 = 700元"
    assert "第四十二条" in q.basis and "109号" in q.basis and q.basis.endswith("第五条")
    assert "201页以上的部分，40元/页" in q.standard


def test_piece_quote_of_one_application_is_its_marginal_fee() -> None:
    q = quote(FeeMethod.PIECE, nth_in_month=35)
    assert q.total == Decimal(200)
    assert [(b.label, b.count, b.amount) for b in q.bands] == [("第31—40件", 1, Decimal(200))]
    assert q.basis.endswith("第四条")


def test_109hao_art4_an_application_split_by_yishi_yishenqing_spans_bands() -> None:
    """国办函〔2020〕109号 第四条: "一事一申请" splits one application into units; each is counted in its band."""
    q = quote(FeeMethod.PIECE, nth_in_month=9, units=4)  # the 9th-12th of the month
    assert [(b.label, b.count, b.amount) for b in q.bands] == [
        ("第1—10件", 2, Decimal(0)),
        ("第11—30件", 2, Decimal(200)),
    ]
    assert q.total == Decimal(200)
    month = sum((quote(FeeMethod.PIECE, nth_in_month=n).total for n in range(1, 46)), Decimal(0))
    assert month == piece_fee_total(45)


def test_payment_window_is_20_working_days_under_109hao() -> None:
    """domain.md §2: pay within 20 working days from the day after receiving the notice (国办函〔2020〕109号)."""
    assert PAYMENT_WINDOW_WORKING_DAYS == 20
    assert "109号" in PAYMENT_WINDOW_BASIS


def test_fees_apply_from_2021_01_01() -> None:
    """国办函〔2020〕109号 in force 2021-01-01."""
    assert not fees_apply_on(date(2020, 12, 31))
    assert fees_apply_on(date(2021, 1, 1))
