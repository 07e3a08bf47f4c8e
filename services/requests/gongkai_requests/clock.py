"""The legal clock of an application, derived from its ledger (pure: no database, no I/O).

Every legal event of an application is a :class:`LedgerEntry`; :func:`compute` turns the entries,
the working-day calendar and the office's settings (:class:`ClockRules`) into the current
deadlines, each with the steps that explain it day by day. :func:`check_new_entry` says whether an
entry may be added (the rules of 条例 art. 30-35), :func:`receipt_date` applies art. 31.

The rules (handbook domain.md §2 and §6; 条例 = 《中华人民共和国政府信息公开条例》 2019):

* Counting: the day of the event is not counted; day 1 is the next working day; N working days end
  at the end of the N-th working day (民法典 art. 201 as practised, domain.md §6).
* 补正 (art. 30): one notice only, within 7 working days of receipt, giving a reasonable period to
  answer. The reply deadline restarts from the day the corrected application is received; while
  the correction is awaited there is no running reply deadline. Missed period → 其他处理 1.
* Reply (art. 33): 20 working days from receipt (or from the corrected application); one extension
  of at most 20 working days, approved by the head of the disclosure office.
* Consultations (art. 32 third party, art. 34 other agency): the consulted party answers within 15
  working days; that time is not counted. Convention (domain.md §2, a setting in one place):
  the working days *after* the day the consultation is sent, up to and including the day its
  answer arrives (or its 15-day window ends), do not count.
* Fees (国办函〔2020〕109号): the applicant pays within 20 working days counted from the day after
  receiving the notice; unpaid → 其他处理 2. Whether the reply clock pauses while a fee is pending is
  a setting (default: it pauses from the notice until payment, same convention as consultations).
* Art. 35: the agency may set a later reasonable deadline and tell the applicant; it replaces the
  reply deadline.
* A date in a year whose holiday arrangement is not loaded is counted provisionally (weekends and
  fixed-date holidays) and flagged ``provisional``, never guessed silently.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from enum import StrEnum

from gongkai_shared.calendar import WorkingDayCalendar
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONSULTATION_WORKING_DAYS",
    "CORRECTION_NOTICE_WORKING_DAYS",
    "FEE_PAYMENT_WORKING_DAYS",
    "MAX_EXTENSION_WORKING_DAYS",
    "REPLY_WORKING_DAYS",
    "Channel",
    "ClockRuleError",
    "ClockRules",
    "ClockState",
    "Deadline",
    "DeadlineKind",
    "DeadlineStatus",
    "EntryKind",
    "ExplainStep",
    "LedgerEntry",
    "Receipt",
    "check_new_entry",
    "compute",
    "receipt_date",
]

#: 条例 art. 33: reply within 20 working days of receipt.
REPLY_WORKING_DAYS = 20
#: 条例 art. 33: one extension of at most 20 working days.
MAX_EXTENSION_WORKING_DAYS = 20
#: 条例 art. 30: the correction notice goes out within 7 working days of receipt.
CORRECTION_NOTICE_WORKING_DAYS = 7
#: 条例 art. 32 and 34: the consulted third party or agency answers within 15 working days.
CONSULTATION_WORKING_DAYS = 15
#: 国办函〔2020〕109号: the applicant pays within 20 working days from the day after receiving the notice.
FEE_PAYMENT_WORKING_DAYS = 20
#: A reasonable correction period (条例 art. 30 "合理的补正期限"): at most this many working days.
MAX_CORRECTION_PERIOD_WORKING_DAYS = 60

_ONE_DAY = dt.timedelta(days=1)
_WALK_LIMIT = 3660  # days; a ledger can never legitimately need more


class Channel(StrEnum):
    """How the application arrived (条例 art. 29, 31)."""

    online = "online"  # 网上申请
    letter_signed = "letter_signed"  # 信函：挂号信、EMS 等需签收
    letter_ordinary = "letter_ordinary"  # 信函：平信
    in_person = "in_person"  # 当面提交
    fax = "fax"  # 传真
    oral = "oral"  # 口头提出（书写确有困难，工作人员代为填写）


CHANNEL_LABELS = {
    Channel.online: "网上申请",
    Channel.letter_signed: "信函（需签收）",
    Channel.letter_ordinary: "信函（平信）",
    Channel.in_person: "当面提交",
    Channel.fax: "传真",
    Channel.oral: "口头提出",
}


class EntryKind(StrEnum):
    """A legal event of an application (the ledger)."""

    received = "received"  # 收到申请 (art. 31)
    correction_requested = "correction_requested"  # 发出补正通知 (art. 30)
    corrected_received = "corrected_received"  # 收到补正后的申请 (art. 30, 33)
    third_party_consulted = "third_party_consulted"  # 书面征求第三方意见 (art. 32)
    third_party_answered = "third_party_answered"  # 第三方答复 (art. 32)
    agency_consulted = "agency_consulted"  # 征求其他机关意见 (art. 34)
    agency_answered = "agency_answered"  # 其他机关答复 (art. 34)
    extension_approved = "extension_approved"  # 延长答复期限（经批准）(art. 33)
    fee_notice_sent = "fee_notice_sent"  # 发出收费通知 (109号)
    fee_paid = "fee_paid"  # 申请人缴费 (109号)
    later_deadline_set = "later_deadline_set"  # 确定延迟答复的合理期限 (art. 35)
    reply_sent = "reply_sent"  # 作出答复 (art. 33, 36)
    closed = "closed"  # 终止办理（逾期未补正、逾期未缴费等）


ENTRY_LABELS = {
    EntryKind.received: "收到申请",
    EntryKind.correction_requested: "发出补正通知",
    EntryKind.corrected_received: "收到补正后的申请",
    EntryKind.third_party_consulted: "书面征求第三方意见",
    EntryKind.third_party_answered: "收到第三方意见",
    EntryKind.agency_consulted: "征求其他机关意见",
    EntryKind.agency_answered: "收到其他机关意见",
    EntryKind.extension_approved: "延长答复期限（经批准）",
    EntryKind.fee_notice_sent: "发出收费通知",
    EntryKind.fee_paid: "申请人缴纳信息处理费",
    EntryKind.later_deadline_set: "确定延迟答复的合理期限",
    EntryKind.reply_sent: "作出答复",
    EntryKind.closed: "终止办理",
}

_CONSULTATION_ANSWER = {
    EntryKind.third_party_consulted: EntryKind.third_party_answered,
    EntryKind.agency_consulted: EntryKind.agency_answered,
}
_ANSWER_OF = {v: k for k, v in _CONSULTATION_ANSWER.items()}
_TERMINAL = frozenset({EntryKind.reply_sent, EntryKind.closed})


class LedgerEntry(BaseModel):
    """One recorded legal event. ``seq`` orders entries recorded for the same day."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    seq: int = 0
    kind: EntryKind
    on: dt.date = Field(description="事件发生日期")
    working_days: int | None = Field(default=None, description="补正期限或延长的工作日数")
    ref: uuid.UUID | None = Field(default=None, description="答复所对应的征求意见记录")
    until: dt.date | None = Field(default=None, description="第三十五条确定的答复期限")
    delivered_on: dt.date | None = Field(default=None, description="收费通知送达申请人之日")


