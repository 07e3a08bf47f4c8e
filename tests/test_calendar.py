"""Working days and deadlines (gongkai_shared.calendar), per domain.md §6.

The official arrangements checked here are the State Council's notices:
《国务院办公厅关于2024年部分节假日安排的通知》 (国办发明电〔2023〕7号),
《国务院办公厅关于2025年部分节假日安排的通知》 (the first under the 2024 revision of
《全国年节及纪念日放假办法》: 13 statutory holiday days),
《国务院办公厅关于2026年部分节假日安排的通知》 (published 2025-11-04; dates as listed in domain.md §6).
They come from the ``chinesecalendar`` package data; overrides are tested with data built here.
"""

from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from gongkai_shared.calendar import (
    WEEKEND,
    CalendarError,
    CalendarYearUnknown,
    Holiday,
    WorkingDayCalendar,
    WorkingDayResult,
    WorkingDayTrace,
    YearArrangement,
)
from pydantic import ValidationError

D = date
CAL = WorkingDayCalendar.default()


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# A 2027 arrangement for tests only. It is NOT the official 2027 arrangement (which was not
# published when this was written): just a plausible shape (元旦 on Friday 1-1, 春节 around
# 2027-02-06, 劳动节 with a swapped Sunday) to exercise loading a year the package lacks.
TEST_2027 = YearArrangement(
    year=2027,
    holidays=[
        Holiday(name="元旦", start=D(2027, 1, 1), end=D(2027, 1, 3)),
        Holiday(name="春节", start=D(2027, 2, 5), end=D(2027, 2, 13)),
        Holiday(name="劳动节", start=D(2027, 5, 1), end=D(2027, 5, 5)),
        Holiday(name="国庆节", start=D(2027, 10, 1), end=D(2027, 10, 7)),
    ],
    workdays=[D(2027, 2, 20), D(2027, 4, 25), D(2027, 10, 9)],
    source="测试数据，非官方安排 (test data, not the official 2027 arrangement)",
)


# --------------------------------------------------------------------------------------------
# The official arrangements, from the package data
# --------------------------------------------------------------------------------------------


def test_package_matches_chinesecalendar_is_workday_for_every_day_2004_2026() -> None:
    for day in days(D(2004, 1, 1), D(2026, 12, 31)):
        assert CAL.is_working_day(day) == chinese_calendar.is_workday(day), day


def test_known_years_are_the_package_years() -> None:
    assert CAL.known_years == tuple(range(2004, 2027))
    assert CAL.is_known(2026)
    assert not CAL.is_known(2027)
    assert not CAL.is_known(2003)


def test_2024_arrangement_guobanfamingdian_2023_7() -> None:
    """国办发明电〔2023〕7号: 春节 2-10..2-17 with Sundays 2-4 and 2-18 worked; 国庆节 10-1..10-7
    with Sunday 9-29 and Saturday 10-12 worked."""
    assert D(2024, 2, 4).weekday() == 6 and CAL.is_working_day(D(2024, 2, 4))
    assert D(2024, 2, 18).weekday() == 6 and CAL.is_working_day(D(2024, 2, 18))
    assert all(not CAL.is_working_day(d) for d in days(D(2024, 2, 10), D(2024, 2, 17)))
    assert all(CAL.rest_reason(d) == "国庆节" for d in days(D(2024, 10, 1), D(2024, 10, 7)))
    assert D(2024, 9, 29).weekday() == 6 and CAL.is_working_day(D(2024, 9, 29))
    assert D(2024, 10, 12).weekday() == 5 and CAL.is_working_day(D(2024, 10, 12))
    assert CAL.rest_reason(D(2024, 10, 13)) == WEEKEND


