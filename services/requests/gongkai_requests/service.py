"""Requests business rules (依申请公开). Never commits: the request or the event handler owns the transaction.

The legal clock is :mod:`gongkai_requests.clock` (pure); this module stores the ledger, keeps the derived
deadlines on the application (for work lists and sweeps) and recomputes them whenever an entry is added or
the calendar changes.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import structlog
from gongkai_shared.auth import ALL_DEPARTMENTS, Principal, Role
from gongkai_shared.calendar import WorkingDayCalendar
from gongkai_shared.calendar_store import load_calendar
from gongkai_shared.contracts.catalog import ItemPublishedV1, OrganizationV1
from gongkai_shared.contracts.requests import (
    APPLICATION_CLOSED_V1,
    APPLICATION_CORRECTION_REQUESTED_V1,
    APPLICATION_DUE_SOON_V1,
    APPLICATION_EXTENDED_V1,
    APPLICATION_OVERDUE_V1,
    APPLICATION_RECEIVED_V1,
    APPLICATION_REPLIED_V1,
    TOPIC_REPEATED_V1,
    ApplicationClosedV1,
    ApplicationCorrectionRequestedV1,
    ApplicationDeadlineV1,
    ApplicationExtendedV1,
    ApplicationReceivedV1,
    ApplicationRepliedV1,
    TopicRepeatedV1,
)
from gongkai_shared.errors import Conflict, FieldError, Forbidden, GongkaiError, NotFound, ValidationFailed
from gongkai_shared.events import Envelope, emit
from gongkai_shared.ids import uuid7
from gongkai_shared.pagination import PageParams, paginate
from gongkai_shared.text import cosine_similarity
from gongkai_shared.validators import mask_mobile, mask_resident_id, mobile_problem, normalize_resident_id
from sqlalchemy import and_, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_requests import fees as fee_rules
from gongkai_requests.clock import (
    ACTIVE_STATUSES,
    ENTRY_LABELS,
    Channel,
    ClockRuleError,
    ClockState,
    DeadlineKind,
    DeadlineStatus,
    EntryKind,
    LedgerEntry,
    check_new_entry,
    compute,
    receipt_date,
)
from gongkai_requests.models import (
    VALIDATED_ID_TYPES,
    AccessLog,
    ApplicantType,
    Application,
    ApplicationStatus,
    Correspondence,
    DeadlineSignal,
    Direction,
    FeeRecord,
    LedgerEntryRow,
    LetterChannel,
    LetterPurpose,
    Organization,
    OrganizationKind,
    PublishedItem,
    Remedy,
    RemedyKind,
    RemedyResult,
    TopicSignal,
    Transfer,
    calendar_table,
    event_tables,
)
from gongkai_requests.notices import NoticeContext
from gongkai_requests.notices import WithheldPart as NoticeWithheldPart
from gongkai_requests.outcomes import Outcome, Precondition, Requirement, outcome_rule
from gongkai_requests.schemas import (
    ApplicantIn,
    ApplicantOut,
    ApplicationIn,
    CloseIn,
    CorrespondenceIn,
    DeliveryIn,
    EntryIn,
    FeeNoticeIn,
    FeePaymentIn,
    OrganizationIn,
    OutcomeIn,
    RemedyIn,
    RemedyUpdate,
    StaffApplicationIn,
    TransferIn,
)
from gongkai_requests.settings import RequestsSettings
from gongkai_requests.statistics import ApplicantColumn, CaseResult, Table3, Table4, build_table3, build_table4
from gongkai_requests.statistics import RemedyKind as TableRemedyKind

log = structlog.get_logger("gongkai.requests")

#: Crockford base32 without I, L, O, U: no look-alikes when read over the phone.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_CODE_LENGTH = 10  # 50 bits: unguessable, non-sequential
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_FAR_FUTURE = dt.date.max

#: Roles that may read an applicant's unmasked personal data: the handling department's staff and the
#: disclosure office. Reviewers (保密审查), administrators and systems see it masked (docs/decisions.md).
UNMASKED_ROLES = frozenset({Role.staff, Role.office})
#: A scope that lets a department head approve extensions (条例 art. 33: the head of the disclosure office).
EXTENSION_SCOPE = "requests.extension.approve"


# --------------------------------------------------------------------------------------------
# Errors that name the rule
# --------------------------------------------------------------------------------------------


def rule_error(code: str, message: str, *, article: str, field: str, conflict: bool) -> GongkaiError:
    """A problem that names the rule: 409 when the state forbids it, 422 for a bad value."""
    cls = Conflict if conflict else ValidationFailed
    return cls(
        message,
        code=code,
        errors=[FieldError(field=field, message=message, type=code)],
        extra={"rule": article},
    )


def _from_clock(err: ClockRuleError) -> GongkaiError:
    return rule_error(err.code, err.message, article=err.article, field=err.field, conflict=err.conflict)


# --------------------------------------------------------------------------------------------
# Secrets, codes, identity
# --------------------------------------------------------------------------------------------


def new_tracking_code() -> str:
    return "".join(secrets.choice(_CROCKFORD) for _ in range(TRACKING_CODE_LENGTH))


def normalize_tracking_code(code: str) -> str:
    """Crockford decoding is forgiving: O→0, I/L→1, case and hyphens ignored."""
    return code.strip().upper().replace("-", "").replace("O", "0").replace("I", "1").replace("L", "1")


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


async def hash_secret_off_loop(secret: str) -> str:
    """``hash_secret`` in a worker thread: scrypt costs ~50 ms of CPU (by design) and releases the GIL,
    so the event loop keeps serving other requests meanwhile (measured by the demo loader: every
    request to this service waited behind it, registration median 0.4-1.1 s)."""
    return await asyncio.to_thread(hash_secret, secret)


def verify_secret(secret: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def derived_identity_key(jwt_secret: str) -> bytes:
    """The identity key of an installation that set none: derived from GK_JWT_SECRET."""
    return hashlib.sha256(b"gongkai-requests-identity:" + jwt_secret.encode()).digest()


def _identity_key(settings: RequestsSettings) -> bytes:
    """GK_REQUESTS_IDENTITY_KEY (text, or ``hex:`` and the key's bytes in hex), else derived from
    GK_JWT_SECRET. An installation that sets its own key can rotate the token secret without changing
    the identity hashes (fees per applicant, repeats); ``hex:`` lets it keep the derived key."""
    own = settings.identity_key.get_secret_value()
    if own.startswith("hex:"):
        return bytes.fromhex(own[4:])
    if own:
        return own.encode()
    return derived_identity_key(settings.jwt_secret.get_secret_value())


def identity_hash(applicant: ApplicantIn, settings: RequestsSettings) -> str:
    """HMAC of the normalised identity: the same person or organisation gives the same hash, and the
    plain ID number cannot be recovered from it (按件 counting per applicant, repeat detection)."""
    if applicant.type is ApplicantType.legal_person:
        basis = f"org:{(applicant.organization_code or '').upper().replace('-', '')}"
    else:
        number = applicant.id_number or ""
        if applicant.id_type in VALIDATED_ID_TYPES:
            number = normalize_resident_id(number)
        # A resident ID and a residence permit share the number space: one identity.
        kind = "cn-id" if applicant.id_type in VALIDATED_ID_TYPES else str(applicant.id_type)
        basis = f"person:{kind}:{number.upper().replace(' ', '')}"
    return hmac.new(_identity_key(settings), basis.encode(), hashlib.sha256).hexdigest()


def _fingerprint(data: ApplicationIn) -> str:
    body = data.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Masking (architecture.md: personal data never on a public endpoint; masked for roles that do not need it)
# --------------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


def _mask_tail(value: str | None, keep: int = 4) -> str | None:
    if not value:
        return value
    return "*" * max(0, len(value) - keep) + value[-keep:]


def _mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    return mask_mobile(value) if mobile_problem(value) is None else _mask_tail(value)


def _mask_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return value
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"


def may_see_personal_data(principal: Principal, app: Application) -> bool:
    return bool(principal.roles & UNMASKED_ROLES) and principal.can_act_for(app.department_id)


def applicant_out(app: Application, *, masked: bool) -> ApplicantOut:
    person = app.applicant_type is ApplicantType.natural_person
    if not masked:
        return ApplicantOut(
            type=app.applicant_type,
            kind=app.applicant_kind,
            name=app.applicant_name,
            id_type=app.id_type,
            id_number=app.id_number,
            organization_code=app.organization_code,
            legal_representative=app.legal_representative,
            contact_name=app.contact_name,
            phone=app.phone,
            email=app.email,
            address=app.address,
            postal_code=app.postal_code,
            masked=False,
        )
    number = app.id_number
    if number and app.id_type in VALIDATED_ID_TYPES:
        number = mask_resident_id(number)
    else:
        number = _mask_tail(number)
    return ApplicantOut(
        type=app.applicant_type,
        kind=app.applicant_kind,
        name=mask_name(app.applicant_name) if person else app.applicant_name,  # an organisation's name is public
        id_type=app.id_type,
        id_number=number,
        organization_code=app.organization_code,
        legal_representative=app.legal_representative,
        contact_name=mask_name(app.contact_name) if app.contact_name else None,
        phone=_mask_phone(app.phone),
        email=_mask_email(app.email),
        address=(app.address[:6] + "****") if app.address else None,
        postal_code=app.postal_code,
        masked=True,
    )


async def log_personal_data_read(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID, purpose: str
) -> None:
    session.add(
        AccessLog(
            application_id=application_id,
            actor=principal.subject,
            actor_department_id=principal.department_id,
            roles=",".join(sorted(r.value for r in principal.roles)),
            purpose=purpose,
        )
    )
    await session.flush()


# --------------------------------------------------------------------------------------------
# The clock on stored applications
# --------------------------------------------------------------------------------------------


def _entry(row: LedgerEntryRow) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        seq=row.seq,
        kind=row.kind,
        on=row.on,
        working_days=row.working_days,
        ref=row.ref,
        until=row.until,
        delivered_on=row.delivered_on,
    )


async def ledger_rows(session: AsyncSession, application_id: uuid.UUID) -> list[LedgerEntryRow]:
    return list(
        (
            await session.scalars(
                select(LedgerEntryRow)
                .where(LedgerEntryRow.application_id == application_id)
                .order_by(LedgerEntryRow.seq)
            )
        ).all()
    )


async def clock_state(
    session: AsyncSession,
    app: Application,
    *,
    settings: RequestsSettings,
    today: dt.date,
    calendar: WorkingDayCalendar | None = None,
    rows: Sequence[LedgerEntryRow] | None = None,
) -> ClockState:
    calendar = calendar or await load_calendar(session, calendar_table)
    rows = rows if rows is not None else await ledger_rows(session, app.id)
    return compute([_entry(r) for r in rows], calendar, today=today, rules=settings.clock_rules())


def _derive_status(app: Application, state: ClockState) -> ApplicationStatus:
    if app.closed_on is not None:
        return ApplicationStatus.closed
    if app.replied_on is not None:
        return ApplicationStatus.replied
    if app.outcome is not None:
        return ApplicationStatus.decided
    reply = state.get(DeadlineKind.reply.value)
    if reply is not None and reply.status is DeadlineStatus.suspended:
        return ApplicationStatus.awaiting_correction
    fee = state.get(DeadlineKind.fee_payment.value)
    if fee is not None and fee.status in ACTIVE_STATUSES:
        return ApplicationStatus.awaiting_fee
    return ApplicationStatus.processing


def store_state(app: Application, state: ClockState) -> None:
    """Keep the derived deadlines on the application (work lists, sweeps, the follow view)."""
    reply = state.get(DeadlineKind.reply.value)
    app.reply_due_on = reply.due_on if reply else None
    app.reply_due_provisional = bool(reply and reply.provisional)
    active = [d.due_on for d in state.deadlines if d.status in ACTIVE_STATUSES and d.due_on is not None]
    app.next_due_on = min(active) if active else None
    app.sort_due_on = app.reply_due_on or app.next_due_on or _FAR_FUTURE
    dues = [d.due_on for d in state.deadlines if d.due_on is not None]
    app.deadlines_through = max(dues) if dues else None
    app.clock_paused = state.paused
    app.deadlines = [
        {
            "key": d.key,
            "kind": d.kind.value,
            "label": d.label,
            "due_on": d.due_on.isoformat() if d.due_on else None,
            "provisional": d.provisional,
            "status": d.status.value,
        }
        for d in state.deadlines
    ]
    app.status = _derive_status(app, state)


async def refresh(
    session: AsyncSession,
    app: Application,
    *,
    settings: RequestsSettings,
    today: dt.date,
    calendar: WorkingDayCalendar | None = None,
) -> ClockState:
    state = await clock_state(session, app, settings=settings, today=today, calendar=calendar)
    store_state(app, state)
    await session.flush()
    return state


async def recompute_open(
    session: AsyncSession, calendar: WorkingDayCalendar, *, settings: RequestsSettings, today: dt.date
) -> int:
    """The calendar changed: recompute the stored deadlines of every open application; return how many moved."""
    return await _recompute(
        session, [Application.status != ApplicationStatus.closed], calendar, settings=settings, today=today
    )


async def recompute_year(
    session: AsyncSession, calendar: WorkingDayCalendar, year: int, *, settings: RequestsSettings, today: dt.date
) -> int:
    """The arrangement of ``year`` changed: recompute only the open applications whose deadlines can touch it;
    return how many moved.

    Every deadline is counted forward from a ledger date on or after the receipt (条例 art. 30-35), and the
    consultation and fee pauses lie inside their own stored windows, so a computation reads the calendar only
    from ``received_on`` up to its latest stored due date (``deadlines_through``). An application received
    after 31 December of ``year``, or whose deadlines all fall before its 1 January, cannot move. A provisional
    deadline (domain.md §6) walked through a year not yet loaded and ends in or after it, so it is among those
    recomputed whenever that year or an earlier one changes. No stored deadline (``NULL``): recomputed, to be safe.
    """
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    where = [
        Application.status != ApplicationStatus.closed,
        Application.received_on <= end,
        or_(Application.deadlines_through >= start, Application.deadlines_through.is_(None)),
    ]
    return await _recompute(session, where, calendar, settings=settings, today=today)


#: Applications recomputed per round trip (one locking read, one ledger read, one flush).
RECOMPUTE_BATCH = 500


async def _recompute(
    session: AsyncSession,
    where: Sequence[Any],
    calendar: WorkingDayCalendar,
    *,
    settings: RequestsSettings,
    today: dt.date,
) -> int:
    ids = list((await session.scalars(select(Application.id).where(*where).order_by(Application.id))).all())
    moved = 0
    for i in range(0, len(ids), RECOMPUTE_BATCH):
        batch = ids[i : i + RECOMPUTE_BATCH]
        # Locked in id order (no deadlock with another recompute); re-checked, the row may have been closed since.
        apps = (
            await session.scalars(
                select(Application).where(Application.id.in_(batch), *where).order_by(Application.id).with_for_update()
            )
        ).all()
        entries: dict[uuid.UUID, list[LedgerEntryRow]] = {}
        for row in (
            await session.scalars(
                select(LedgerEntryRow)
                .where(LedgerEntryRow.application_id.in_(batch))
                .order_by(LedgerEntryRow.application_id, LedgerEntryRow.seq)
            )
        ).all():
            entries.setdefault(row.application_id, []).append(row)
        for app in apps:
            before = (app.reply_due_on, app.reply_due_provisional, app.next_due_on)
            state = await clock_state(
                session, app, settings=settings, today=today, calendar=calendar, rows=entries.get(app.id, [])
            )
            store_state(app, state)
            if (app.reply_due_on, app.reply_due_provisional, app.next_due_on) != before:
                moved += 1
        await session.flush()
        for rows in entries.values():  # read-only here: keep the identity map to the applications
            for row in rows:
                session.expunge(row)
    return moved


async def _append(
    session: AsyncSession,
    app: Application,
    *,
    kind: EntryKind,
    on: dt.date,
    by: str,
    working_days: int | None = None,
    ref: uuid.UUID | None = None,
    until: dt.date | None = None,
    delivered_on: dt.date | None = None,
    note: str | None = None,
) -> LedgerEntryRow:
    seq = await session.scalar(
        select(func.coalesce(func.max(LedgerEntryRow.seq), 0)).where(LedgerEntryRow.application_id == app.id)
    )
    row = LedgerEntryRow(
        application_id=app.id,
        seq=int(seq or 0) + 1,
        kind=kind,
        on=on,
        working_days=working_days,
        ref=ref,
        until=until,
        delivered_on=delivered_on,
        note=note,
        recorded_by=by,
    )
    session.add(row)
    await session.flush()
    return row


# --------------------------------------------------------------------------------------------
# Intake (条例 art. 29, 31)
# --------------------------------------------------------------------------------------------


async def _new_application(
    session: AsyncSession,
    *,
    data: ApplicationIn,
    channel: Channel,
    received_on: dt.date,
    receipt_note: str,
    settings: RequestsSettings,
    today: dt.date,
    calendar: WorkingDayCalendar,
    by: str,
    idempotency_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Application, str]:
    secret = secrets.token_urlsafe(18)
    a = data.applicant
    app = Application(
        tracking_code=await _unused_tracking_code(session),
        secret_hash=await hash_secret_off_loop(secret),
        channel=channel,
        idempotency_key=idempotency_key,
        request_fingerprint=_fingerprint(data) if idempotency_key else None,
        department_id=data.department_id,
        applicant_type=a.type,
        applicant_kind=a.kind,
        applicant_name=a.name,
        id_type=a.id_type,
        id_number=normalize_resident_id(a.id_number)
        if a.id_number and a.id_type in VALIDATED_ID_TYPES
        else a.id_number,
        organization_code=(a.organization_code or "").upper().replace("-", "") or None,
        legal_representative=a.legal_representative,
        contact_name=a.contact_name,
        phone=a.phone,
        email=a.email,
        address=a.address,
        postal_code=a.postal_code,
        identity_hash=identity_hash(a, settings),
        title=data.title,
        document_number=data.document_number,
        description=data.description,
        wanted_form=data.wanted_form,
        delivery_method=data.delivery_method,
        received_on=received_on,
        receipt_note=receipt_note,
        registered_by=by if channel is not Channel.online else None,
        status=ApplicationStatus.processing,
        deadlines=[],
        **(extra or {}),
    )
    session.add(app)
    await session.flush()
    await _append(session, app, kind=EntryKind.received, on=received_on, by=by, note=receipt_note)
    await refresh(session, app, settings=settings, today=today, calendar=calendar)
    app.repeat_of_id = await find_repeat_of(session, app)
    app.published_match = await match_published(session, app)
    await detect_repeated_topic(session, app, settings=settings)
    await emit(
        session,
        event_tables,
        APPLICATION_RECEIVED_V1,
        ApplicationReceivedV1(
            application_id=app.id,
            department_id=app.department_id,
            channel=app.channel.value,
            applicant_type=app.applicant_type.value,
            received_on=app.received_on,
            reply_due_on=app.reply_due_on,
            reply_due_provisional=app.reply_due_provisional,
        ),
    )
    return app, secret


async def _unused_tracking_code(session: AsyncSession) -> str:
    while True:
        code = new_tracking_code()
        if await session.scalar(select(Application.id).where(Application.tracking_code == code)) is None:
            return code


async def _check_department(session: AsyncSession, department_id: uuid.UUID) -> None:
    if await session.get(Organization, department_id) is None:
        raise ValidationFailed.for_field("body.department_id", "受理机关不存在", "not_found")


async def submit_online(
    session: AsyncSession,
    *,
    data: ApplicationIn,
    idempotency_key: str | None,
    settings: RequestsSettings,
    today: dt.date,
) -> tuple[Application, str | None, bool]:
    """An applicant submits online without an account. Returns (application, secret, created).

    A retry with the same idempotency key and the same body returns the same application with a fresh
    secret (the one of the lost answer is replaced: only hashes are stored); the same key with another
    body is refused.
    """
    key = idempotency_key or data.idempotency_key
    if key is not None and not 16 <= len(key) <= 100:
        raise ValidationFailed.for_field("header.idempotency-key", "幂等键长度应为 16 至 100 个字符", "string_length")
    if key is not None:
        existing = await session.scalar(
            select(Application)
            .where(Application.channel == Channel.online, Application.idempotency_key == key)
            .with_for_update()
        )
        if existing is not None:
            if existing.request_fingerprint != _fingerprint(data):
                raise Conflict("此幂等键已用于另一份不同内容的申请", code="idempotency_key_reused")
            secret = secrets.token_urlsafe(18)
            existing.secret_hash = await hash_secret_off_loop(secret)
            await session.flush()
            return existing, secret, False
    await _check_department(session, data.department_id)
    calendar = await load_calendar(session, calendar_table)
    try:
        receipt = receipt_date(
            Channel.online, calendar=calendar, rules=settings.clock_rules(), submitted_on=today, today=today
        )
    except ClockRuleError as err:
        raise _from_clock(err) from None
    app, secret = await _new_application(
        session,
        data=data,
        channel=Channel.online,
        received_on=receipt.received_on,
        receipt_note=receipt.text,
        settings=settings,
        today=today,
        calendar=calendar,
        by="applicant",
        idempotency_key=key,
        extra={"submitted_on": today},
    )
    return app, secret, True


async def register(
    session: AsyncSession, *, principal: Principal, data: StaffApplicationIn, settings: RequestsSettings, today: dt.date
) -> tuple[Application, str]:
    """Staff register an application that arrived by letter, in person, by fax or orally (条例 art. 29, 31)."""
    principal.require_department(data.department_id)
    if data.channel is Channel.online:
        raise ValidationFailed.for_field("body.channel", "网上申请由申请人自行提交", "channel_not_allowed")
    if data.channel is Channel.oral and not (data.oral_difficulty or "").strip():
        raise rule_error(
            "oral_requires_difficulty",
            "口头提出申请的，须记录申请人书写确有困难的情况（条例第二十九条）",
            article="条例第二十九条",
            field="body.oral_difficulty",
            conflict=False,
        )
    calendar = await load_calendar(session, calendar_table)
    try:
        receipt = receipt_date(
            data.channel,
            calendar=calendar,
            rules=settings.clock_rules(),
            submitted_on=data.submitted_on,
            signed_on=data.signed_on,
            confirmed_on=data.confirmed_on,
            today=today,
        )
    except ClockRuleError as err:
        raise _from_clock(err) from None
    app, secret = await _new_application(
        session,
        data=data,
        channel=data.channel,
        received_on=receipt.received_on,
        receipt_note=receipt.text,
        settings=settings,
        today=today,
        calendar=calendar,
        by=principal.subject,
        extra={
            "submitted_on": data.submitted_on,
            "signed_on": data.signed_on,
            "confirmed_on": data.confirmed_on,
            "oral_difficulty": data.oral_difficulty,
        },
    )
    if data.channel in (Channel.letter_signed, Channel.letter_ordinary, Channel.fax):
        session.add(
            Correspondence(
                application_id=app.id,
                direction=Direction.incoming,
                channel={
                    Channel.letter_signed: LetterChannel.post_signed,
                    Channel.letter_ordinary: LetterChannel.post_ordinary,
                    Channel.fax: LetterChannel.fax,
                }[data.channel],
                purpose=LetterPurpose.application,
                tracking_number=data.postal_tracking_number,
                delivered_on=receipt.received_on,
                recorded_by=principal.subject,
            )
        )
        await session.flush()
    return app, secret


async def find_repeat_of(session: AsyncSession, app: Application) -> uuid.UUID | None:
    """重复申请 (条例 art. 36(6)): the same applicant already got a reply about the same information.

    Flagged for staff to decide, never decided automatically: same identity hash, an earlier replied
    application of the same department, and the same title or 文号 or a similar description
    (segmented-token cosine, not exact match).
    """
    candidates = (
        await session.scalars(
            select(Application)
            .where(
                Application.identity_hash == app.identity_hash,
                Application.id != app.id,
                Application.department_id == app.department_id,
                Application.replied_on.is_not(None),
            )
            .order_by(Application.replied_on.desc())
            .limit(50)
        )
    ).all()
    for other in candidates:
        if app.document_number and other.document_number == app.document_number:
            return other.id
        if app.title and other.title and other.title == app.title:
            return other.id
        if cosine_similarity(app.description, other.description) >= REPEAT_SIMILARITY:
            return other.id
    return None


#: How similar a description must be to an earlier replied one of the same applicant to flag 重复申请.
REPEAT_SIMILARITY = 0.7


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


async def get_application(
    session: AsyncSession, *, application_id: uuid.UUID, principal: Principal, lock: bool = False
) -> Application:
    """Staff of another department get 404, as if the application did not exist."""
    app = await session.get(Application, application_id, with_for_update=lock)
    if app is None or not principal.can_act_for(app.department_id):
        raise NotFound("申请不存在")
    return app


async def work_list(
    session: AsyncSession,
    *,
    principal: Principal,
    params: PageParams,
    department_id: uuid.UUID | None = None,
    statuses: Sequence[ApplicationStatus] | None = None,
    due_from: dt.date | None = None,
    due_to: dt.date | None = None,
    applicant_type: ApplicantType | None = None,
    outcome: Outcome | None = None,
) -> tuple[list[Application], str | None]:
    """The staff work list: the principal's department (the office: any or all), ordered by the deadline
    (``sort_due_on``, then id) with keyset pages; served by ``ix_applications_worklist``."""
    stmt = select(Application)
    if not is_office(principal):
        stmt = stmt.where(Application.department_id == principal.department_id)
    if department_id is not None:
        stmt = stmt.where(Application.department_id == department_id)
    if statuses:
        stmt = stmt.where(Application.status.in_(statuses))
    if due_from is not None:
        stmt = stmt.where(Application.sort_due_on >= due_from)
    if due_to is not None:
        stmt = stmt.where(Application.sort_due_on <= due_to)
    if applicant_type is not None:
        stmt = stmt.where(Application.applicant_type == applicant_type)
    if outcome is not None:
        stmt = stmt.where(Application.outcome == outcome.value)
    return await paginate(
        session, stmt, keys=[Application.sort_due_on, Application.id], params=params, descending=False
    )


async def follow(
    session: AsyncSession, *, tracking_code: str, secret: str, settings: RequestsSettings, today: dt.date
) -> tuple[Application, ClockState, list[LedgerEntryRow]]:
    """The applicant's view: a wrong code and a wrong secret look the same (404)."""
    app = await session.scalar(
        select(Application).where(Application.tracking_code == normalize_tracking_code(tracking_code))
    )
    if app is None or not await asyncio.to_thread(verify_secret, secret, app.secret_hash):
        raise NotFound("查询码或密钥不正确")
    rows = await ledger_rows(session, app.id)
    state = await clock_state(session, app, settings=settings, today=today, rows=rows)
    return app, state, rows


def public_events(rows: Sequence[LedgerEntryRow]) -> list[dict[str, Any]]:
    return [{"on": r.on.isoformat(), "event": r.kind.value, "label": ENTRY_LABELS[r.kind]} for r in rows]


# --------------------------------------------------------------------------------------------
# The ledger (条例 art. 30-35)
# --------------------------------------------------------------------------------------------


async def add_entry(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    data: EntryIn,
    settings: RequestsSettings,
    today: dt.date,
) -> LedgerEntryRow:
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    if data.kind is EntryKind.extension_approved and not (
        principal.has_any(Role.office, Role.admin) or EXTENSION_SCOPE in principal.scopes
    ):
        raise Forbidden(
            "延长答复期限须经政府信息公开工作机构负责人同意（条例第三十三条第二款）", code="extension_approver_required"
        )
    if data.kind in (EntryKind.fee_notice_sent, EntryKind.fee_paid):
        raise rule_error(
            "use_fee_endpoints",
            "收费通知和缴费请通过收费接口登记（按件或按量计算金额）",
            article="国办函〔2020〕109号",
            field="body.kind",
            conflict=False,
        )
    if data.kind is EntryKind.reply_sent and app.outcome is None:
        raise rule_error(
            "reply_without_outcome",
            "尚未作出处理决定，不能登记答复（条例第三十六条：答复须载明处理结果）",
            article="条例第三十三条、第三十六条",
            field="body.kind",
            conflict=True,
        )
    return await _add_checked(session, app, data=data, by=principal.subject, settings=settings, today=today)


async def _add_checked(
    session: AsyncSession, app: Application, *, data: EntryIn, by: str, settings: RequestsSettings, today: dt.date
) -> LedgerEntryRow:
    calendar = await load_calendar(session, calendar_table)
    rows = await ledger_rows(session, app.id)
    candidate = LedgerEntry(
        id=uuid.uuid4(),
        seq=(rows[-1].seq + 1) if rows else 1,
        kind=data.kind,
        on=data.on,
        working_days=data.working_days,
        ref=data.ref,
        until=data.until,
        delivered_on=data.delivered_on,
    )
    try:
        check_new_entry([_entry(r) for r in rows], candidate, calendar, today=today, rules=settings.clock_rules())
    except ClockRuleError as err:
        raise _from_clock(err) from None
    row = await _append(
        session,
        app,
        kind=data.kind,
        on=data.on,
        by=by,
        working_days=data.working_days,
        ref=data.ref,
        until=data.until,
        delivered_on=data.delivered_on,
        note=data.note,
    )
    if data.kind is EntryKind.reply_sent:
        app.replied_on = data.on
    state = await refresh(session, app, settings=settings, today=today, calendar=calendar)
    if data.kind is EntryKind.correction_requested:
        answer = state.get(DeadlineKind.correction_answer.value)
        await emit(
            session,
            event_tables,
            APPLICATION_CORRECTION_REQUESTED_V1,
            ApplicationCorrectionRequestedV1(
                application_id=app.id,
                department_id=app.department_id,
                requested_on=data.on,
                answer_due_on=answer.due_on if answer else None,
            ),
        )
    elif data.kind is EntryKind.extension_approved:
        await emit(
            session,
            event_tables,
            APPLICATION_EXTENDED_V1,
            ApplicationExtendedV1(
                application_id=app.id,
                department_id=app.department_id,
                approved_on=data.on,
                working_days=data.working_days or 0,
                reply_due_on=app.reply_due_on,
            ),
        )
    elif data.kind is EntryKind.reply_sent:
        reply = state.get(DeadlineKind.reply.value)
        await emit(
            session,
            event_tables,
            APPLICATION_REPLIED_V1,
            ApplicationRepliedV1(
                application_id=app.id,
                department_id=app.department_id,
                replied_on=data.on,
                outcome=str(app.outcome),
                on_time=bool(reply and reply.status is DeadlineStatus.met),
            ),
        )
    return row


# --------------------------------------------------------------------------------------------
# Outcomes (条例 art. 36-39; 国办公开办函〔2021〕30号 table 三)
# --------------------------------------------------------------------------------------------


async def record_outcome(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    data: OutcomeIn,
    settings: RequestsSettings,
    today: dt.date,
) -> Application:
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    rows = await ledger_rows(session, app.id)
    state = await clock_state(session, app, settings=settings, today=today, rows=rows)
    check_outcome_fits(app, state, rows, data)
    rule = outcome_rule(data.outcome)
    app.outcome = data.outcome.value
    app.outcome_details = data.details.model_dump(mode="json", exclude_none=True)
    app.decided_on = today
    app.decided_by = principal.subject
    log.info("outcome_recorded", application_id=str(app.id), outcome=rule.outcome.value)
    store_state(app, state)
    await session.flush()
    return app


def check_outcome_fits(app: Application, state: ClockState, rows: Sequence[LedgerEntryRow], data: OutcomeIn) -> None:
    """Refuse an outcome that does not fit the application's state, naming the rule."""
    rule = outcome_rule(data.outcome)
    kinds = {r.kind for r in rows}
    if app.closed_on is not None or app.replied_on is not None:
        raise rule_error(
            "application_closed",
            "申请已答复或已办结，不能再作出处理决定",
            article="条例第三十三条",
            field="body.outcome",
            conflict=True,
        )
    correction_answer = state.get(DeadlineKind.correction_answer.value)
    fee = state.get(DeadlineKind.fee_payment.value)
    pre = rule.precondition
    if pre is Precondition.CORRECTION_WINDOW_LAPSED:
        if correction_answer is None or correction_answer.status is not DeadlineStatus.overdue:
            raise rule_error(
                "correction_window_not_lapsed",
                "只有发出补正通知且补正期限届满仍未补正的，才能按“其他处理 1 逾期不补正”处理（条例第三十条）",
                article="条例第三十条",
                field="body.outcome",
                conflict=True,
            )
    elif pre is Precondition.FEE_WINDOW_LAPSED:
        if fee is None or fee.status is not DeadlineStatus.overdue:
            raise rule_error(
                "fee_window_not_lapsed",
                "只有发出收费通知且缴费期限届满仍未缴费的，才能按“其他处理 2 逾期未缴费”处理（国办函〔2020〕109号）",
                article="国办函〔2020〕109号",
                field="body.outcome",
                conflict=True,
            )
    elif pre is Precondition.CORRECTION_RECEIVED:
        if EntryKind.corrected_received not in kinds:
            raise rule_error(
                "correction_not_received",
                "只有收到补正后的申请、内容仍不明确的，才能按“无法提供 3”处理（条例第三十条）",
                article="条例第三十条",
                field="body.outcome",
                conflict=True,
            )
    else:
        if pre is Precondition.REASONS_REQUESTED and data.details.reasons_requested_on is None:
            raise rule_error(
                "reasons_not_requested",
                "须先要求申请人说明理由（条例第三十五条），并填写要求说明理由之日",
                article="条例第三十五条",
                field="body.details.reasons_requested_on",
                conflict=False,
            )
        if (
            correction_answer is not None
            and correction_answer.status is DeadlineStatus.open
            and (EntryKind.corrected_received not in kinds)
        ):
            raise rule_error(
                "awaiting_correction",
                "申请人补正期限未届满，应等待补正后再作出处理决定（条例第三十条）",
                article="条例第三十条",
                field="body.outcome",
                conflict=True,
            )
        if fee is not None and fee.status is DeadlineStatus.open:
            raise rule_error(
                "awaiting_fee_payment",
                "申请人缴费期限未届满，缴费前不作出答复（国办函〔2020〕109号）",
                article="国办函〔2020〕109号",
                field="body.outcome",
                conflict=True,
            )
    details = data.details
    for requirement in sorted(rule.requires):
        value = getattr(details, requirement.value, None)
        if value in (None, "", []):
            raise rule_error(
                "outcome_detail_missing",
                f"“{rule.label}”须记录：{requirement.label}",
                article="、".join(rule.articles),
                field=f"body.details.{requirement.value}",
                conflict=False,
            )


# --------------------------------------------------------------------------------------------
# Correspondence and delivery (送达); closing
# --------------------------------------------------------------------------------------------


async def add_correspondence(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID, data: CorrespondenceIn, today: dt.date
) -> Correspondence:
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    _not_future(data.sent_on, "body.sent_on", today)
    _not_future(data.delivered_on, "body.delivered_on", today)
    if data.sent_on and data.delivered_on and data.delivered_on < data.sent_on:
        raise ValidationFailed.for_field("body.delivered_on", "送达日期早于寄出日期", "date_order")
    if (
        data.channel in (LetterChannel.post_signed,)
        and data.direction is Direction.outgoing
        and not data.tracking_number
    ):
        raise ValidationFailed.for_field("body.tracking_number", "需签收的邮件须登记邮件号", "missing")
    letter = Correspondence(application_id=app.id, recorded_by=principal.subject, **data.model_dump())
    session.add(letter)
    await session.flush()
    return letter


async def mark_delivered(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    correspondence_id: uuid.UUID,
    data: DeliveryIn,
    today: dt.date,
) -> Correspondence:
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    letter = await session.get(Correspondence, correspondence_id, with_for_update=True)
    if letter is None or letter.application_id != app.id:
        raise NotFound("信件记录不存在")
    _not_future(data.delivered_on, "body.delivered_on", today)
    if letter.sent_on and data.delivered_on < letter.sent_on:
        raise ValidationFailed.for_field("body.delivered_on", "送达日期早于寄出日期", "date_order")
    letter.delivered_on = data.delivered_on
    if data.tracking_number:
        letter.tracking_number = data.tracking_number
    await session.flush()
    return letter


def _not_future(value: dt.date | None, field: str, today: dt.date) -> None:
    if value is not None and value > today:
        raise ValidationFailed.for_field(field, f"日期 {value} 晚于今天 {today}", "date_in_future")


async def close(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    data: CloseIn,
    settings: RequestsSettings,
    today: dt.date,
) -> Application:
    """Close an application: only with a delivered reply, or with a recorded reason (nothing gets lost)."""
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    if app.closed_on is not None:
        raise rule_error("already_closed", "申请已办结", article="条例第三十三条", field="body", conflict=True)
    _not_future(data.on, "body.on", today)
    delivered = await session.scalar(
        select(Correspondence.id).where(
            Correspondence.application_id == app.id,
            Correspondence.direction == Direction.outgoing,
            Correspondence.purpose == LetterPurpose.reply,
            Correspondence.delivered_on.is_not(None),
        )
    )
    reason = (data.reason or "").strip()
    if not (app.replied_on is not None and delivered is not None) and not reason:
        raise rule_error(
            "close_without_delivery",
            "答复尚未送达申请人：须登记答复的送达，或记录办结理由",
            article="送达（条例第三十三条、第四十条）",
            field="body.reason",
            conflict=True,
        )
    await _close(session, app, on=data.on, reason=reason or None, by=principal.subject, settings=settings, today=today)
    return app


async def _close(
    session: AsyncSession,
    app: Application,
    *,
    on: dt.date,
    reason: str | None,
    by: str,
    settings: RequestsSettings,
    today: dt.date,
    outcome: Outcome | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    if outcome is not None:
        app.outcome = outcome.value
        app.outcome_details = details or {}
        app.decided_on = on
        app.decided_by = by
    elif app.outcome is None:
        # Closed without a decision (e.g. withdrawn): table 三 counts it as 其他处理 3 其他.
        app.outcome = Outcome.OTHER.value
        app.outcome_details = {"explanation": reason or ""}
        app.decided_on = on
        app.decided_by = by
    await _append(session, app, kind=EntryKind.closed, on=on, by=by, note=reason)
    app.closed_on = on
    app.close_reason = reason
    await refresh(session, app, settings=settings, today=today)
    await emit(
        session,
        event_tables,
        APPLICATION_CLOSED_V1,
        ApplicationClosedV1(application_id=app.id, department_id=app.department_id, closed_on=on, outcome=app.outcome),
    )


# --------------------------------------------------------------------------------------------
# Fees (条例 art. 42; 国办函〔2020〕109号)
# --------------------------------------------------------------------------------------------


async def nth_in_month(session: AsyncSession, app: Application) -> int:
    """The application's number among the same applicant's applications in its calendar month (按件)."""
    first = app.received_on.replace(day=1)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    count = await session.scalar(
        select(func.count()).where(
            Application.identity_hash == app.identity_hash,
            Application.received_on >= first,
            Application.received_on < after,
            or_(
                Application.received_on < app.received_on,
                and_(Application.received_on == app.received_on, Application.id <= app.id),
            ),
        )
    )
    return int(count or 1)


async def fee_notice(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    data: FeeNoticeIn,
    settings: RequestsSettings,
    today: dt.date,
) -> FeeRecord:
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    if await session.scalar(select(FeeRecord.id).where(FeeRecord.application_id == app.id)) is not None:
        raise rule_error(
            "fee_notice_once", "已发出收费通知", article="国办函〔2020〕109号", field="body", conflict=True
        )
    if not fee_rules.fees_apply_on(app.received_on):
        raise rule_error(
            "fees_not_in_force",
            "2021年1月1日前收到的申请不收取信息处理费",
            article="国办函〔2020〕109号",
            field="body.fee_method",
            conflict=True,
        )
    if data.fee_method == fee_rules.FeeMethod.PIECE:
        quote = fee_rules.quote(
            data.fee_method, nth_in_month=await nth_in_month(session, app), units=data.units, pages=data.pages
        )
        quantity = data.units
    else:
        quote = fee_rules.quote(data.fee_method, pages=data.pages, units=data.units)
        quantity = data.pages or 0
    if quote.total <= 0:
        raise rule_error(
            "fee_not_due",
            "按此计算无需收费（在免费范围内），不发收费通知",
            article="国办函〔2020〕109号",
            field="body.fee_method",
            conflict=False,
        )
    await _add_checked(
        session,
        app,
        data=EntryIn(kind=EntryKind.fee_notice_sent, on=data.on, delivered_on=data.delivered_on),
        by=principal.subject,
        settings=settings,
        today=today,
    )
    record = FeeRecord(
        application_id=app.id,
        method=quote.method.value,
        quantity=quantity,
        amount=quote.total,
        quote={
            "method": quote.method.value,
            "method_label": quote.method.label,
            "basis": quote.basis,
            "standard": quote.standard,
            "lines": quote.lines(),
            "total": str(quote.total),
        },
        noticed_on=data.on,
        delivered_on=data.delivered_on,
    )
    session.add(record)
    await session.flush()
    return record


async def fee_payment(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    data: FeePaymentIn,
    settings: RequestsSettings,
    today: dt.date,
) -> FeeRecord:
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    record = await session.scalar(select(FeeRecord).where(FeeRecord.application_id == app.id).with_for_update())
    if record is None:
        raise rule_error("no_fee_notice", "未发出收费通知", article="国办函〔2020〕109号", field="body", conflict=True)
    if Decimal(data.amount) != Decimal(record.amount):
        raise ValidationFailed.for_field("body.amount", f"缴费金额应为 {record.amount} 元", "fee_amount_mismatch")
    await _add_checked(
        session,
        app,
        data=EntryIn(kind=EntryKind.fee_paid, on=data.on),
        by=principal.subject,
        settings=settings,
        today=today,
    )
    record.paid_on = data.on
    record.paid_amount = Decimal(data.amount)
    await session.flush()
    return record


# --------------------------------------------------------------------------------------------
# Remedies, transfers, organizations
# --------------------------------------------------------------------------------------------


async def add_remedy(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID, data: RemedyIn, today: dt.date
) -> Remedy:
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    if app.replied_on is None and app.closed_on is None and app.outcome is None:
        # 不作为 (no reply) is challengeable too; only an application not yet received cannot be.
        pass
    _not_future(data.filed_on, "body.filed_on", today)
    _check_remedy_result(data.result, data.concluded_on, today)
    remedy = Remedy(application_id=app.id, department_id=app.department_id, **data.model_dump())
    session.add(remedy)
    await session.flush()
    return remedy


def _check_remedy_result(result: Any, concluded_on: dt.date | None, today: dt.date) -> None:
    if result is RemedyResult.pending and concluded_on is not None:
        raise ValidationFailed.for_field("body.concluded_on", "尚未审结的案件不填写审结日期", "not_allowed")
    if result is not RemedyResult.pending and concluded_on is None:
        raise ValidationFailed.for_field("body.concluded_on", "已审结的案件须填写审结日期", "missing")
    _not_future(concluded_on, "body.concluded_on", today)


async def update_remedy(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    remedy_id: uuid.UUID,
    data: RemedyUpdate,
    today: dt.date,
) -> Remedy:
    app = await get_application(session, application_id=application_id, principal=principal)
    remedy = await session.get(Remedy, remedy_id, with_for_update=True)
    if remedy is None or remedy.application_id != app.id:
        raise NotFound("复议或诉讼记录不存在")
    _check_remedy_result(data.result, data.concluded_on, today)
    remedy.result = data.result
    remedy.concluded_on = data.concluded_on
    if data.note is not None:
        remedy.note = data.note
    await session.flush()
    return remedy


async def transfer(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID, data: TransferIn
) -> Transfer:
    app = await get_application(session, application_id=application_id, principal=principal, lock=True)
    if app.closed_on is not None:
        raise rule_error(
            "application_closed", "申请已办结，不能移交", article="条例第三十三条", field="body", conflict=True
        )
    if data.to_department_id == app.department_id:
        raise ValidationFailed.for_field("body.to_department_id", "移交的机关与现受理机关相同", "same_department")
    await _check_department(session, data.to_department_id)
    record = Transfer(
        application_id=app.id,
        from_department_id=app.department_id,
        to_department_id=data.to_department_id,
        reason=data.reason,
        by=principal.subject,
    )
    session.add(record)
    app.department_id = data.to_department_id
    await session.flush()
    return record


async def put_organization(session: AsyncSession, *, organization_id: uuid.UUID, data: OrganizationIn) -> Organization:
    """The office registers a department locally (before or beside the catalog's organization events)."""
    org = await session.get(Organization, organization_id)
    if org is None:
        org = Organization(
            id=organization_id, name=data.name, code=data.code, parent_id=data.parent_id, source="office"
        )
        session.add(org)
    else:
        org.name, org.code, org.parent_id = data.name, data.code, data.parent_id
    await session.flush()
    return org


async def upsert_organization_from_catalog(
    session: AsyncSession, *, organization_id: uuid.UUID, name: str, code: str | None, parent_id: uuid.UUID | None
) -> None:
    values = {"id": organization_id, "name": name, "code": code, "parent_id": parent_id, "source": "catalog"}
    await session.execute(
        insert(Organization)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"name": name, "code": code, "parent_id": parent_id, "source": "catalog", "updated_at": func.now()},
        )
    )


