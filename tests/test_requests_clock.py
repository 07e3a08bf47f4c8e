"""The legal clock of a disclosure application, from its ledger (services/requests clock.py; pure).

Expected dates are counted by hand from the official 2026 arrangement (domain.md §6): 中秋 9-25..9-27 off;
国庆 10-1..10-7 off, Sunday 9-20 and Saturday 10-10 worked; 元旦 2027-01-01 is a fixed date. The day of the
event is not counted; day 1 is the next working day (民法典 art. 201 as practised).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from gongkai_requests.clock import (
    Channel,
    ClockRuleError,
    ClockRules,
    DeadlineStatus,
    EntryKind,
    LedgerEntry,
    check_new_entry,
    compute,
    receipt_date,
)
from gongkai_shared.calendar import WorkingDayCalendar, YearArrangement

D = dt.date
CAL = WorkingDayCalendar.default()
TODAY = D(2026, 11, 20)


def entry(kind: EntryKind, on: dt.date, seq: int, **kw: object) -> LedgerEntry:
    return LedgerEntry(id=uuid.uuid4(), seq=seq, kind=kind, on=on, **kw)  # type: ignore[arg-type]


def received(on: dt.date = D(2026, 9, 24)) -> LedgerEntry:
    return entry(EntryKind.received, on, 1)


def test_reply_deadline_is_20_working_days_across_mid_autumn_and_national_day_art_33() -> None:
    """条例 art. 33: 20 working days from receipt. Received Thursday 2026-09-24:
    9-25..9-27 中秋 skipped; 9-28, 9-29, 9-30 = days 1-3; 10-1..10-7 国庆 skipped; 10-8 = 4, 10-9 = 5,
    Saturday 10-10 worked = 6; 10-12..10-16 = 7-11; 10-19..10-23 = 12-16; 10-26..10-29 = 17-20."""
    state = compute([received()], CAL, today=D(2026, 9, 24))
    reply = state.get("reply")
    assert reply is not None
    assert reply.due_on == D(2026, 10, 29)  # 20 working days
    assert reply.provisional is False and reply.status is DeadlineStatus.open
    count = reply.steps[-1]
    assert count.article == "条例第三十三条" and count.working_days == 20
    assert count.counted[5] == D(2026, 10, 10)  # the swapped Saturday is day 6
    assert len(count.counted) == 20 and count.counted[0] == D(2026, 9, 28)
    skipped = {m.day: m.skipped for m in count.skipped}
    assert skipped[D(2026, 9, 25)] == "中秋节" and skipped[D(2026, 10, 7)] == "国庆节"
    assert skipped[D(2026, 10, 11)] == "周末"
    assert D(2026, 9, 20) not in skipped  # the swapped Sunday lies before the count: not relevant


def test_correction_notice_window_is_7_working_days_art_30() -> None:
    """条例 art. 30: the one correction notice within 7 working days of receipt: 9-28, 9-29, 9-30, 10-8, 10-9,
    10-10 (Saturday worked), 10-12 → 2026-10-12."""
    notice = compute([received()], CAL, today=D(2026, 9, 24)).get("correction_notice")
    assert notice is not None and notice.due_on == D(2026, 10, 12)
    assert notice.steps[0].article == "条例第三十条"


def test_correction_suspends_then_restarts_the_reply_clock_art_30_33() -> None:
    """条例 art. 30, 33: after a correction notice the reply deadline is suspended; it restarts from the day the
    corrected application arrives. Corrected 2026-10-12 (Mon): 10-13..10-16 = 1-4, 10-19..10-23 = 5-9,
    10-26..10-30 = 10-14, 11-2..11-6 = 15-19, 11-9 = 20 → 2026-11-09."""
    r = received()
    asked = entry(EntryKind.correction_requested, D(2026, 9, 28), 2, working_days=10)
    waiting = compute([r, asked], CAL, today=D(2026, 9, 30))
    reply = waiting.get("reply")
    assert reply is not None and reply.status is DeadlineStatus.suspended and reply.due_on is None
    # The applicant's period: 10 working days after 9-28: 9-29, 9-30, 10-8, 10-9, 10-10, 10-12..10-16 → 10-16.
    answer = waiting.get("correction_answer")
    assert answer is not None and answer.due_on == D(2026, 10, 16)
    corrected = entry(EntryKind.corrected_received, D(2026, 10, 12), 3)
    state = compute([r, asked, corrected], CAL, today=D(2026, 10, 12))
    reply = state.get("reply")
    assert reply is not None and reply.due_on == D(2026, 11, 9)  # 20 working days from the corrected application
    assert state.reply_started_on == D(2026, 10, 12)
    assert reply.steps[0].event is EntryKind.corrected_received and "重新计算" in reply.steps[0].text
    assert state.get("correction_answer").status is DeadlineStatus.met  # type: ignore[union-attr]


def test_third_party_consultation_pauses_the_reply_clock_art_32() -> None:
    """条例 art. 32, 33: consultation time is not counted. Convention (domain.md §2): the working days after the
    day it is sent, up to and including the day the answer arrives. Sent Monday 9-28, answered Friday 10-9:
    paused 9-29, 9-30, 10-8, 10-9 (4 working days; 国庆 is a holiday anyway). 10-29 + 4 working days:
    10-30, 11-2, 11-3, 11-4 → 2026-11-04. The third party's own 15 working days after 9-28 end 10-23."""
    r = received()
    sent = entry(EntryKind.third_party_consulted, D(2026, 9, 28), 2)
    answer = entry(EntryKind.third_party_answered, D(2026, 10, 9), 3, ref=sent.id)
    state = compute([r, sent, answer], CAL, today=TODAY)
    reply = state.get("reply")
    assert reply is not None and reply.due_on == D(2026, 11, 4)
    assert [m.day for m in reply.steps[-1].paused] == [D(2026, 9, 29), D(2026, 9, 30), D(2026, 10, 8), D(2026, 10, 9)]
    third = state.get(f"third_party:{sent.id}")
    assert third is not None and third.due_on == D(2026, 10, 23) and third.status is DeadlineStatus.met
    assert any(s.article.startswith("条例第三十二条") and s.working_days == 4 for s in reply.steps)