class ClockRules(BaseModel):
    """The settings that the texts leave open (domain.md §2), in one place."""

    model_config = ConfigDict(frozen=True)

    #: Whether the reply clock pauses while a fee notice is unpaid (default on, domain.md §2).
    fee_pauses_reply: bool = True
    #: Pause convention: the answer day itself is not counted (True) or is counted (False).
    pause_includes_answer_day: bool = True
    #: Online (or fax) on a rest day: the receipt date is the next working day (domain.md §2).
    online_rest_day_next_working_day: bool = True


class DeadlineKind(StrEnum):
    correction_notice = "correction_notice"  # 补正告知期限 (art. 30)
    correction_answer = "correction_answer"  # 申请人补正期限 (art. 30)
    reply = "reply"  # 答复期限 (art. 33)
    third_party = "third_party"  # 第三方答复期限 (art. 32)
    agency_consultation = "agency_consultation"  # 其他机关答复期限 (art. 34)
    fee_payment = "fee_payment"  # 缴费期限 (109号)


DEADLINE_LABELS = {
    DeadlineKind.correction_notice: "补正告知期限",
    DeadlineKind.correction_answer: "申请人补正期限",
    DeadlineKind.reply: "答复期限",
    DeadlineKind.third_party: "第三方答复期限",
    DeadlineKind.agency_consultation: "其他机关答复期限",
    DeadlineKind.fee_payment: "缴费期限",
}


class DeadlineStatus(StrEnum):
    open = "open"  # 进行中
    met = "met"  # 已按期完成
    late = "late"  # 逾期后完成
    overdue = "overdue"  # 已逾期、尚未完成
    lapsed = "lapsed"  # 期限届满而未发生（如第三方未答复，视为无意见；未在 7 日内补正告知）
    suspended = "suspended"  # 暂停（等待补正，答复期限尚未起算）
    void = "void"  # 办理已终结，不再适用


#: Statuses of a deadline that still needs someone to act (sweeps look only at these).
ACTIVE_STATUSES = frozenset({DeadlineStatus.open, DeadlineStatus.overdue})


