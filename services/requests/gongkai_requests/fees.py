"""信息处理费 (条例 art. 42; 《政府信息公开信息处理费管理办法》, 国办函〔2020〕109号, in force 2021-01-01).

Disclosure is free, except where the number or frequency of applications clearly exceeds a reasonable range
(条例 art. 42). Then the agency may charge, by one of two methods, both marginal (超额累进), **one per
application, never both** (办法第三条):

- 按件 (办法第四条): counted per applicant over one calendar month. Applications 1-10 are free; 11-30 cost 100 元
  each; from the 31st, each further band of 10 costs 100 元 more each (31-40: 200, 41-50: 300, …). One application
  asking several things may be split by "一事一申请" into the smallest reasonable units (``units``).
- 按量 (办法第五条), for paper copies, e-mail or copied data, per application by pages: up to 30 free; 31-100 at
  10 元/page; 101-200 at 20 元/page; from 201 at 40 元/page.

The applicant pays within 20 working days from the day after receiving the fee notice; unpaid, the application is
treated as abandoned (其他处理 2, see :mod:`gongkai_requests.outcomes`). This module computes amounts and the
breakdown a fee notice prints; the service computes the payment date with the shared calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from gongkai_shared.errors import FieldError, ValidationFailed

__all__ = [
    "FEES_IN_FORCE_FROM",
    "FEE_BASIS",
    "PAYMENT_WINDOW_BASIS",
    "PAYMENT_WINDOW_WORKING_DAYS",
    "FeeBand",
    "FeeError",
    "FeeMethod",
    "FeeMethodsCombined",
    "FeeQuote",
    "fees_apply_on",
    "piece_fee_for_nth",
    "piece_fee_total",
    "quote",
    "volume_fee",
]

FEES_IN_FORCE_FROM = date(2021, 1, 1)
#: Days the applicant has to pay, counted from the day after receiving the fee notice (domain.md §2).
PAYMENT_WINDOW_WORKING_DAYS = 20
PAYMENT_WINDOW_BASIS = "《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"
FEE_BASIS = "《中华人民共和国政府信息公开条例》第四十二条、《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"

_FREE_PIECES = 10
_FIRST_PAID_BAND_END = 30
_BAND_SIZE = 10
_PIECE_STEP = Decimal(100)
# 按量 (办法第五条): (first page, last page or None, 元 per page).
_VOLUME_BANDS: tuple[tuple[int, int | None, Decimal], ...] = (
    (1, 30, Decimal(0)),
    (31, 100, Decimal(10)),
    (101, 200, Decimal(20)),
    (201, None, Decimal(40)),
)


class FeeMethod(StrEnum):
    PIECE = "piece"
    VOLUME = "volume"

    @property
    def label(self) -> str:
        return "按件计收" if self is FeeMethod.PIECE else "按量计收"

    @property
    def article(self) -> str:
        return "办法第四条" if self is FeeMethod.PIECE else "办法第五条"

    @property
    def standard(self) -> str:
        """The standard as a fee notice states it."""
        if self is FeeMethod.PIECE:
            return (
                "同一申请人一个自然月内累计申请10件以下（含10件）的，不收费；11—30件（含30件）的部分，100元/件；"
                "31件以上的部分，以10件为一档，每增加一档，收费标准提高100元/件。"
            )
        return (
            "30页以下（含30页）的，不收费；31—100页（含100页）的部分，10元/页；101—200页（含200页）的部分，"
            "20元/页；201页以上的部分，40元/页。"
        )


class FeeError(ValidationFailed, ValueError):
    """Bad fee input: a ``ValueError`` for pure callers, and a 422 problem naming the field for the API."""

    code = "fee_invalid"
    title = "信息处理费计算参数不合法"

    def __init__(self, field: str, message: str, type_: str = "invalid") -> None:
        super().__init__(message, errors=[FieldError(field=field, message=message, type=type_)])
        self.field = field


class FeeMethodsCombined(FeeError):
    """Both methods asked for one application (办法第三条: 不得同时按照两种标准重复计算)."""

    code = "fee_methods_combined"
    title = "同一申请不得同时按件和按量计收信息处理费"

    def __init__(self, field: str = "body.fee_method") -> None:
        super().__init__(
            field,
            "同一件申请只能选择按件或按量一种方式计收信息处理费，不得同时按照两种标准重复计算（国办函〔2020〕109号第三条）",
            "fee_methods_combined",
        )


@dataclass(frozen=True, slots=True)
class FeeBand:
    """One line of a fee breakdown: ``第11—30件：2件 × 100元 = 200元``."""

    label: str
    unit: str
    count: int
    unit_price: Decimal
    amount: Decimal

    def line(self) -> str:
        return f"{self.label}：{self.count}{self.unit} × {self.unit_price}元 = {self.amount}元"


@dataclass(frozen=True, slots=True)
class FeeQuote:
    method: FeeMethod
    basis: str
    standard: str
    bands: tuple[FeeBand, ...]
    total: Decimal

    def lines(self) -> list[str]:
        """The breakdown as a fee notice prints it, ending with the total."""
        return [band.line() for band in self.bands] + [f"合计：{self.total}元"]


def _positive(value: int, field: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FeeError(field, f"{what}必须是整数", "int_type")
    if value < 1:
        raise FeeError(field, f"{what}必须至少为1", "greater_than_equal")
    return value


def _piece_band(n: int) -> tuple[int, int, Decimal]:
    """The 按件 band the n-th application falls in: (first, last, 元 each)."""
    if n <= _FREE_PIECES:
        return 1, _FREE_PIECES, Decimal(0)
    if n <= _FIRST_PAID_BAND_END:
        return _FREE_PIECES + 1, _FIRST_PAID_BAND_END, _PIECE_STEP
    steps = (n - _FIRST_PAID_BAND_END - 1) // _BAND_SIZE  # 31-40 → 0, 41-50 → 1, …
    first = _FIRST_PAID_BAND_END + 1 + steps * _BAND_SIZE
    return first, first + _BAND_SIZE - 1, _PIECE_STEP * (2 + steps)


def piece_fee_for_nth(n: int) -> Decimal:
    """The fee of an applicant's n-th application in a calendar month (办法第四条), n ≥ 1."""
    _positive(n, "body.nth_in_month", "本月累计申请件序号")
    return _piece_band(n)[2]