def test_2025_arrangement_first_year_of_13_statutory_days() -> None:
    """2025 notice: 春节 1-28 (除夕, new under the 2024 revision)..2-4, Sunday 1-26 and Saturday
    2-8 worked; 国庆节、中秋节 10-1..10-8, Sunday 9-28 and Saturday 10-11 worked."""
    assert D(2025, 1, 26).weekday() == 6 and CAL.is_working_day(D(2025, 1, 26))
    assert all(CAL.rest_reason(d) == "春节" for d in days(D(2025, 1, 28), D(2025, 2, 4)))
    assert CAL.is_working_day(D(2025, 1, 27)) and CAL.is_working_day(D(2025, 2, 5))
    assert D(2025, 2, 8).weekday() == 5 and CAL.is_working_day(D(2025, 2, 8))
    assert all(not CAL.is_working_day(d) for d in days(D(2025, 10, 1), D(2025, 10, 8)))
    # the package labels the day of 中秋 itself (10-6) 中秋节 and the rest of the block 国庆节
    assert CAL.rest_reason(D(2025, 10, 6)) == "中秋节"
    assert CAL.rest_reason(D(2025, 10, 8)) == "国庆节"
    assert D(2025, 9, 28).weekday() == 6 and CAL.is_working_day(D(2025, 9, 28))
    assert D(2025, 10, 11).weekday() == 5 and CAL.is_working_day(D(2025, 10, 11))
    # 劳动节 is 2 days from 2025 (5-1, 5-2), here 5-1..5-5 with Sunday 4-27 worked
    assert all(CAL.rest_reason(d) == "劳动节" for d in days(D(2025, 5, 1), D(2025, 5, 5)))
    assert CAL.is_working_day(D(2025, 4, 27))


def test_2026_arrangement_exactly_as_domain_md_section_6() -> None:
    """《国务院办公厅关于2026年部分节假日安排的通知》 (2025-11-04), as domain.md §6 lists it."""
    off = {
        "元旦": days(D(2026, 1, 1), D(2026, 1, 3)),
        "春节": days(D(2026, 2, 15), D(2026, 2, 23)),
        "清明节": days(D(2026, 4, 4), D(2026, 4, 6)),
        "劳动节": days(D(2026, 5, 1), D(2026, 5, 5)),
        "端午节": days(D(2026, 6, 19), D(2026, 6, 21)),
        "中秋节": days(D(2026, 9, 25), D(2026, 9, 27)),
        "国庆节": days(D(2026, 10, 1), D(2026, 10, 7)),
    }
    for name, holiday_days in off.items():
        for d in holiday_days:
            assert not CAL.is_working_day(d), d
            assert CAL.rest_reason(d) == name, d
    swapped = [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20), D(2026, 10, 10)]
    assert [d.weekday() for d in swapped] == [6, 5, 5, 5, 6, 5]
    for d in swapped:
        assert CAL.is_working_day(d), d
        assert CAL.rest_reason(d) is None
    # every other weekend day of 2026 is a plain rest day; every other weekday is worked
    holiday_days = {d for ds in off.values() for d in ds}
    for d in days(D(2026, 1, 1), D(2026, 12, 31)):
        if d in holiday_days or d in swapped:
            continue
        assert CAL.is_working_day(d) == (d.weekday() < 5), d
        if d.weekday() >= 5:
            assert CAL.rest_reason(d) == WEEKEND


def test_holiday_names_are_chinese_for_every_package_holiday() -> None:
    names = {CAL.rest_reason(d) for d in chinese_calendar.holidays}
    assert names == {
        "元旦",
        "春节",
        "清明节",
        "劳动节",
        "端午节",
        "国庆节",
        "中秋节",
        "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",  # 2015-09-03, a one-off holiday
    }
    assert CAL.rest_reason(D(2015, 9, 3)) == "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日"


# --------------------------------------------------------------------------------------------
# Deadline arithmetic (domain.md §6; 民法典 art. 201: the day of the event is not counted)
# --------------------------------------------------------------------------------------------


def test_20_working_days_from_2026_09_28_cross_guoqing_and_the_10_10_saturday() -> None:
    """条例 art. 33 reply deadline for an application received Monday 2026-09-28.

    9-28 (received, not counted)
    9-29 Tue 1, 9-30 Wed 2; 10-1..10-7 国庆节 skipped;
    10-8 Thu 3, 10-9 Fri 4, 10-10 Sat 5 (调休上班); 10-11 Sun skipped;
    10-12..10-16 6-10; 10-17/18 weekend; 10-19..10-23 11-15; 10-24/25 weekend;
    10-26..10-30 16-20  ->  deadline Friday 2026-10-30.
    """
    assert CAL.add_working_days(D(2026, 9, 28), 20) == D(2026, 10, 30)

    trace = CAL.explain_add_working_days(D(2026, 9, 28), 20)
    assert isinstance(trace, WorkingDayTrace)
    assert trace.end == D(2026, 10, 30)
    assert not trace.provisional and trace.unknown_years == []
    assert [c.number for c in trace.counted] == list(range(1, 21))
    assert [c.day for c in trace.counted[:6]] == [
        D(2026, 9, 29),
        D(2026, 9, 30),
        D(2026, 10, 8),
        D(2026, 10, 9),
        D(2026, 10, 10),
        D(2026, 10, 12),
    ]
    assert trace.counted[-1].day == D(2026, 10, 30)
    assert [(s.day, s.reason) for s in trace.skipped] == [
        *((d, "国庆节") for d in days(D(2026, 10, 1), D(2026, 10, 7))),
        (D(2026, 10, 11), WEEKEND),
        (D(2026, 10, 17), WEEKEND),
        (D(2026, 10, 18), WEEKEND),
        (D(2026, 10, 24), WEEKEND),
        (D(2026, 10, 25), WEEKEND),
    ]
    # counted and skipped together are exactly the days after the event up to the deadline
    assert sorted([c.day for c in trace.counted] + [s.day for s in trace.skipped]) == days(
        D(2026, 9, 29), D(2026, 10, 30)
    )


