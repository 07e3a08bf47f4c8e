"""Working days (工作日) and deadlines counted in working days.

Rules (handbook ``domain.md`` §6, "Working days"):

* A working day is a day that is not a rest day under that year's official arrangement: a
  weekend day swapped into a working day (调休上班) counts, a holiday that falls on a Monday does
  not. The arrangement cannot be derived by rule: the State Council (国务院办公厅) publishes it
  every year, so it is *data*. From 2025 there are 13 statutory holiday days (11 before), per
  《全国年节及纪念日放假办法》 (2024 revision, in force 2025-01-01).
* Counting: the day of the event is not counted; day 1 is the next working day, and a deadline of
  N working days ends at the end of the N-th working day (《中华人民共和国民法典》 art. 201: a
  period counted in days starts on the day after the event, as practised for working days).
* A deadline that reaches beyond the known calendar must say so, never guess silently: the
  calendar raises :class:`CalendarYearUnknown`; a caller that must still show a deadline asks for
  a *provisional* result, computed for unknown years from weekends and the fixed-date statutory
  holidays only (元旦 1-1, 劳动节 5-1..5-2, 国庆节 10-1..10-3; the lunar holidays 春节, 清明节,
  端午节, 中秋节 move every year), and recomputes it once the year is loaded.

Where the data comes from: the ``chinesecalendar`` package (import name ``chinese_calendar``),
which ships the published arrangements (2004-2026 in version 1.11), plus *overrides*: a
:class:`YearArrangement` per year, entered by the disclosure office, which fully replaces the
package's view of that year. That is how a new year (e.g. 2027) is loaded before the package ships
it, or how a year is corrected. Storing overrides is not done here: this module is pure (no
database, no I/O).

Usage::

    cal = WorkingDayCalendar.default().with_overrides(arrangements_from_db)
    due = cal.add_working_days(received_on, 20)            # 条例 art. 33: 20 working days
    trace = cal.explain_add_working_days(received_on, 20)  # counted and skipped days, for display
    shown = cal.add_working_days(received_on, 20, provisional=True)  # never raises for unknown years
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from enum import Enum
from types import MappingProxyType
from typing import Literal, overload

import chinese_calendar as _cc
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "WEEKEND",
    "CalendarError",
    "CalendarYearUnknown",
    "CountedDay",
    "Holiday",
    "SkippedDay",
    "WorkingDayCalendar",
    "WorkingDayResult",
    "WorkingDayTrace",
    "YearArrangement",
]

#: Reason given for a skipped Saturday or Sunday that is not part of a holiday.
WEEKEND = "周末"

_ONE_DAY = timedelta(days=1)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class CalendarError(Exception):
    """Base class of the errors of this module."""


class CalendarYearUnknown(CalendarError):
    """The holiday arrangement of ``year`` is not loaded, and the answer depends on it.

    Raised instead of guessing (domain.md §6). The message names the year in Chinese and English.
    """

    def __init__(self, year: int) -> None:
        super().__init__(year)  # args == (year,): the exception pickles and compares cleanly
        self.year = year

    def __str__(self) -> str:
        return f"{self.year}年节假日安排尚未载入 (calendar for {self.year} not loaded)"


# --------------------------------------------------------------------------------------------
# One year's official arrangement, as published by 国务院办公厅
# --------------------------------------------------------------------------------------------


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


class Holiday(BaseModel):
    """One holiday period of an arrangement, both ends inclusive: e.g. 春节 2026-02-15..2026-02-23.

    The period is the whole block of rest days the notice announces ("放假调休，共9天"), weekend
    days included. Periods that the notice announces together (e.g. "国庆节、中秋节") are one
    period with that combined name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=50, description="节日名称，如 春节")
    start: date = Field(description="放假起始日")
    end: date = Field(description="放假结束日（含）")

    @field_validator("end")
    @classmethod
    def _end_not_before_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and end < start:
            raise _error(
                "holiday_range",
                f"结束日 {end} 早于起始日 {start} (end {end} is before start {start})",
            )
        return end

    def days(self) -> Iterator[date]:
        """Every day of the period, in order."""
        day = self.start
        while day <= self.end:
            yield day
            day += _ONE_DAY