class DayMark(BaseModel):
    """One day of a count: counted (``number`` 1..N), skipped (``reason``) or paused (``reason``)."""

    model_config = ConfigDict(frozen=True)

    day: dt.date
    number: int | None = Field(default=None, description="计入的第几个工作日")
    skipped: str | None = Field(default=None, description="休息日原因：周末或节日名称")
    paused: str | None = Field(default=None, description="不计入期限的原因（征求意见、待缴费）")
    provisional: bool = Field(default=False, description="该日所在年度的节假日安排尚未载入")


class ExplainStep(BaseModel):
    """One step of a deadline's explanation: the ledger event, the article, and the days counted."""

    model_config = ConfigDict(frozen=True)

    event: EntryKind | None = Field(default=None, description="依据的台账事件")
    entry_id: uuid.UUID | None = None
    on: dt.date | None = Field(default=None, description="事件日期")
    article: str = Field(description="法律依据")
    text: str = Field(description="说明")
    working_days: int | None = Field(default=None, description="本步骤计算的工作日数")
    result: dt.date | None = Field(default=None, description="本步骤得出的日期")
    counted: list[dt.date] = Field(default_factory=list, description="计入的工作日（依次为第1、2…日）")
    skipped: list[DayMark] = Field(default_factory=list, description="跳过的休息日及原因")
    paused: list[DayMark] = Field(default_factory=list, description="暂停计算的工作日及原因")