def test_7_working_days_buzheng_notice_across_chunjie_2026_and_both_swapped_saturdays() -> None:
    """条例 art. 30 补正 notice within 7 working days of receipt, received Thursday 2026-02-12:
    2-13 Fri 1, 2-14 Sat 2 (调休上班), 2-15..2-23 春节 skipped, 2-24..2-27 3-6, 2-28 Sat 7 (调休上班)."""
    assert CAL.add_working_days(D(2026, 2, 12), 7) == D(2026, 2, 28)
    trace = CAL.explain_add_working_days(D(2026, 2, 12), 7)
    assert [c.day for c in trace.counted] == [
        D(2026, 2, 13),
        D(2026, 2, 14),
        *days(D(2026, 2, 24), D(2026, 2, 28)),
    ]
    assert {s.reason for s in trace.skipped} == {"春节"}


def test_7_working_days_across_chunjie_2025() -> None:
    """2025 notice: received Friday 2025-01-24; 1-25 Sat skipped, 1-26 Sun 1 (调休上班), 1-27 Mon 2,
    1-28..2-4 春节 skipped, 2-5..2-7 3-5, 2-8 Sat 6 (调休上班), 2-9 Sun skipped, 2-10 Mon 7."""
    assert CAL.add_working_days(D(2025, 1, 24), 7) == D(2025, 2, 10)


def test_n_zero_is_the_same_day_even_on_a_rest_day() -> None:
    assert CAL.add_working_days(D(2026, 3, 2), 0) == D(2026, 3, 2)
    assert CAL.add_working_days(D(2026, 10, 1), 0) == D(2026, 10, 1)
    trace = CAL.explain_add_working_days(D(2026, 10, 1), 0)
    assert trace.end == D(2026, 10, 1) and trace.counted == [] and trace.skipped == []


def test_day_of_event_not_counted_even_on_a_working_day() -> None:
    """民法典 art. 201: Monday 2026-03-02 is a working day, yet day 1 is Tuesday 3-3."""
    assert CAL.is_working_day(D(2026, 3, 2))
    assert CAL.add_working_days(D(2026, 3, 2), 1) == D(2026, 3, 3)
    assert CAL.add_working_days(D(2026, 3, 2), 5) == D(2026, 3, 9)  # Tue..Fri = 4, Mon 3-9 = 5


def test_event_on_a_rest_day() -> None:
    """Received Saturday 2026-10-03 (国庆节): day 1 is Thursday 10-8, 10-10 (Sat, worked) is day 3;
    10-12..16 4-8, 10-19..23 9-13, 10-26..30 14-18, 11-2 Mon 19, 11-3 Tue 20."""
    assert CAL.add_working_days(D(2026, 10, 3), 1) == D(2026, 10, 8)
    assert CAL.add_working_days(D(2026, 10, 3), 3) == D(2026, 10, 10)
    assert CAL.add_working_days(D(2026, 10, 3), 20) == D(2026, 11, 3)


def test_across_the_year_boundary_2025_to_2026() -> None:
    """2026 元旦 1-1..1-3 off, Sunday 1-4 worked: the next working day after 2025-12-31 is 1-4."""
    assert CAL.next_working_day(D(2025, 12, 31)) == D(2026, 1, 4)
    assert CAL.add_working_days(D(2025, 12, 30), 2) == D(2026, 1, 4)