class YearArrangement(BaseModel):
    """One year's holiday arrangement as the State Council publishes it (《国务院办公厅关于…年
    部分节假日安排的通知》): the holiday periods and the weekend days swapped into working days.

    Validation (a failure is a pydantic ``ValidationError`` whose location names the field, which
    the API layer turns into HTTP 422): every date lies in ``year``; a holiday's start is not after
    its end; holiday periods do not overlap; a swapped working day (调休上班) is a Saturday or a
    Sunday, listed once, and not inside a holiday period.

    Note: a notice occasionally touches the neighbouring year (the 2012 notice made Saturday
    2011-12-31 a working day). Such a date belongs to the arrangement of *its own* year.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    year: int = Field(ge=1949, le=9999, description="年度")
    holidays: list[Holiday] = Field(description="放假安排")
    workdays: list[date] = Field(default_factory=list, description="调休上班的周末日期")
    source: str = Field(
        min_length=1,
        max_length=500,
        description="依据，如 国务院办公厅关于2026年部分节假日安排的通知",
    )

    @field_validator("holidays")
    @classmethod
    def _holidays_in_year_and_disjoint(cls, holidays: list[Holiday], info: ValidationInfo) -> list[Holiday]:
        year = info.data.get("year")
        if year is not None:
            for i, holiday in enumerate(holidays):
                for end in ("start", "end"):
                    day: date = getattr(holiday, end)
                    if day.year != year:
                        raise _error(
                            "date_not_in_year",
                            f"第{i + 1}项 {holiday.name} 的日期 {day} 不在{year}年内 "
                            f"(holidays[{i}].{end} {day} is not in {year})",
                        )
        ordered = sorted(enumerate(holidays), key=lambda item: item[1].start)
        for (i, first), (j, second) in itertools.pairwise(ordered):
            if second.start <= first.end:
                raise _error(
                    "holiday_overlap",
                    f"{first.name} ({first.start}..{first.end}) 与 {second.name} "
                    f"({second.start}..{second.end}) 重叠 (holidays[{i}] and holidays[{j}] overlap)",
                )
        return holidays

    @field_validator("workdays")
    @classmethod
    def _workdays_are_swapped_weekend_days(cls, workdays: list[date], info: ValidationInfo) -> list[date]:
        year = info.data.get("year")
        seen: set[date] = set()
        for i, day in enumerate(workdays):
            if year is not None and day.year != year:
                raise _error(
                    "date_not_in_year",
                    f"调休上班日 {day} 不在{year}年内 (workdays[{i}] {day} is not in {year})",
                )
            if day.weekday() < 5:
                raise _error(
                    "workday_not_weekend",
                    f"调休上班日 {day} 不是周六或周日 (workdays[{i}] {day} is a "
                    f"{_WEEKDAY_NAMES[day.weekday()]}, not a Saturday or Sunday)",
                )
            if day in seen:
                raise _error(
                    "workday_duplicate",
                    f"调休上班日 {day} 重复 (workdays[{i}] {day} is listed twice)",
                )
            seen.add(day)
        # ``holidays`` is absent from info.data when it failed its own validation.
        for holiday in info.data.get("holidays") or ():
            for i, day in enumerate(workdays):
                if holiday.start <= day <= holiday.end:
                    raise _error(
                        "workday_in_holiday",
                        f"调休上班日 {day} 落在 {holiday.name} 假期 ({holiday.start}..{holiday.end}) 内 "
                        f"(workdays[{i}] {day} overlaps a holiday)",
                    )
        return workdays


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


class WorkingDayResult(BaseModel):
    """``end`` is the N-th working day after ``start`` (``start`` itself when N == 0).

    ``provisional`` is true when the count crossed a year whose arrangement is not loaded
    (``unknown_years``): those years were counted on weekends and fixed-date holidays only, so
    the date must be shown as provisional and recomputed once the year is loaded.
    """

    model_config = ConfigDict(frozen=True)

    start: date = Field(description="事件发生日（不计入）")
    working_days: int = Field(description="工作日数")
    end: date = Field(description="第N个工作日，期限于当日结束")
    provisional: bool = Field(description="是否为暂定结果（跨越了尚未载入安排的年度）")
    unknown_years: list[int] = Field(description="尚未载入安排、按暂定规则计算的年度")


class CountedDay(BaseModel):
    """A working day that was counted: ``number`` runs 1..N."""

    model_config = ConfigDict(frozen=True)

    number: int
    day: date
    provisional: bool = Field(default=False, description="该日所在年度的安排尚未载入")


class SkippedDay(BaseModel):
    """A rest day that was skipped, and why: ``周末`` or the holiday's name (e.g. ``国庆节``)."""

    model_config = ConfigDict(frozen=True)

    day: date
    reason: str
    provisional: bool = Field(default=False, description="该日所在年度的安排尚未载入")