# --------------------------------------------------------------------------------------------
# Sweeps: lapsed windows (其他处理 1, 2), due soon, overdue
# --------------------------------------------------------------------------------------------


async def sweep_lapsed(session: AsyncSession, *, settings: RequestsSettings, today: dt.date) -> int:
    """Close applications whose correction (条例 art. 30) or payment (109号) window lapsed."""
    apps = (
        await session.scalars(
            select(Application)
            .where(
                Application.status.in_([ApplicationStatus.awaiting_correction, ApplicationStatus.awaiting_fee]),
                Application.next_due_on < today,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    calendar = await load_calendar(session, calendar_table)
    closed = 0
    for app in apps:
        rows = await ledger_rows(session, app.id)
        state = await clock_state(session, app, settings=settings, today=today, calendar=calendar, rows=rows)
        correction = state.get(DeadlineKind.correction_answer.value)
        fee = state.get(DeadlineKind.fee_payment.value)
        if correction is not None and correction.status is DeadlineStatus.overdue:
            notice = next(r for r in rows if r.kind is EntryKind.correction_requested)
            await _close(
                session,
                app,
                on=today,
                reason=f"申请人无正当理由逾期未补正（补正期限 {correction.due_on}），视为放弃申请（条例第三十条）",
                by="system",
                settings=settings,
                today=today,
                outcome=Outcome.OTHER_CORRECTION_LAPSED,
                details={"correction_notice": f"{notice.on} 发出补正通知，补正期限至 {correction.due_on}"},
            )
            closed += 1
        elif fee is not None and fee.status is DeadlineStatus.overdue:
            record = await session.scalar(select(FeeRecord).where(FeeRecord.application_id == app.id))
            await _close(
                session,
                app,
                on=today,
                reason=f"申请人逾期未缴纳信息处理费（缴费期限 {fee.due_on}），视为放弃申请（国办函〔2020〕109号）",
                by="system",
                settings=settings,
                today=today,
                outcome=Outcome.OTHER_FEE_UNPAID,
                details={
                    "fee_notice": f"{record.noticed_on if record else ''} 发出收费通知，金额 "
                    f"{record.amount if record else ''} 元，缴费期限至 {fee.due_on}"
                },
            )
            closed += 1
    return closed


async def sweep_signals(session: AsyncSession, *, settings: RequestsSettings, today: dt.date) -> int:
    """Due-soon and overdue events, once per deadline (and per due date, should it move)."""
    calendar = await load_calendar(session, calendar_table)
    horizon = calendar.add_working_days(today, settings.due_soon_working_days, provisional=True).end
    apps = (
        await session.scalars(
            select(Application).where(
                Application.status != ApplicationStatus.closed,
                Application.next_due_on.is_not(None),
                Application.next_due_on <= horizon,
            )
        )
    ).all()
    sent = 0
    for app in apps:
        for d in app.deadlines or []:
            if d["status"] not in {s.value for s in ACTIVE_STATUSES} or d["due_on"] is None:
                continue
            due = dt.date.fromisoformat(d["due_on"])
            if due < today:
                signal, event_type = "overdue", APPLICATION_OVERDUE_V1
            elif due <= horizon:
                signal, event_type = "due_soon", APPLICATION_DUE_SOON_V1
            else:
                continue
            inserted = await session.scalar(
                insert(DeadlineSignal)
                .values(application_id=app.id, deadline_key=d["key"], due_on=due, signal=signal)
                .on_conflict_do_nothing()
                .returning(DeadlineSignal.application_id)
            )
            if inserted is None:
                continue
            await emit(
                session,
                event_tables,
                event_type,
                ApplicationDeadlineV1(
                    application_id=app.id,
                    department_id=app.department_id,
                    deadline=d["kind"],
                    deadline_label=d["label"],
                    due_on=due,
                    provisional=d["provisional"],
                ),
            )
            sent += 1
    return sent


# --------------------------------------------------------------------------------------------
# The reply notice (告知书)
# --------------------------------------------------------------------------------------------


async def notice_context(session: AsyncSession, *, app: Application, settings: RequestsSettings) -> NoticeContext:
    """The 告知书 of the recorded decision; refuses when no decision is recorded yet."""
    if app.outcome is None:
        raise rule_error(
            "notice_without_outcome",
            "尚未作出处理决定，不能生成答复告知书",
            article="条例第三十六条",
            field="path.application_id",
            conflict=True,
        )
    details = app.outcome_details or {}
    org = await session.get(Organization, app.department_id)
    holding = details.get("holding_agency")
    fee_record = await session.scalar(select(FeeRecord).where(FeeRecord.application_id == app.id))
    fee = None
    if fee_record is not None:
        method = fee_rules.FeeMethod(fee_record.method)
        fee = (
            fee_rules.quote(method, pages=fee_record.quantity)
            if method is fee_rules.FeeMethod.VOLUME
            else fee_rules.quote(method, nth_in_month=await nth_in_month(session, app), units=fee_record.quantity)
        )
    references: dict[Requirement, str] = {}
    for requirement in Requirement:
        value = details.get(requirement.value)
        if isinstance(value, str) and value.strip():
            references[requirement] = value
    previous = details.get("previous_reply")
    if previous:
        references[Requirement.PREVIOUS_REPLY] = (
            f"{previous.get('replied_on', '')} {previous.get('reference') or ''}".strip()
        )
    return NoticeContext(
        agency_name=org.name if org else settings.agency_name_fallback,
        applicant_name=app.applicant_name,
        tracking_code=app.tracking_code,
        received_on=app.received_on,
        request_description=app.title or app.description,
        outcome=Outcome(app.outcome),
        notice_number=f"依申请公开答复〔{(app.decided_on or app.received_on).year}〕{app.tracking_code}号",
        notice_date=app.replied_on or app.decided_on or app.received_on,
        review_body=settings.review_body,
        court=settings.court,
        withheld_parts=tuple(
            NoticeWithheldPart(part=w["part"], reason=w["reason"], article=w.get("article") or "")
            for w in details.get("withheld_parts") or []
        ),
        access_route=details.get("access_route"),
        holding_agency=(
            f"{holding['name']}（{holding['contact']}）"
            if holding and holding.get("contact")
            else (holding or {}).get("name")
        ),
        third_party_opinion=details.get("third_party_opinion"),
        reason=details.get("refusal_reason") or details.get("explanation"),
        fee=fee,
        references=references,
    )


# --------------------------------------------------------------------------------------------
# Statistics for the annual report (国办公开办函〔2021〕30号 tables 三 and 四)
# --------------------------------------------------------------------------------------------

_COLUMNS = {
    (ApplicantType.natural_person, None): ApplicantColumn.NATURAL_PERSON,
    (ApplicantType.legal_person, OrganizationKind.commercial): ApplicantColumn.COMMERCIAL_ENTERPRISE,
    (ApplicantType.legal_person, OrganizationKind.research): ApplicantColumn.RESEARCH_INSTITUTION,
    (ApplicantType.legal_person, OrganizationKind.public_welfare): ApplicantColumn.PUBLIC_WELFARE_ORGANIZATION,
    (ApplicantType.legal_person, OrganizationKind.legal_services): ApplicantColumn.LEGAL_SERVICE_ORGANIZATION,
    (ApplicantType.legal_person, OrganizationKind.other): ApplicantColumn.OTHER_ORGANIZATION,
}
_REMEDY_KINDS = {
    RemedyKind.review: TableRemedyKind.ADMINISTRATIVE_REVIEW,
    RemedyKind.suit_direct: TableRemedyKind.DIRECT_SUIT,
    RemedyKind.suit_after_review: TableRemedyKind.SUIT_AFTER_REVIEW,
}


def _column(applicant_type: ApplicantType, kind: OrganizationKind | None) -> ApplicantColumn:
    return _COLUMNS[(applicant_type, None if applicant_type is ApplicantType.natural_person else kind)]


async def annual_fees(session: AsyncSession, *, department_id: uuid.UUID, year: int) -> Decimal:
    """信息处理费 actually collected by the department in ``year`` (the annual report's section 六,
    国办公开办函〔2021〕30号; fees under 国办函〔2020〕109号): the payments recorded with a date in that year.
    A fee noticed but not paid is not collected."""
    total = await session.scalar(
        select(func.coalesce(func.sum(FeeRecord.paid_amount), 0))
        .join(Application, Application.id == FeeRecord.application_id)
        .where(
            Application.department_id == department_id,
            FeeRecord.paid_on >= dt.date(year, 1, 1),
            FeeRecord.paid_on <= dt.date(year, 12, 31),
        )
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


async def annual_tables(session: AsyncSession, *, department_id: uuid.UUID, year: int) -> tuple[Table3, Table4]:
    """Tables 三 and 四 of one department's year.

    An application is concluded (办结) on the day its reply was sent, or closed without one; table 三 counts
    (一) those received this year, (二) those received before it and not concluded by 1 January, (三) the outcomes
    of those concluded this year, (四) those received by 31 December and not concluded by then. So
    一 + 二 = （七） + 四 holds by construction, and ``checks()`` proves it. Table 四 counts the cases filed this
    year with their result as of 31 December (a case concluded later is 尚未审结).
    """
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    # The day it was concluded, or never: the expression of ix_applications_statistics (an index-only range).
    concluded = func.coalesce(Application.replied_on, Application.closed_on, literal_column("'infinity'::date"))
    received = Application.received_on
    # One pass over the applications alive during the year (received by 31 December, not concluded before
    # 1 January); each of them is in exactly one of 一/二 and one of （三）/四.
    rows = await session.execute(
        select(
            Application.applicant_type,
            Application.applicant_kind,
            Application.outcome,
            func.count().filter(received >= start),
            func.count().filter(received < start),
            func.count().filter(concluded <= end),
            func.count().filter(concluded > end),
        )
        .where(Application.department_id == department_id, received <= end, concluded >= start)
        .group_by(Application.applicant_type, Application.applicant_kind, Application.outcome)
    )
    new: dict[ApplicantColumn, int] = {}
    carried_over: dict[ApplicantColumn, int] = {}
    carried_forward: dict[ApplicantColumn, int] = {}
    outcome_counts: dict[Outcome, dict[ApplicantColumn, int]] = {}
    for applicant_type, kind, outcome, n_new, n_over, n_concluded, n_forward in rows:
        column = _column(applicant_type, kind)
        for counts, n in ((new, n_new), (carried_over, n_over), (carried_forward, n_forward)):
            counts[column] = counts.get(column, 0) + n
        if n_concluded:
            per = outcome_counts.setdefault(Outcome(outcome or Outcome.OTHER.value), {})
            per[column] = per.get(column, 0) + n_concluded
    table3 = build_table3(new, carried_over, outcome_counts, carried_forward)

    counts: dict[TableRemedyKind, dict[CaseResult, int]] = {k: {} for k in TableRemedyKind}
    remedies = await session.execute(
        select(Remedy.kind, Remedy.result, Remedy.concluded_on).where(
            Remedy.department_id == department_id, Remedy.filed_on.between(start, end)
        )
    )
    for kind, result, concluded_on in remedies:
        as_of_end = result if concluded_on is not None and concluded_on <= end else RemedyResult.pending
        case_result = CaseResult(as_of_end.value)
        per_kind = counts[_REMEDY_KINDS[kind]]
        per_kind[case_result] = per_kind.get(case_result, 0) + 1
    table4 = build_table4(
        counts[TableRemedyKind.ADMINISTRATIVE_REVIEW],
        counts[TableRemedyKind.DIRECT_SUIT],
        counts[TableRemedyKind.SUIT_AFTER_REVIEW],
    )
    return table3, table4


# --------------------------------------------------------------------------------------------
# Consumers: organizations and published items from the catalog
# --------------------------------------------------------------------------------------------


async def on_organization(session: AsyncSession, envelope: Envelope) -> None:
    """``catalog.organization.created`` / ``.updated``: keep the local organizations table."""
    org = OrganizationV1.model_validate(envelope.data)
    await upsert_organization_from_catalog(
        session, organization_id=org.organization_id, name=org.name, code=org.code, parent_id=org.parent_id
    )


async def on_item_published(session: AsyncSession, envelope: Envelope) -> None:
    """``catalog.item.published``: remember it, to tell staff an application asks for published information."""
    item = ItemPublishedV1.model_validate(envelope.data)
    values = {
        "item_id": item.item_id,
        "organization_id": item.organization_id,
        "title": item.title[:500],
        "document_number": item.document_number,
        "index_number": item.index_number,
        "published_on": item.published_on,
    }
    await session.execute(
        insert(PublishedItem).values(**values).on_conflict_do_update(index_elements=["item_id"], set_=values)
    )


async def match_published(session: AsyncSession, app: Application) -> dict[str, Any] | None:
    """An already-published item this application seems to ask for (same 文号, or a similar title)."""
    if app.document_number:
        item = await session.scalar(
            select(PublishedItem).where(PublishedItem.document_number == app.document_number).limit(1)
        )
        if item is not None:
            return _published(item, "文号相同")
    wanted = app.title or app.description
    items = (
        await session.scalars(
            select(PublishedItem)
            .where(PublishedItem.organization_id == app.department_id)
            .order_by(PublishedItem.published_on.desc())
            .limit(500)
        )
    ).all()
    best = max(items, key=lambda i: cosine_similarity(wanted, i.title), default=None)
    if best is not None and cosine_similarity(wanted, best.title) >= PUBLISHED_MATCH_SIMILARITY:
        return _published(best, "标题相近")
    return None


PUBLISHED_MATCH_SIMILARITY = 0.6


def _published(item: PublishedItem, why: str) -> dict[str, Any]:
    return {
        "item_id": str(item.item_id),
        "title": item.title,
        "document_number": item.document_number,
        "index_number": item.index_number,
        "published_on": item.published_on.isoformat(),
        "why": why,
    }


# --------------------------------------------------------------------------------------------
# Repeated topics (依申请转主动, domain.md §2)
# --------------------------------------------------------------------------------------------


async def detect_repeated_topic(session: AsyncSession, app: Application, *, settings: RequestsSettings) -> bool:
    """Several applicants asking for similar information (text similarity, not exact match) →
    ``requests.topic.repeated`` once per topic (keyed by the earliest application of the group)."""
    since = app.received_on - dt.timedelta(days=settings.topic_window_days)
    recent = (
        await session.scalars(
            select(Application)
            .where(
                Application.department_id == app.department_id,
                Application.id != app.id,
                Application.received_on >= since,
            )
            .order_by(Application.received_on.desc())
            .limit(500)
        )
    ).all()
    group = [a for a in recent if cosine_similarity(app.description, a.description) >= settings.topic_similarity]
    group.append(app)
    applicants = {a.identity_hash for a in group}
    if len(applicants) < settings.topic_min_applicants:
        return False
    group.sort(key=lambda a: (a.received_on, a.id))
    seed = group[0]
    fingerprint = hashlib.sha256(f"{app.department_id}:{seed.id}".encode()).hexdigest()
    title = _suggested_title(group)
    inserted = await session.scalar(
        insert(TopicSignal)
        .values(
            id=uuid7(),
            fingerprint=fingerprint,
            department_id=app.department_id,
            application_ids=[str(a.id) for a in group],
            title=title,
        )
        .on_conflict_do_nothing(index_elements=["fingerprint"])
        .returning(TopicSignal.id)
    )
    if inserted is None:
        return False
    await emit(
        session,
        event_tables,
        TOPIC_REPEATED_V1,
        TopicRepeatedV1(
            department_id=app.department_id,
            application_ids=[a.id for a in group],
            applicant_count=len(applicants),
            suggested_title=title,
        ),
    )
    return True


def _suggested_title(group: Sequence[Application]) -> str:
    """The title most applicants used; else the shortest description, trimmed of the request formula."""
    titles = [a.title for a in group if a.title]
    if titles:
        return max(set(titles), key=titles.count)[:300]
    text = min((a.description for a in group), key=len)
    for prefix in ("申请公开", "请求公开", "请公开", "申请", "请提供", "请求提供"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text.strip("，。；, ")[:60]


def is_office(principal: Principal) -> bool:
    return bool(principal.roles & ALL_DEPARTMENTS)