def test_next_working_day_and_working_day_on_or_after() -> None:
    assert CAL.next_working_day(D(2026, 9, 30)) == D(2026, 10, 8)
    assert CAL.next_working_day(D(2026, 10, 9)) == D(2026, 10, 10)  # swapped Saturday
    assert CAL.next_working_day(D(2026, 3, 2)) == D(2026, 3, 3)  # strictly after
    assert CAL.working_day_on_or_after(D(2026, 3, 2)) == D(2026, 3, 2)
    assert CAL.working_day_on_or_after(D(2026, 10, 1)) == D(2026, 10, 8)
    assert CAL.working_day_on_or_after(D(2026, 10, 10)) == D(2026, 10, 10)
    assert CAL.working_day_on_or_after(D(2026, 10, 11)) == D(2026, 10, 12)


def test_working_days_between() -> None:
    assert CAL.working_days_between(D(2026, 9, 30), D(2026, 10, 8)) == 1
    assert CAL.working_days_between(D(2026, 9, 28), D(2026, 10, 30)) == 20
    # 2-14 (Sat, worked) 1; 2-15..2-23 春节; 2-24..2-27 4; 2-28 (Sat, worked) 1
    assert CAL.working_days_between(D(2026, 2, 13), D(2026, 2, 28)) == 6
    assert CAL.working_days_between(D(2026, 3, 2), D(2026, 3, 2)) == 0
    assert CAL.working_days_between(D(2026, 10, 8), D(2026, 9, 30)) == 0
    assert CAL.working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_days(D(2026, 3, 2), -1)
    with pytest.raises(ValueError):
        CAL.explain_add_working_days(D(2026, 3, 2), -1)
    # a datetime never equals a date: refused rather than miscounted
    with pytest.raises(TypeError):
        CAL.add_working_days(datetime(2026, 3, 2, 9, 0), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime(2026, 3, 2))  # type: ignore[arg-type]


def test_many_start_dates_property() -> None:
    """For every start in 2024-01-01..2026-06-30 and several N: the result is a working day,
    after the start, exactly N working days away, minimal, and equal to a brute-force count
    with chinese_calendar.is_workday."""
    for start in days(D(2024, 1, 1), D(2026, 6, 30)):
        for n in (1, 2, 3, 7, 15, 20, 40):
            end = CAL.add_working_days(start, n)
            assert CAL.is_working_day(end), (start, n)
            assert end > start
            assert CAL.working_days_between(start, end) == n
            assert CAL.working_days_between(start, end - timedelta(days=1)) == n - 1
            if n in (7, 20):
                expected, remaining = start, n
                while remaining:
                    expected += timedelta(days=1)
                    remaining -= chinese_calendar.is_workday(expected)
                assert end == expected, (start, n)
        assert CAL.next_working_day(start) == CAL.add_working_days(start, 1)
        trace = CAL.explain_add_working_days(start, 20)
        assert trace.end == CAL.add_working_days(start, 20)
        assert len(trace.counted) == 20
        assert all(CAL.is_working_day(c.day) for c in trace.counted)
        assert all(not CAL.is_working_day(s.day) for s in trace.skipped)


# --------------------------------------------------------------------------------------------
# Unknown years: refuse, or answer provisionally (domain.md §6)
# --------------------------------------------------------------------------------------------


def test_unknown_year_2027_raises_naming_the_year() -> None:
    with pytest.raises(CalendarYearUnknown) as caught:
        # application received 2026-12-20: its 20-working-day deadline falls in January 2027
        CAL.add_working_days(D(2026, 12, 20), 20)
    assert caught.value.year == 2027
    assert isinstance(caught.value, CalendarError)
    assert str(caught.value) == "2027年节假日安排尚未载入 (calendar for 2027 not loaded)"
    for call in (
        lambda: CAL.is_working_day(D(2027, 1, 4)),
        lambda: CAL.rest_reason(D(2027, 1, 4)),
        lambda: CAL.next_working_day(D(2026, 12, 31)),
        lambda: CAL.working_day_on_or_after(D(2027, 3, 1)),
        lambda: CAL.working_days_between(D(2026, 12, 1), D(2027, 1, 10)),
        lambda: CAL.explain_add_working_days(D(2026, 12, 20), 20),
    ):
        with pytest.raises(CalendarYearUnknown, match="2027"):
            call()
    with pytest.raises(CalendarYearUnknown, match="2003"):
        CAL.is_working_day(D(2003, 6, 2))