def test_an_unanswered_consultation_pauses_until_its_15_day_window_ends_art_32_34() -> None:
    """条例 art. 34: another agency consulted on 9-28 that never answers: the pause runs to the end of its
    15 working days (10-23), i.e. 15 working days; 10-29 + 15 → 11-19. Silence counts as consent."""
    r = received()
    sent = entry(EntryKind.agency_consulted, D(2026, 9, 28), 2)
    state = compute([r, sent], CAL, today=TODAY)
    reply = state.get("reply")
    assert reply is not None and reply.due_on == D(2026, 11, 19)
    window = state.get(f"agency_consultation:{sent.id}")
    assert window is not None and window.due_on == D(2026, 10, 23) and window.status is DeadlineStatus.lapsed
    assert window.steps[0].article == "条例第三十四条"


def test_pause_convention_is_a_setting() -> None:
    """domain.md §2: the answer day itself not counted is a setting; counting it gives one day less pause."""
    r = received()
    sent = entry(EntryKind.third_party_consulted, D(2026, 9, 28), 2)
    answer = entry(EntryKind.third_party_answered, D(2026, 10, 9), 3, ref=sent.id)
    rules = ClockRules(pause_includes_answer_day=False)
    reply = compute([r, sent, answer], CAL, today=TODAY, rules=rules).get("reply")
    assert reply is not None and reply.due_on == D(2026, 11, 3)  # paused 9-29, 9-30, 10-8 only


def test_extension_adds_at_most_20_working_days_once_art_33() -> None:
    """条例 art. 33 第二款: one extension of ≤ 20 working days. 10-29 + 20: 10-30, 11-2..6, 11-9..13, 11-16..20,
    11-23..26 → 2026-11-26. A second extension and an extension of 21 are refused."""
    r = received()
    ext = entry(EntryKind.extension_approved, D(2026, 10, 20), 2, working_days=20)
    reply = compute([r, ext], CAL, today=TODAY).get("reply")
    assert reply is not None and reply.due_on == D(2026, 11, 26)
    assert any(s.event is EntryKind.extension_approved and s.working_days == 20 for s in reply.steps)
    again = entry(EntryKind.extension_approved, D(2026, 10, 21), 3, working_days=5)
    with pytest.raises(ClockRuleError) as second:
        check_new_entry([r, ext], again, CAL, today=TODAY)
    assert second.value.code == "extension_once" and second.value.article == "条例第三十三条第二款"
    too_long = entry(EntryKind.extension_approved, D(2026, 10, 20), 2, working_days=21)
    with pytest.raises(ClockRuleError) as over:
        check_new_entry([r], too_long, CAL, today=TODAY)
    assert over.value.code == "extension_over_limit" and over.value.field == "body.working_days"