class Deadline(BaseModel):
    """A current deadline of the application."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="期限标识（同类期限有多个时带记录 ID）")
    kind: DeadlineKind
    label: str
    article: str
    due_on: dt.date | None = Field(description="期限届满日（当日结束）；暂停时为空")
    provisional: bool = Field(default=False, description="跨越尚未载入节假日安排的年度，为暂定日期")
    unknown_years: list[int] = Field(default_factory=list)
    status: DeadlineStatus
    entry_id: uuid.UUID | None = Field(default=None, description="起算事件")
    steps: list[ExplainStep] = Field(default_factory=list)


class ClockState(BaseModel):
    received_on: dt.date | None
    reply_started_on: dt.date | None = Field(description="答复期限起算日（收到申请或补正后的申请之日）")
    paused: bool = Field(description="答复期限当前是否暂停计算")
    closed: bool
    deadlines: list[Deadline]

    def get(self, key: str) -> Deadline | None:
        return next((d for d in self.deadlines if d.key == key), None)


class ClockRuleError(Exception):
    """An entry the law does not allow: ``code`` is stable, ``field`` names the input, ``article`` the rule."""

    def __init__(self, code: str, message: str, *, field: str = "body.kind", article: str, conflict: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.article = article
        #: True when the application's state forbids it (409); False for a bad value (422).
        self.conflict = conflict


# --------------------------------------------------------------------------------------------
# Days
# --------------------------------------------------------------------------------------------


#: Day statuses per calendar, shared by the computations that use the same (immutable) calendar: a recompute
#: of thousands of applications asks about the same days again and again. Keyed by ``id`` and holding the
#: calendar itself, so that an id cannot be reused while its entry lives; the few most recent calendars kept.
_DAY_MEMOS: OrderedDict[int, tuple[WorkingDayCalendar, dict[dt.date, tuple[str | None, bool]]]] = OrderedDict()
_DAY_MEMOS_KEPT = 8


def _day_memo(calendar: WorkingDayCalendar) -> dict[dt.date, tuple[str | None, bool]]:
    entry = _DAY_MEMOS.get(id(calendar))
    if entry is not None and entry[0] is calendar:
        _DAY_MEMOS.move_to_end(id(calendar))
        return entry[1]
    memo: dict[dt.date, tuple[str | None, bool]] = {}
    _DAY_MEMOS[id(calendar)] = (calendar, memo)
    while len(_DAY_MEMOS) > _DAY_MEMOS_KEPT:
        _DAY_MEMOS.popitem(last=False)
    return memo


class _Days:
    """Rest-or-working for single days, provisional for unknown years (memoised per calendar)."""

    def __init__(self, calendar: WorkingDayCalendar) -> None:
        self._calendar = calendar
        self._memo = _day_memo(calendar)
        self.unknown_years: set[int] = set()

    def status(self, day: dt.date) -> tuple[str | None, bool]:
        """(rest reason or None for a working day, provisional)."""
        hit = self._memo.get(day)
        if hit is None:
            # The walk from the day before visits ``day`` first: counted, or the first skipped day.
            trace = self._calendar.explain_add_working_days(day - _ONE_DAY, 1, provisional=True)
            for s in trace.skipped:
                self._memo[s.day] = (s.reason, s.provisional)
            c = trace.counted[0]
            self._memo[c.day] = (None, c.provisional)
            self.unknown_years.update(trace.unknown_years)
            hit = self._memo[day]
        if hit[1]:
            self.unknown_years.add(day.year)
        return hit

    def walk(
        self, start: dt.date, n: int, paused: dict[dt.date, str] | None = None
    ) -> tuple[dt.date, list[dt.date], list[DayMark], list[DayMark], bool]:
        """The N-th counted working day after ``start``: working days in ``paused`` do not count."""
        paused = paused or {}
        counted: list[dt.date] = []
        skipped: list[DayMark] = []
        held: list[DayMark] = []
        provisional = False
        day = start
        steps = 0
        while len(counted) < n:
            day += _ONE_DAY
            steps += 1
            if steps > _WALK_LIMIT:
                raise ValueError("working-day walk exceeded its limit")
            reason, guessed = self.status(day)
            provisional = provisional or guessed
            if reason is not None:
                skipped.append(DayMark(day=day, skipped=reason, provisional=guessed))
            elif day in paused:
                held.append(DayMark(day=day, paused=paused[day], provisional=guessed))
            else:
                counted.append(day)
        return day, counted, skipped, held, provisional

    def working_days_in(self, after: dt.date, through: dt.date) -> list[dt.date]:
        out = []
        day = after
        while day < through:
            day += _ONE_DAY
            if self.status(day)[0] is None:
                out.append(day)
        return out


def _count_step(
    days: _Days,
    *,
    start: dt.date,
    n: int,
    article: str,
    text: str,
    event: EntryKind | None,
    entry_id: uuid.UUID | None,
    paused: dict[dt.date, str] | None = None,
) -> tuple[ExplainStep, dt.date, bool]:
    end, counted, skipped, held, provisional = days.walk(start, n, paused)
    step = ExplainStep(
        event=event,
        entry_id=entry_id,
        on=start,
        article=article,
        text=text,
        working_days=n,
        result=end,
        counted=counted,
        skipped=skipped,
        paused=held,
    )
    return step, end, provisional


# --------------------------------------------------------------------------------------------
# Receipt date (art. 31)
# --------------------------------------------------------------------------------------------


class Receipt(BaseModel):
    received_on: dt.date
    provisional: bool = False
    article: str = "条例第三十一条"
    text: str


def receipt_date(
    channel: Channel,
    *,
    calendar: WorkingDayCalendar,
    rules: ClockRules,
    submitted_on: dt.date | None = None,
    signed_on: dt.date | None = None,
    confirmed_on: dt.date | None = None,
    today: dt.date,
) -> Receipt:
    """The receipt date of 条例 art. 31 for ``channel``; raises :class:`ClockRuleError` naming the
    missing or impossible field (a receipt date in the future is refused)."""
    if channel in (Channel.in_person, Channel.oral):
        on = _required(submitted_on, "body.submitted_on", "当面（含口头）提出的申请，须填写提交日期")
        text = "当面提交的，以提交之日为收到申请之日（条例第三十一条第一项）"
    elif channel is Channel.letter_signed:
        on = _required(signed_on, "body.signed_on", "需签收的邮件，须填写行政机关签收之日")
        text = "以邮寄方式提交、需签收的，以行政机关签收之日为收到申请之日（条例第三十一条第二项）"
    elif channel is Channel.letter_ordinary:
        on = _required(confirmed_on, "body.confirmed_on", "平常信函，须填写与申请人确认之日")
        text = "以平常信函等无需签收方式提交的，以与申请人确认之日为收到申请之日（条例第三十一条第二项）"
    else:  # online, fax: the day both sides confirm
        base = confirmed_on or submitted_on
        field = "body.confirmed_on" if confirmed_on else "body.submitted_on"
        on = _required(base, field, "网上或传真申请，须有提交或双方确认之日")
        text = "通过互联网或传真提交的，以双方确认之日为收到申请之日（条例第三十一条第三项）"
        if on > today:
            raise ClockRuleError(
                "receipt_date_in_future",
                f"日期 {on} 晚于今天 {today}",
                field=field,
                article="条例第三十一条",
                conflict=False,
            )
        if rules.online_rest_day_next_working_day:
            days = _Days(calendar)
            reason, _ = days.status(on)
            if reason is not None:
                nxt, *_ = days.walk(on, 1)
                text += f"；{on} 为休息日（{reason}），机关只能在工作日确认，收到日期为下一个工作日 {nxt}（本机关设置）"
                return Receipt(received_on=nxt, provisional=bool(days.unknown_years), text=text)
        return Receipt(received_on=on, text=text)
    if on > today:
        field = {Channel.letter_signed: "body.signed_on", Channel.letter_ordinary: "body.confirmed_on"}.get(
            channel, "body.submitted_on"
        )
        raise ClockRuleError(
            "receipt_date_in_future",
            f"收到申请日期 {on} 晚于今天 {today}",
            field=field,
            article="条例第三十一条",
            conflict=False,
        )
    return Receipt(received_on=on, text=text)


def _required(value: dt.date | None, field: str, message: str) -> dt.date:
    if value is None:
        raise ClockRuleError("receipt_date_missing", message, field=field, article="条例第三十一条", conflict=False)
    return value


# --------------------------------------------------------------------------------------------
# Deadlines
# --------------------------------------------------------------------------------------------


def _ordered(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    return sorted(entries, key=lambda e: (e.on, e.seq))


def _first(entries: Sequence[LedgerEntry], kind: EntryKind) -> LedgerEntry | None:
    return next((e for e in entries if e.kind is kind), None)


def _status(done: LedgerEntry | None, due: dt.date, today: dt.date, *, missing: DeadlineStatus) -> DeadlineStatus:
    if done is not None:
        return DeadlineStatus.met if done.on <= due else DeadlineStatus.late
    return DeadlineStatus.open if today <= due else missing


def compute(
    entries: Iterable[LedgerEntry],
    calendar: WorkingDayCalendar,
    *,
    today: dt.date,
    rules: ClockRules | None = None,
) -> ClockState:
    """The current deadlines of an application from its ledger, each explained step by step."""
    rules = rules or ClockRules()
    ledger = _ordered(entries)
    received = _first(ledger, EntryKind.received)
    terminal = next((e for e in ledger if e.kind in _TERMINAL), None)
    if received is None:
        return ClockState(received_on=None, reply_started_on=None, paused=False, closed=False, deadlines=[])
    days = _Days(calendar)
    deadlines: list[Deadline] = []

    def finish(kind: DeadlineKind, *, key: str | None = None, **kw: object) -> Deadline:
        status = kw.pop("status")
        if terminal is not None and status in (DeadlineStatus.open, DeadlineStatus.overdue):
            status = DeadlineStatus.void if kind is not DeadlineKind.reply else status
        d = Deadline(key=key or kind.value, kind=kind, label=DEADLINE_LABELS[kind], status=status, **kw)  # type: ignore[arg-type]
        deadlines.append(d)
        return d

    # -- 补正告知期限 (art. 30): 7 working days from receipt ------------------------------------
    correction = _first(ledger, EntryKind.correction_requested)
    days.unknown_years.clear()
    step, due, _ = _count_step(
        days,
        start=received.on,
        n=CORRECTION_NOTICE_WORKING_DAYS,
        article="条例第三十条",
        text=f"收到申请之日（{received.on}）不计入，自次日起算 {CORRECTION_NOTICE_WORKING_DAYS} 个工作日内"
        "一次性告知补正",
        event=EntryKind.received,
        entry_id=received.id,
    )
    finish(
        DeadlineKind.correction_notice,
        article="条例第三十条",
        due_on=due,
        provisional=bool(days.unknown_years),
        unknown_years=sorted(days.unknown_years),
        status=_status(correction, due, today, missing=DeadlineStatus.lapsed),
        entry_id=received.id,
        steps=[step],
    )

    # -- 申请人补正期限 (art. 30): the period given in the notice ------------------------------------
    corrected = _first(ledger, EntryKind.corrected_received)
    if correction is not None:
        period = correction.working_days or 0
        days.unknown_years.clear()
        step, due, _ = _count_step(
            days,
            start=correction.on,
            n=period,
            article="条例第三十条",
            text=f"补正通知发出之日（{correction.on}）不计入，申请人应在 {period} 个工作日内补正；"
            "无正当理由逾期不补正的，视为放弃申请（其他处理 1）",
            event=EntryKind.correction_requested,
            entry_id=correction.id,
        )
        finish(
            DeadlineKind.correction_answer,
            article="条例第三十条",
            due_on=due,
            provisional=bool(days.unknown_years),
            unknown_years=sorted(days.unknown_years),
            status=_status(corrected, due, today, missing=DeadlineStatus.overdue),
            entry_id=correction.id,
            steps=[step],
        )

    # -- consultations (art. 32, 34): 15 working days each; their pause of the reply clock ---------
    paused: dict[dt.date, str] = {}
    pause_steps: list[ExplainStep] = []
    pausing_now = False
    for sent in (e for e in ledger if e.kind in _CONSULTATION_ANSWER):
        answer_kind = _CONSULTATION_ANSWER[sent.kind]
        answer = next((e for e in ledger if e.kind is answer_kind and e.ref == sent.id), None)
        third = sent.kind is EntryKind.third_party_consulted
        article = "条例第三十二条" if third else "条例第三十四条"
        who = "第三方" if third else "其他机关"
        days.unknown_years.clear()
        step, window_end, _ = _count_step(
            days,
            start=sent.on,
            n=CONSULTATION_WORKING_DAYS,
            article=article,
            text=f"征求意见书发出之日（{sent.on}）不计入，{who}应自收到之日起 {CONSULTATION_WORKING_DAYS} "
            "个工作日内提出意见；" + ("逾期未提出的，由行政机关依法决定" if third else "逾期未提出的，视为同意公开"),
            event=sent.kind,
            entry_id=sent.id,
        )
        kind = DeadlineKind.third_party if third else DeadlineKind.agency_consultation
        finish(
            kind,
            key=f"{kind.value}:{sent.id}",
            article=article,
            due_on=window_end,
            provisional=bool(days.unknown_years),
            unknown_years=sorted(days.unknown_years),
            status=_status(answer, window_end, today, missing=DeadlineStatus.lapsed),
            entry_id=sent.id,
            steps=[step],
        )
        # The pause: working days after the day sent, up to and including the answer day or the window end.
        if answer is not None and answer.on <= window_end:
            last = answer.on if rules.pause_includes_answer_day else answer.on - _ONE_DAY
            why = f"答复日 {answer.on}"
        else:
            last = window_end
            why = f"{CONSULTATION_WORKING_DAYS} 个工作日届满日 {window_end}" + (
                "" if answer else "（尚未答复，按届满日计）"
            )
            if answer is None and today <= window_end:
                pausing_now = True
        reason = f"征求{who}意见（{sent.on} 发出）"
        held = days.working_days_in(sent.on, last)
        for day in held:
            paused.setdefault(day, reason)
        pause_steps.append(
            ExplainStep(
                event=sent.kind,
                entry_id=sent.id,
                on=sent.on,
                article=f"{article}；条例第三十三条第二款",
                text=f"征求{who}意见所需时间不计算在答复期限内：自发出次日起至{why}的 {len(held)} 个工作日不计入",
                working_days=len(held),
                result=last,
            )
        )
        if answer is not None:
            pause_steps.append(
                ExplainStep(event=answer.kind, entry_id=answer.id, on=answer.on, article=article, text=f"{who}答复")
            )

    # -- 缴费期限 (109号) and the fee pause (a setting) ------------------------------------------------
    fee = _first(ledger, EntryKind.fee_notice_sent)
    if fee is not None:
        paid = _first(ledger, EntryKind.fee_paid)
        start = fee.delivered_on or fee.on
        days.unknown_years.clear()
        step, pay_due, _ = _count_step(
            days,
            start=start,
            n=FEE_PAYMENT_WORKING_DAYS,
            article="国办函〔2020〕109号",
            text=f"申请人收到收费通知之日（{start}）的次日起 {FEE_PAYMENT_WORKING_DAYS} 个工作日内缴费；"
            "逾期未缴的，视为放弃申请（其他处理 2）",
            event=EntryKind.fee_notice_sent,
            entry_id=fee.id,
        )
        finish(
            DeadlineKind.fee_payment,
            article="国办函〔2020〕109号",
            due_on=pay_due,
            provisional=bool(days.unknown_years),
            unknown_years=sorted(days.unknown_years),
            status=_status(paid, pay_due, today, missing=DeadlineStatus.overdue),
            entry_id=fee.id,
            steps=[step],
        )
        if rules.fee_pauses_reply:
            if paid is not None:
                last = paid.on if rules.pause_includes_answer_day else paid.on - _ONE_DAY
                why = f"缴费日 {paid.on}"
            else:
                last = pay_due
                why = f"缴费期限届满日 {pay_due}（尚未缴费，按届满日计）"
                pausing_now = pausing_now or today <= pay_due
            held = days.working_days_in(fee.on, last)
            for day in held:
                paused.setdefault(day, f"待缴信息处理费（{fee.on} 发出收费通知）")
            pause_steps.append(
                ExplainStep(
                    event=EntryKind.fee_notice_sent,
                    entry_id=fee.id,
                    on=fee.on,
                    article="国办函〔2020〕109号；本机关设置（收费期间暂停计算答复期限）",
                    text=f"自发出收费通知次日起至{why}的 {len(held)} 个工作日不计入答复期限",
                    working_days=len(held),
                    result=last,
                )
            )

    # -- 答复期限 (art. 33) ---------------------------------------------------------------------------
    reply = _first(ledger, EntryKind.reply_sent)
    closed = terminal is not None
    if correction is not None and corrected is None:
        steps = [
            ExplainStep(
                event=EntryKind.correction_requested,
                entry_id=correction.id,
                on=correction.on,
                article="条例第三十条、第三十三条",
                text="已通知补正：答复期限自行政机关收到补正后的申请之日起重新计算，补正前不计算",
            )
        ]
        status = DeadlineStatus.void if closed else DeadlineStatus.suspended
        finish(DeadlineKind.reply, article="条例第三十三条", due_on=None, status=status, steps=steps)
        return ClockState(
            received_on=received.on, reply_started_on=None, paused=not closed, closed=closed, deadlines=deadlines
        )

    start_entry = corrected if corrected is not None else received
    steps = []
    if corrected is not None:
        steps.append(
            ExplainStep(
                event=EntryKind.corrected_received,
                entry_id=corrected.id,
                on=corrected.on,
                article="条例第三十条、第三十三条",
                text=f"收到补正后的申请（{corrected.on}），答复期限自该日重新计算",
            )
        )
    else:
        steps.append(
            ExplainStep(
                event=EntryKind.received,
                entry_id=received.id,
                on=received.on,
                article="条例第三十一条、第三十三条",
                text=f"收到申请之日为 {received.on}，答复期限自次日起算",
            )
        )
    extension = _first(ledger, EntryKind.extension_approved)
    total = REPLY_WORKING_DAYS
    if extension is not None:
        total += extension.working_days or 0
        steps.append(
            ExplainStep(
                event=EntryKind.extension_approved,
                entry_id=extension.id,
                on=extension.on,
                article="条例第三十三条第二款",
                text=f"经政府信息公开工作机构负责人同意延长答复期限 {extension.working_days} 个工作日"
                "（至多一次、不超过 20 个工作日）",
                working_days=extension.working_days,
            )
        )
    steps.extend(s for s in pause_steps if s.result is None or s.result > start_entry.on)
    days.unknown_years.clear()
    text = f"自 {start_entry.on} 次日起计 {REPLY_WORKING_DAYS} 个工作日"
    if extension is not None:
        text += f"，加延长的 {extension.working_days} 个工作日，共 {total} 个工作日"
    if paused:
        text += "；征求意见、待缴费期间的工作日不计入"
    step, due, _ = _count_step(
        days,
        start=start_entry.on,
        n=total,
        article="条例第三十三条",
        text=text,
        event=start_entry.kind,
        entry_id=start_entry.id,
        paused={d: r for d, r in paused.items() if d > start_entry.on},
    )
    steps.append(step)
    provisional = bool(days.unknown_years)
    unknown = sorted(days.unknown_years)
    later = next((e for e in reversed(ledger) if e.kind is EntryKind.later_deadline_set), None)
    if later is not None and later.until is not None:
        steps.append(
            ExplainStep(
                event=EntryKind.later_deadline_set,
                entry_id=later.id,
                on=later.on,
                article="条例第三十五条",
                text=f"申请数量、频次明显超过合理范围，行政机关确定延迟答复的合理期限至 {later.until} 并告知申请人",
                result=later.until,
            )
        )
        due = later.until
        provisional, unknown = False, []
    if reply is not None:
        status = DeadlineStatus.met if reply.on <= due else DeadlineStatus.late
    elif closed:
        status = DeadlineStatus.void
    else:
        status = DeadlineStatus.open if today <= due else DeadlineStatus.overdue
    finish(
        DeadlineKind.reply,
        article="条例第三十三条",
        due_on=due,
        provisional=provisional,
        unknown_years=unknown,
        status=status,
        entry_id=start_entry.id,
        steps=steps,
    )
    return ClockState(
        received_on=received.on,
        reply_started_on=start_entry.on,
        paused=pausing_now and not closed,
        closed=closed,
        deadlines=deadlines,
    )


# --------------------------------------------------------------------------------------------
# What may be added
# --------------------------------------------------------------------------------------------


def check_new_entry(
    entries: Iterable[LedgerEntry],
    new: LedgerEntry,
    calendar: WorkingDayCalendar,
    *,
    today: dt.date,
    rules: ClockRules | None = None,
) -> None:
    """Raise :class:`ClockRuleError` when the law does not allow ``new`` after ``entries``."""
    ledger = _ordered(entries)
    kinds = [e.kind for e in ledger]
    received = _first(ledger, EntryKind.received)

    def fail(code: str, message: str, article: str, *, field: str = "body.kind", conflict: bool = True) -> None:
        raise ClockRuleError(code, message, field=field, article=article, conflict=conflict)

    if new.on > today:
        fail("date_in_future", f"日期 {new.on} 晚于今天 {today}", "条例第三十一条", field="body.on", conflict=False)
    if new.kind is EntryKind.received:
        if received is not None:
            fail("already_received", "已登记收到申请", "条例第三十一条")
        return
    if received is None:
        fail("not_received", "尚未登记收到申请", "条例第三十一条")
        return
    if any(k in _TERMINAL for k in kinds):
        fail("application_closed", "申请已答复或已终止办理，不能再登记法定事件", "条例第三十三条")
    if new.on < received.on:
        fail(
            "date_before_receipt",
            f"日期 {new.on} 早于收到申请之日 {received.on}",
            "条例第三十一条",
            field="body.on",
            conflict=False,
        )
    state = compute(ledger, calendar, today=today, rules=rules)
    k = new.kind
    if k is EntryKind.correction_requested:
        if EntryKind.correction_requested in kinds:
            fail("correction_once", "补正通知只能一次性发出（一次告知需要补正的全部事项）", "条例第三十条")
        notice = state.get(DeadlineKind.correction_notice.value)
        if notice is not None and notice.due_on is not None and new.on > notice.due_on:
            fail(
                "correction_notice_late",
                f"补正通知应在收到申请之日起 7 个工作日内（{notice.due_on} 前）发出",
                "条例第三十条",
                field="body.on",
            )
        if not new.working_days or not 1 <= new.working_days <= MAX_CORRECTION_PERIOD_WORKING_DAYS:
            fail(
                "correction_period_invalid",
                f"补正期限应为 1 至 {MAX_CORRECTION_PERIOD_WORKING_DAYS} 个工作日的合理期限",
                "条例第三十条",
                field="body.working_days",
                conflict=False,
            )
    elif k is EntryKind.corrected_received:
        correction = _first(ledger, EntryKind.correction_requested)
        if correction is None:
            fail("no_correction_requested", "未发出补正通知，不能登记补正后的申请", "条例第三十条")
        elif EntryKind.corrected_received in kinds:
            fail("already_corrected", "已登记补正后的申请", "条例第三十条")
        elif new.on < correction.on:
            fail("date_before_correction", "补正日期早于补正通知日期", "条例第三十条", field="body.on", conflict=False)
    elif k in _ANSWER_OF:
        sent = next((e for e in ledger if e.id == new.ref), None)
        if sent is None or sent.kind is not _ANSWER_OF[k]:
            fail(
                "consultation_unknown",
                "没有对应的征求意见记录",
                "条例第三十二条、第三十四条",
                field="body.ref",
                conflict=False,
            )
        elif any(e.kind is k and e.ref == new.ref for e in ledger):
            fail("consultation_answered", "该征求意见已登记答复", "条例第三十二条、第三十四条", field="body.ref")
        elif new.on < sent.on:
            fail(
                "date_before_consultation",
                "答复日期早于征求意见日期",
                "条例第三十二条",
                field="body.on",
                conflict=False,
            )
    elif k is EntryKind.extension_approved:
        if EntryKind.extension_approved in kinds:
            fail("extension_once", "答复期限只能延长一次", "条例第三十三条第二款")
        if new.working_days is None or not 1 <= new.working_days <= MAX_EXTENSION_WORKING_DAYS:
            fail(
                "extension_over_limit",
                f"延长的期限最长不得超过 {MAX_EXTENSION_WORKING_DAYS} 个工作日",
                "条例第三十三条第二款",
                field="body.working_days",
                conflict=False,
            )
        reply = state.get(DeadlineKind.reply.value)
        if reply is None or reply.due_on is None:
            fail("extension_without_running_deadline", "答复期限尚未起算（等待补正），不能延长", "条例第三十三条")
        elif new.on > reply.due_on:
            fail(
                "extension_after_deadline",
                f"延期须在答复期限（{reply.due_on}）届满前批准并告知申请人",
                "条例第三十三条第二款",
                field="body.on",
            )
    elif k is EntryKind.fee_notice_sent:
        if EntryKind.fee_notice_sent in kinds:
            fail("fee_notice_once", "已发出收费通知", "国办函〔2020〕109号")
        if new.delivered_on is not None and new.delivered_on < new.on:
            fail(
                "date_before_notice",
                "送达日期早于通知日期",
                "国办函〔2020〕109号",
                field="body.delivered_on",
                conflict=False,
            )
    elif k is EntryKind.fee_paid:
        fee = _first(ledger, EntryKind.fee_notice_sent)
        if fee is None:
            fail("no_fee_notice", "未发出收费通知，不能登记缴费", "国办函〔2020〕109号")
        elif EntryKind.fee_paid in kinds:
            fail("fee_already_paid", "已登记缴费", "国办函〔2020〕109号")
        elif new.on < fee.on:
            fail(
                "date_before_notice", "缴费日期早于收费通知日期", "国办函〔2020〕109号", field="body.on", conflict=False
            )
    elif k is EntryKind.later_deadline_set:
        reply = state.get(DeadlineKind.reply.value)
        if new.until is None:
            fail("later_deadline_missing", "须填写确定的答复期限", "条例第三十五条", field="body.until", conflict=False)
        elif reply is not None and reply.due_on is not None and new.until <= reply.due_on:
            fail(
                "later_deadline_not_later",
                f"第三十五条的期限应晚于现行答复期限 {reply.due_on}",
                "条例第三十五条",
                field="body.until",
                conflict=False,
            )