def test_calendar_year_unknown_pickles() -> None:
    err = pickle.loads(pickle.dumps(CalendarYearUnknown(2027)))
    assert err.year == 2027 and "2027年" in str(err)


def test_provisional_crossing_into_2027_flags_it_and_skips_1_1() -> None:
    """Received Sunday 2026-12-20, 20 working days, 2027 not loaded: 12-21..25 1-5, 12-28..31 6-9,
    2027-01-01 元旦 (fixed date) skipped, 1-2/1-3 weekend, 1-4..8 10-14, 1-11..15 15-19, 1-18 20."""
    result = CAL.add_working_days(D(2026, 12, 20), 20, provisional=True)
    assert isinstance(result, WorkingDayResult)
    assert result.end == D(2027, 1, 18)
    assert result.provisional is True
    assert result.unknown_years == [2027]

    trace = CAL.explain_add_working_days(D(2026, 12, 20), 20, provisional=True)
    assert trace.end == D(2027, 1, 18) and trace.provisional and trace.unknown_years == [2027]
    skipped = {s.day: s for s in trace.skipped}
    assert skipped[D(2027, 1, 1)].reason == "元旦" and skipped[D(2027, 1, 1)].provisional
    assert skipped[D(2026, 12, 26)].reason == WEEKEND and not skipped[D(2026, 12, 26)].provisional
    assert all(c.provisional == (c.day.year == 2027) for c in trace.counted)


def test_provisional_within_known_years_is_not_provisional() -> None:
    result = CAL.add_working_days(D(2026, 9, 28), 20, provisional=True)
    assert result == WorkingDayResult(
        start=D(2026, 9, 28), working_days=20, end=D(2026, 10, 30), provisional=False, unknown_years=[]
    )


def test_provisional_uses_fixed_statutory_dates_only() -> None:
    """2024 revision of 《全国年节及纪念日放假办法》: 劳动节 5-1, 5-2 and 国庆节 10-1..10-3 are fixed;
    the lunar holidays are not, so 2027 春节 is not skipped provisionally."""
    # Thursday 2027-04-29 -> 4-30 Fri 1, 5-1/5-2 skipped, 5-3 Mon 2 (5-3 is not a fixed date)
    assert CAL.add_working_days(D(2027, 4, 29), 2, provisional=True).end == D(2027, 5, 3)
    # Wednesday 2027-09-29 -> 9-30 Thu 1, 10-1 Fri..10-3 Sun skipped, 10-4 Mon 2
    assert CAL.add_working_days(D(2027, 9, 29), 2, provisional=True).end == D(2027, 10, 4)
    # 2027-02-08 (a Monday in the test 春节 above) is a working day provisionally
    assert CAL.add_working_days(D(2027, 2, 5), 1, provisional=True).end == D(2027, 2, 8)


# --------------------------------------------------------------------------------------------
# Overrides: loading a year, correcting a year
# --------------------------------------------------------------------------------------------


def test_loading_a_2027_override_makes_2027_known_and_changes_results() -> None:
    cal = CAL.with_overrides({2027: TEST_2027})
    assert cal is not CAL and not CAL.is_known(2027)  # immutable: the default is unchanged
    assert cal.is_known(2027) and cal.known_years[-1] == 2027

    # the December case is now exact, not provisional
    result = cal.add_working_days(D(2026, 12, 20), 20, provisional=True)
    assert result.end == D(2027, 1, 18) and not result.provisional
    assert cal.add_working_days(D(2026, 12, 20), 20) == D(2027, 1, 18)

    # received Monday 2027-02-01: provisionally 2-2..2-5 1-4, 2-8..2-12 5-9, 2-15..19 10-14, 2-22 15.
    # With the test arrangement: 2-2..2-4 1-3, 2-5..2-13 春节, 2-15..19 4-8, 2-20 Sat 9 (worked),
    # 2-22..26 10-14, 3-1 Mon 15.
    assert CAL.add_working_days(D(2027, 2, 1), 15, provisional=True).end == D(2027, 2, 22)
    assert cal.add_working_days(D(2027, 2, 1), 15) == D(2027, 3, 1)
    assert cal.rest_reason(D(2027, 2, 8)) == "春节"
    assert cal.is_working_day(D(2027, 2, 20)) and cal.is_working_day(D(2027, 10, 9))
    # 2028 is still unknown
    with pytest.raises(CalendarYearUnknown, match="2028"):
        cal.add_working_days(D(2027, 12, 20), 20)