class WorkingDayTrace(WorkingDayResult):
    """A :class:`WorkingDayResult` with the reasoning: every day after ``start`` up to ``end``,
    either counted (numbered) or skipped (with the reason), in date order within each list."""

    counted: list[CountedDay]
    skipped: list[SkippedDay]


# --------------------------------------------------------------------------------------------
# Year tables: for one year, every rest day -> why it is a rest day
# --------------------------------------------------------------------------------------------

# chinese_calendar.get_holiday_detail() returns the *value* of its ``Holiday`` enum (the English
# name, e.g. "National Day"), not the member; see chinese_calendar/constants.py (version 1.11).
# The package has no combined "National Day + Mid-autumn" value: in 2023 and 2025 it labels the
# day of 中秋 itself "Mid-autumn Festival" and the rest of the block "National Day".
_PACKAGE_HOLIDAY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "New Year's Day": "元旦",
        "Spring Festival": "春节",
        "Tomb-sweeping Day": "清明节",
        "Labour Day": "劳动节",
        "Dragon Boat Festival": "端午节",
        "National Day": "国庆节",
        "Mid-autumn Festival": "中秋节",
        # 2015-09-03, a one-off holiday (国务院 2015年 通知)
        "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
    }
)

_PACKAGE_YEARS: frozenset[int] = frozenset(range(min(_cc.holidays).year, max(_cc.holidays).year + 1))


def _package_holiday_name(name: object) -> str:
    value = name.value if isinstance(name, Enum) else str(name)
    chinese = _PACKAGE_HOLIDAY_NAMES.get(value)
    if chinese is not None:
        return chinese
    try:  # a value added by a newer package: use the package's own Chinese name
        return str(_cc.Holiday(value).chinese)
    except (ValueError, AttributeError):
        return value


def _days_of_year(year: int) -> Iterator[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += _ONE_DAY


def _weekends(year: int) -> dict[date, str]:
    return {day: WEEKEND for day in _days_of_year(year) if day.weekday() >= 5}


@functools.cache
def _package_table(year: int) -> Mapping[date, str]:
    table: dict[date, str] = {}
    for day in _days_of_year(year):
        is_rest, name = _cc.get_holiday_detail(day)
        if is_rest:
            table[day] = _package_holiday_name(name) if name is not None else WEEKEND
    return MappingProxyType(table)


def _arrangement_table(arrangement: YearArrangement) -> Mapping[date, str]:
    table = _weekends(arrangement.year)
    for holiday in arrangement.holidays:
        for day in holiday.days():
            table[day] = holiday.name
    for day in arrangement.workdays:
        table.pop(day, None)
    return MappingProxyType(table)


def _fixed_statutory_dates(year: int) -> dict[date, str]:
    """The statutory holidays on fixed solar dates (《全国年节及纪念日放假办法》).

    2024 revision, from 2025: 元旦 1-1; 劳动节 5-1, 5-2; 国庆节 10-1..10-3 (13 days in all with
    the lunar ones). 2007 revision, 2008-2024: 劳动节 5-1 only. 1999 version: 劳动节 5-1..5-3.
    """
    if year >= 2025:
        labour_days = (1, 2)
    elif year >= 2008:
        labour_days = (1,)
    else:
        labour_days = (1, 2, 3)
    fixed = {date(year, 1, 1): "元旦"}
    fixed.update({date(year, 5, d): "劳动节" for d in labour_days})
    fixed.update({date(year, 10, d): "国庆节" for d in (1, 2, 3)})
    return fixed


@functools.cache
def _provisional_table(year: int) -> Mapping[date, str]:
    """Rest days of a year whose arrangement is unknown: weekends and fixed-date holidays only
    (domain.md §6). Lunar holidays and swapped working days cannot be known in advance."""
    table = _weekends(year)
    table.update(_fixed_statutory_dates(year))
    return MappingProxyType(table)


def _check_date(value: object, what: str) -> date:
    # A datetime is a date subclass but never equals a date: refuse it rather than miscount.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime.date, not {type(value).__name__}")
    return value


def _check_count(n: object) -> int:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"n must be an int, not {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must not be negative (got {n})")
    return n