def _piece_bands(first: int, units: int) -> tuple[FeeBand, ...]:
    bands: list[FeeBand] = []
    n, last = first, first + units - 1
    while n <= last:
        band_first, band_last, price = _piece_band(n)
        end = min(band_last, last)
        count = end - n + 1
        bands.append(FeeBand(f"第{band_first}—{band_last}件", "件", count, price, price * count))
        n = end + 1
    return tuple(bands)


def piece_fee_total(count: int) -> Decimal:
    """The 按件 total for ``count`` applications by one applicant in one calendar month (办法第四条)."""
    _positive(count, "body.count", "本月累计申请件数")
    return sum((b.amount for b in _piece_bands(1, count)), Decimal(0))


def _volume_bands(pages: int) -> tuple[FeeBand, ...]:
    bands: list[FeeBand] = []
    for first, last, price in _VOLUME_BANDS:
        if pages < first:
            break
        end = pages if last is None else min(last, pages)
        count = end - first + 1
        label = f"第{first}—{last}页" if last is not None else f"第{first}页以上"
        bands.append(FeeBand(label, "页", count, price, price * count))
    return tuple(bands)


def volume_fee(pages: int) -> Decimal:
    """The 按量 fee of one application of ``pages`` pages (办法第五条), pages ≥ 1."""
    _positive(pages, "body.pages", "页数")
    return sum((b.amount for b in _volume_bands(pages)), Decimal(0))


def quote(
    method: FeeMethod | str,
    *,
    nth_in_month: int | None = None,
    units: int = 1,
    pages: int | None = None,
) -> FeeQuote:
    """The fee of one application and its breakdown, by one method (办法第三条).

    按件: ``nth_in_month`` is the application's number among the applicant's applications this calendar month
    (the first of its units, when split by 一事一申请 into ``units``). 按量: ``pages``. Passing the other
    method's input raises :class:`FeeMethodsCombined`.
    """
    try:
        method = FeeMethod(method)
    except ValueError:
        raise FeeError("body.fee_method", "收费方式只能是按件（piece）或按量（volume）", "enum") from None
    if nth_in_month is not None and pages is not None:
        raise FeeMethodsCombined()
    if method is FeeMethod.PIECE:
        if pages is not None:
            raise FeeMethodsCombined()
        if nth_in_month is None:
            raise FeeError("body.nth_in_month", "按件计收须给出本月累计申请件序号", "missing")
        _positive(nth_in_month, "body.nth_in_month", "本月累计申请件序号")
        _positive(units, "body.units", "拆分后的件数")
        bands = _piece_bands(nth_in_month, units)
    else:
        if nth_in_month is not None or units != 1:
            raise FeeMethodsCombined()
        if pages is None:
            raise FeeError("body.pages", "按量计收须给出页数", "missing")
        _positive(pages, "body.pages", "页数")
        bands = _volume_bands(pages)
    return FeeQuote(
        method=method,
        basis=f"{FEE_BASIS}{method.article.removeprefix('办法')}",
        standard=method.standard,
        bands=bands,
        total=sum((b.amount for b in bands), Decimal(0)),
    )


def fees_apply_on(day: date) -> bool:
    """Whether 信息处理费 may be charged for an application received on ``day`` (in force 2021-01-01)."""
    return day >= FEES_IN_FORCE_FROM