def test_with_overrides_accepts_a_list_and_merges() -> None:
    cal = WorkingDayCalendar([TEST_2027])
    assert cal.is_known(2027)
    assert cal.overrides == {2027: TEST_2027}
    with pytest.raises(ValueError, match="2026"):
        WorkingDayCalendar({2026: TEST_2027})


def test_an_override_for_2026_fully_replaces_the_package_view() -> None:
    """A correction entered by the office replaces the whole year: what it leaves out is a plain
    weekday or weekend again."""
    corrected = YearArrangement(
        year=2026,
        holidays=[Holiday(name="元旦", start=D(2026, 1, 1), end=D(2026, 1, 1))],
        workdays=[D(2026, 1, 10)],
        source="测试数据 (test data: a correction of 2026)",
    )
    cal = CAL.with_overrides([corrected])
    assert cal.is_working_day(D(2026, 1, 2))  # the package has it off
    assert not cal.is_working_day(D(2026, 1, 4))  # the package has this Sunday worked
    assert cal.rest_reason(D(2026, 1, 4)) == WEEKEND
    assert cal.is_working_day(D(2026, 1, 10))  # swapped by the override
    assert cal.is_working_day(D(2026, 2, 16)) and cal.is_working_day(D(2026, 10, 6))  # no 春节, 国庆节
    assert cal.add_working_days(D(2026, 9, 28), 20) == D(2026, 10, 26)
    # 2025 still comes from the package
    assert cal.is_working_day(D(2025, 1, 26))
    assert CAL.is_working_day(D(2026, 1, 4))  # the default calendar is unchanged


# --------------------------------------------------------------------------------------------
# Validation of arrangements (the API turns ValidationError into HTTP 422)
# --------------------------------------------------------------------------------------------


def _arrangement(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "year": 2027,
        "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}],
        "workdays": ["2027-01-09"],
        "source": "测试数据",
    }
    data.update(changes)
    return data


def _locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[object, ...]]:
    return [tuple(e["loc"]) for e in exc.value.errors()]


def test_valid_arrangement_from_json_like_input() -> None:
    arrangement = YearArrangement.model_validate(_arrangement())
    assert arrangement.holidays[0] == Holiday(name="元旦", start=D(2027, 1, 1), end=D(2027, 1, 3))
    assert arrangement.workdays == [D(2027, 1, 9)]


def test_invalid_workday_on_a_wednesday() -> None:
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(_arrangement(workdays=["2027-01-06"]))
    assert _locs(exc) == [("workdays",)]
    assert "不是周六或周日" in str(exc.value)


def test_invalid_dates_in_another_year() -> None:
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(
            _arrangement(holidays=[{"name": "元旦", "start": "2026-12-31", "end": "2027-01-01"}])
        )
    assert _locs(exc) == [("holidays",)]
    assert "不在2027年内" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(_arrangement(workdays=["2026-12-26"]))
    assert _locs(exc) == [("workdays",)]


def test_invalid_holiday_start_after_end() -> None:
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(
            _arrangement(holidays=[{"name": "春节", "start": "2027-02-13", "end": "2027-02-05"}])
        )
    assert _locs(exc) == [("holidays", 0, "end")]
    with pytest.raises(ValidationError):
        Holiday(name="春节", start=D(2027, 2, 13), end=D(2027, 2, 5))


def test_invalid_workday_inside_a_holiday_and_overlapping_holidays() -> None:
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(_arrangement(workdays=["2027-01-02"]))
    assert _locs(exc) == [("workdays",)]
    assert "元旦" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(
            _arrangement(
                holidays=[
                    {"name": "国庆节", "start": "2027-10-01", "end": "2027-10-07"},
                    {"name": "中秋节", "start": "2027-10-07", "end": "2027-10-08"},
                ]
            )
        )
    assert _locs(exc) == [("holidays",)]
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(_arrangement(workdays=["2027-01-09", "2027-01-09"]))
    assert _locs(exc) == [("workdays",)]


def test_invalid_missing_source_and_extra_fields() -> None:
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(_arrangement(source=""))
    assert _locs(exc) == [("source",)]
    with pytest.raises(ValidationError) as exc:
        YearArrangement.model_validate(_arrangement(note="x"))
    assert _locs(exc) == [("note",)]