def test_extension_must_be_approved_before_the_deadline_passes_art_33() -> None:
    r = received()
    late = entry(EntryKind.extension_approved, D(2026, 10, 30), 2, working_days=10)
    with pytest.raises(ClockRuleError) as err:
        check_new_entry([r], late, CAL, today=TODAY)
    assert err.value.code == "extension_after_deadline"


def test_correction_notice_only_once_and_within_7_working_days_art_30() -> None:
    r = received()
    asked = entry(EntryKind.correction_requested, D(2026, 9, 28), 2, working_days=10)
    with pytest.raises(ClockRuleError) as twice:
        check_new_entry(
            [r, asked], entry(EntryKind.correction_requested, D(2026, 9, 29), 3, working_days=5), CAL, today=TODAY
        )
    assert twice.value.code == "correction_once"
    with pytest.raises(ClockRuleError) as late:
        check_new_entry(
            [r], entry(EntryKind.correction_requested, D(2026, 10, 13), 2, working_days=5), CAL, today=TODAY
        )
    assert late.value.code == "correction_notice_late"  # the window ended 2026-10-12


def test_fee_payment_window_and_the_pause_while_unpaid_109() -> None:
    """国办函〔2020〕109号: pay within 20 working days from the day after receiving the notice. Notice sent and
    received 10-12: 10-13..16, 19..23, 26..30, 11-2..6, 11-9 → due 2026-11-09. Paid 10-16: with the default
    setting the reply clock pauses 10-13..10-16 (4 working days): 10-29 + 4 → 11-04."""
    r = received()
    notice = entry(EntryKind.fee_notice_sent, D(2026, 10, 12), 2, delivered_on=D(2026, 10, 12))
    unpaid = compute([r, notice], CAL, today=D(2026, 10, 14))
    fee = unpaid.get("fee_payment")
    assert fee is not None and fee.due_on == D(2026, 11, 9) and fee.status is DeadlineStatus.open
    assert unpaid.paused is True
    paid = entry(EntryKind.fee_paid, D(2026, 10, 16), 3)
    state = compute([r, notice, paid], CAL, today=TODAY)
    assert state.get("reply").due_on == D(2026, 11, 4)  # type: ignore[union-attr]
    off = compute([r, notice, paid], CAL, today=TODAY, rules=ClockRules(fee_pauses_reply=False))
    assert off.get("reply").due_on == D(2026, 10, 29)  # type: ignore[union-attr]
    overdue = compute([r, notice], CAL, today=D(2026, 11, 10)).get("fee_payment")
    assert overdue is not None and overdue.status is DeadlineStatus.overdue


def test_art_35_later_deadline_replaces_the_reply_deadline() -> None:
    r = received()
    later = entry(EntryKind.later_deadline_set, D(2026, 10, 15), 2, until=D(2026, 12, 31))
    reply = compute([r, later], CAL, today=TODAY).get("reply")
    assert reply is not None and reply.due_on == D(2026, 12, 31)
    assert reply.steps[-1].article == "条例第三十五条"
    with pytest.raises(ClockRuleError) as err:
        check_new_entry(
            [r], entry(EntryKind.later_deadline_set, D(2026, 10, 15), 2, until=D(2026, 10, 20)), CAL, today=TODAY
        )
    assert err.value.code == "later_deadline_not_later"