# --------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------


class WorkingDayCalendar:
    """Working days from the ``chinesecalendar`` package plus per-year overrides.

    Immutable: :meth:`with_overrides` returns a new calendar. Each year's table of rest days is
    built on first use and cached (package and provisional tables are shared by all calendars),
    so counting 20 working days is a few dict look-ups.

    :class:`CalendarYearUnknown` is raised whenever the answer depends on whether a day of a year
    that is neither overridden nor in the package is a working day (the day of the event itself,
    not being counted, does not need a known year).
    """

    __slots__ = ("_overrides", "_tables")

    def __init__(
        self,
        overrides: Mapping[int, YearArrangement] | Iterable[YearArrangement] | None = None,
    ) -> None:
        self._overrides: Mapping[int, YearArrangement] = MappingProxyType(_collect(overrides))
        self._tables: dict[int, Mapping[date, str]] = {}

    @classmethod
    def default(cls) -> WorkingDayCalendar:
        """The calendar of the package alone (one shared instance: it is immutable)."""
        return _default_calendar()

    def with_overrides(
        self, arrangements: Mapping[int, YearArrangement] | Iterable[YearArrangement]
    ) -> WorkingDayCalendar:
        """A new calendar: this one's overrides, then ``arrangements`` (which win for their year)."""
        merged = dict(self._overrides)
        merged.update(_collect(arrangements))
        return WorkingDayCalendar(merged)

    def __repr__(self) -> str:
        return f"WorkingDayCalendar(overrides={sorted(self._overrides)})"

    # -- what is known -----------------------------------------------------------------------

    @property
    def overrides(self) -> Mapping[int, YearArrangement]:
        """The override arrangements, by year (read-only)."""
        return self._overrides

    @property
    def known_years(self) -> tuple[int, ...]:
        """Every year whose arrangement is loaded (package or override), ascending."""
        return tuple(sorted(_PACKAGE_YEARS.union(self._overrides)))

    def is_known(self, year: int) -> bool:
        return year in self._overrides or year in _PACKAGE_YEARS

    # -- single days -------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """True unless ``d`` is a rest day (weekend not swapped, or a holiday) in its year."""
        day = _check_date(d, "d")
        return day not in self._table(day.year, None)

    def rest_reason(self, d: date) -> str | None:
        """Why ``d`` is a rest day (``周末`` or the holiday's name), or None for a working day."""
        day = _check_date(d, "d")
        return self._table(day.year, None).get(day)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d`` (= ``add_working_days(d, 1)``)."""
        return self.add_working_days(d, 1)

    def working_day_on_or_after(self, d: date) -> date:
        """``d`` if it is a working day, else the next working day."""
        day = _check_date(d, "d")
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    # -- counting ----------------------------------------------------------------------------

    @overload
    def add_working_days(self, start: date, n: int, *, provisional: Literal[False] = False) -> date: ...

    @overload
    def add_working_days(self, start: date, n: int, *, provisional: Literal[True]) -> WorkingDayResult: ...

    def add_working_days(self, start: date, n: int, *, provisional: bool = False) -> date | WorkingDayResult:
        """The N-th working day after ``start``: the day of the event is not counted, day 1 is
        the next working day (民法典 art. 201; domain.md §6). ``n == 0`` returns ``start``.

        With ``provisional=False`` (the default) returns a ``date`` and raises
        :class:`CalendarYearUnknown` if the count reaches a year that is not loaded. With
        ``provisional=True`` returns a :class:`WorkingDayResult` whose ``provisional`` flag says
        whether unknown years were counted on weekends and fixed-date holidays only.
        """
        end = _check_date(start, "start")
        n = _check_count(n)
        unknown: set[int] | None = set() if provisional else None
        for end, _reason in self._walk(start, n, unknown):  # noqa: B007 - the last day is the answer
            pass
        if unknown is None:
            return end
        return WorkingDayResult(
            start=start,
            working_days=n,
            end=end,
            provisional=bool(unknown),
            unknown_years=sorted(unknown),
        )

    def explain_add_working_days(self, start: date, n: int, *, provisional: bool = False) -> WorkingDayTrace:
        """:meth:`add_working_days` with the reasoning: each counted day numbered 1..N and each
        skipped day with its reason (``周末`` or the holiday's name), for display next to a
        deadline. Same rules, same errors; ``provisional`` as in :meth:`add_working_days`."""
        first = _check_date(start, "start")
        n = _check_count(n)
        unknown: set[int] | None = set() if provisional else None
        counted: list[CountedDay] = []
        skipped: list[SkippedDay] = []
        end = first
        for end, reason in self._walk(first, n, unknown):
            guessed = unknown is not None and end.year in unknown
            if reason is None:
                counted.append(CountedDay(number=len(counted) + 1, day=end, provisional=guessed))
            else:
                skipped.append(SkippedDay(day=end, reason=reason, provisional=guessed))
        return WorkingDayTrace(
            start=first,
            working_days=n,
            end=end,
            provisional=bool(unknown),
            unknown_years=sorted(unknown or ()),
            counted=counted,
            skipped=skipped,
        )

    def working_days_between(self, a: date, b: date) -> int:
        """The number of working days ``d`` with ``a < d <= b`` (0 when ``b <= a``), so that
        ``working_days_between(d, add_working_days(d, n)) == n``."""
        day = _check_date(a, "a")
        last = _check_date(b, "b")
        count = 0
        year = None
        table: Mapping[date, str] = {}
        while day < last:
            day += _ONE_DAY
            if day.year != year:
                year = day.year
                table = self._table(year, None)
            if day not in table:
                count += 1
        return count

    # -- internals ---------------------------------------------------------------------------

    def _walk(self, start: date, n: int, unknown: set[int] | None) -> Iterator[tuple[date, str | None]]:
        """The one implementation of counting: yield each day after ``start`` up to the N-th
        working day, with ``None`` for a counted day or the reason it was skipped.

        ``unknown`` is None to refuse unknown years, or a set collecting the unknown years that
        were counted provisionally.
        """
        day = start
        remaining = n
        year = None
        table: Mapping[date, str] = {}
        while remaining:
            day += _ONE_DAY
            if day.year != year:
                year = day.year
                table = self._table(year, unknown)
            reason = table.get(day)
            if reason is None:
                remaining -= 1
            yield day, reason

    def _table(self, year: int, unknown: set[int] | None) -> Mapping[date, str]:
        table = self._tables.get(year)
        if table is not None:
            return table
        arrangement = self._overrides.get(year)
        if arrangement is not None:
            table = _arrangement_table(arrangement)
        elif year in _PACKAGE_YEARS:
            table = _package_table(year)
        elif unknown is None:
            raise CalendarYearUnknown(year)
        else:
            unknown.add(year)
            return _provisional_table(year)
        self._tables[year] = table  # benign race: both threads compute the same table
        return table


def _collect(
    arrangements: Mapping[int, YearArrangement] | Iterable[YearArrangement] | None,
) -> dict[int, YearArrangement]:
    if arrangements is None:
        return {}
    if isinstance(arrangements, Mapping):
        result: dict[int, YearArrangement] = {}
        for year, arrangement in arrangements.items():
            if not isinstance(arrangement, YearArrangement):
                raise TypeError(f"override for {year} must be a YearArrangement")
            if arrangement.year != year:
                raise ValueError(f"override keyed {year} is the arrangement of {arrangement.year}")
            result[year] = arrangement
        return result
    result = {}
    for arrangement in arrangements:
        if not isinstance(arrangement, YearArrangement):
            raise TypeError(f"overrides must be YearArrangement, not {type(arrangement).__name__}")
        if arrangement.year in result:
            raise ValueError(f"two overrides for {arrangement.year}")
        result[arrangement.year] = arrangement
    return result


@functools.cache
def _default_calendar() -> WorkingDayCalendar:
    return WorkingDayCalendar()