def test_a_december_receipt_whose_deadline_reaches_2027_is_provisional() -> None:
    """domain.md §6: 2027 is not in the package. Received 2026-12-10: 12-11 = 1, 12-14..18 = 2-6, 12-21..25 = 7-11,
    12-28..31 = 12-15; 2027-01-01 元旦 (fixed date, provisional), 01-02/03 weekend; 01-04..01-08 = 16-20 →
    2027-01-08, flagged provisional, never a silent guess."""
    reply = compute([received(D(2026, 12, 10))], CAL, today=D(2026, 12, 10)).get("reply")
    assert reply is not None and reply.due_on == D(2027, 1, 8)
    assert reply.provisional is True and reply.unknown_years == [2027]
    marks = {m.day: m for m in reply.steps[-1].skipped}
    assert marks[D(2027, 1, 1)].skipped == "元旦" and marks[D(2027, 1, 1)].provisional is True
    loaded = CAL.with_overrides(
        [
            YearArrangement(
                year=2027,
                holidays=[{"name": "元旦", "start": D(2027, 1, 1), "end": D(2027, 1, 4)}],  # type: ignore[list-item]
                workdays=[],
                source="test data (not the official arrangement)",
            )
        ]
    )
    final = compute([received(D(2026, 12, 10))], loaded, today=D(2026, 12, 10)).get("reply")
    assert final is not None and final.provisional is False and final.due_on == D(2027, 1, 11)


def test_receipt_dates_per_channel_art_31() -> None:
    """条例 art. 31: in person → that day; signed post → the day signed for; ordinary mail → the day confirmed;
    online on a rest day → the next working day (a setting); a receipt date in the future is refused."""
    rules = ClockRules()
    today = D(2026, 11, 20)
    assert receipt_date(
        Channel.in_person, calendar=CAL, rules=rules, submitted_on=D(2026, 11, 2), today=today
    ).received_on == D(2026, 11, 2)
    assert receipt_date(
        Channel.letter_signed, calendar=CAL, rules=rules, signed_on=D(2026, 11, 3), today=today
    ).received_on == D(2026, 11, 3)
    assert receipt_date(
        Channel.letter_ordinary, calendar=CAL, rules=rules, confirmed_on=D(2026, 11, 4), today=today
    ).received_on == D(2026, 11, 4)
    # Saturday 2026-11-21 online → Monday 11-23; during 中秋 (Saturday 9-26) → Monday 9-28.
    sat = receipt_date(Channel.online, calendar=CAL, rules=rules, submitted_on=D(2026, 11, 21), today=D(2026, 11, 21))
    assert sat.received_on == D(2026, 11, 23) and "休息日" in sat.text
    mid_autumn = receipt_date(
        Channel.online, calendar=CAL, rules=rules, submitted_on=D(2026, 9, 26), today=D(2026, 9, 26)
    )
    assert mid_autumn.received_on == D(2026, 9, 28)
    same_day = ClockRules(online_rest_day_next_working_day=False)
    assert receipt_date(
        Channel.online, calendar=CAL, rules=same_day, submitted_on=D(2026, 11, 21), today=D(2026, 11, 21)
    ).received_on == D(2026, 11, 21)
    with pytest.raises(ClockRuleError) as future:
        receipt_date(Channel.letter_signed, calendar=CAL, rules=rules, signed_on=D(2026, 11, 21), today=today)
    assert future.value.code == "receipt_date_in_future" and future.value.field == "body.signed_on"
    with pytest.raises(ClockRuleError) as missing:
        receipt_date(Channel.letter_signed, calendar=CAL, rules=rules, submitted_on=D(2026, 11, 2), today=today)
    assert missing.value.field == "body.signed_on"


def test_a_closed_application_takes_no_more_entries_and_its_windows_are_void() -> None:
    r = received()
    reply = entry(EntryKind.reply_sent, D(2026, 10, 20), 2)
    state = compute([r, reply], CAL, today=TODAY)
    assert state.closed and state.get("reply").status is DeadlineStatus.met  # type: ignore[union-attr]
    # No correction was asked within its window (ended 10-12): that window simply lapsed.
    assert state.get("correction_notice").status is DeadlineStatus.lapsed  # type: ignore[union-attr]
    with pytest.raises(ClockRuleError) as err:
        check_new_entry(
            [r, reply], entry(EntryKind.extension_approved, D(2026, 10, 21), 3, working_days=5), CAL, today=TODAY
        )
    assert err.value.code == "application_closed"
