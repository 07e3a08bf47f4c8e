"""Consultations on draft major decisions (意见征集; issue 9 point 1). Never commits.

Where the rules come from:
- 《重大行政决策程序暂行条例》(国务院令第713号) art. 14-15: the draft and its explanation are published with how
  and until when to comment; 公开征求意见的期限一般不少于30日, and a shorter period must say why
  (setting ``consultation_min_days``). The wording was checked against local rules that restate it (e.g.
  福建省农业农村厅 行政决策公开制度 第五条); the article number is the State Council text's, as cited there.
- The seeds (004): 决策草案、决策依据 published, 征集意见的主要观点、采纳意见数量、未采纳意见理由 made public
  afterwards: the feedback report, generated here and published through the catalog's review (条例 art. 17).
- Counting the period: the day of opening is not counted (民法典 art. 201, domain.md §6), so a 30-day period opened
  on 1 March accepts comments until the end of 31 March.
- Personal data: a commenter's name and contact are never shown publicly, never in an event or a log line;
  comments in which the sensitive check finds something (an ID number, a phone number…) are held for staff.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from gongkai_shared.auth import Principal
from gongkai_shared.contracts.catalog import (
    CONSULTATION_CLOSED_V1,
    CONSULTATION_OPENED_V1,
    CONSULTATION_REPORT_OVERDUE_V1,
    CONSULTATION_REPORT_PUBLISHED_V1,
    ConsultationV1,
    ItemPublishedV1,
)
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Conflict, NotFound, ValidationFailed
from gongkai_shared.events import Envelope, emit
from gongkai_shared.timeutil import china_today
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog import sensitive
from gongkai_catalog import service as catalog
from gongkai_catalog.models import Item, ItemKind, ItemStatus, NegativeTerm, Organization, event_tables
from gongkai_catalog.participation_models import (
    REJECTION_LABELS,
    CommentStatus,
    Consultation,
    ConsultationComment,
    ConsultationPoint,
    ConsultationStatus,
    RejectionReason,
)
from gongkai_catalog.schemas import ItemCreate, ItemUpdate
from gongkai_catalog.settings import CatalogSettings

__all__ = [
    "REPORT_ORIGIN",
    "comment_counts",
    "consultation_figures",
    "consultation_sweep",
    "create_consultation",
    "create_point",
    "get_consultation",
    "list_comments",
    "list_points",
    "moderate_comment",
    "on_item_published",
    "open_consultation",
    "prepare_feedback_report",
    "submit_comment",
    "update_point",
]

#: ``items.origin`` of a feedback report; ``items.origin_id`` is the consultation (one report per consultation).
REPORT_ORIGIN = "consultation"
PERIOD_BASIS = (
    "《重大行政决策程序暂行条例》第十五条：公开征求意见的期限一般不少于30日；因情况紧急等原因需要缩短期限的，"
    "公开征求意见时应当予以说明"
)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


async def _consultation(session: AsyncSession, consultation_id: uuid.UUID, *, lock: bool = False) -> Consultation:
    c = await session.get(Consultation, consultation_id, with_for_update=lock)
    if c is None:
        raise NotFound("征求意见事项不存在")
    return c


async def _staff_consultation(
    session: AsyncSession, consultation_id: uuid.UUID, principal: Principal, *, lock: bool = False
) -> Consultation:
    c = await _consultation(session, consultation_id, lock=lock)
    if not principal.can_act_for(c.organization_id):
        raise NotFound("征求意见事项不存在")
    return c


def period_ended(c: Consultation, today: dt.date) -> bool:
    return c.closes_on is not None and today > c.closes_on


async def comment_counts(session: AsyncSession, consultation_id: uuid.UUID) -> dict[str, int]:
    """received (all), valid (accepted), rejected, unmoderated (pending + held), adopted (valid, in adopted points)."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(ConsultationComment.status == CommentStatus.accepted),
                func.count().filter(ConsultationComment.status == CommentStatus.rejected),
                func.count().filter(ConsultationComment.status.in_([CommentStatus.pending, CommentStatus.held])),
                func.count().filter(
                    ConsultationComment.status == CommentStatus.accepted, ConsultationPoint.adopted.is_(True)
                ),
            )
            .select_from(ConsultationComment)
            .outerjoin(ConsultationPoint, ConsultationPoint.id == ConsultationComment.point_id)
            .where(ConsultationComment.consultation_id == consultation_id)
        )
    ).one()
    return {"received": row[0], "valid": row[1], "rejected": row[2], "unmoderated": row[3], "adopted": row[4]}


async def _payload(session: AsyncSession, c: Consultation) -> ConsultationV1:
    counts = await comment_counts(session, c.id)
    index_number = None
    if c.report_item_id is not None:
        index_number = await session.scalar(select(Item.index_number).where(Item.id == c.report_item_id))
    return ConsultationV1(
        consultation_id=c.id,
        organization_id=c.organization_id,
        title=c.title,
        draft_item_id=c.draft_item_id,
        status=c.status.value,
        opened_on=c.opened_on,
        closes_on=c.closes_on,
        period_days=c.period_days,
        shortened_reason=c.shortened_reason,
        report_due_on=c.report_due_on,
        comments_received=counts["received"],
        comments_valid=counts["valid"],
        comments_adopted=counts["adopted"],
        report_item_id=c.report_item_id,
        report_index_number=index_number,
        report_published_on=c.report_published_on,
    )


async def _close(session: AsyncSession, c: Consultation) -> None:
    """The period ended: closed, once, with its event."""
    c.status = ConsultationStatus.closed
    c.closed_at = utcnow()
    await session.flush()
    await emit(session, event_tables, CONSULTATION_CLOSED_V1, await _payload(session, c))


# --------------------------------------------------------------------------------------------
# Staff: create and open
# --------------------------------------------------------------------------------------------


async def create_consultation(
    session: AsyncSession, *, principal: Principal, data: Any, settings: CatalogSettings
) -> Consultation:
    """Register a consultation on a draft decision of the principal's organization (not yet open)."""
    principal.require_department(data.organization_id)
    if await session.get(Organization, data.organization_id) is None:
        raise ValidationFailed.for_field("body.organization_id", "机关不存在", "not_found")
    draft = await session.get(Item, data.draft_item_id)
    if draft is None or draft.organization_id != data.organization_id:
        raise ValidationFailed.for_field("body.draft_item_id", "决策草案不是本机关目录中的信息", "not_found")
    reason = (data.shortened_reason or "").strip() or None
    if data.period_days < settings.consultation_min_days and reason is None:
        raise ValidationFailed.for_field(
            "body.shortened_reason",
            f"征求意见期限少于{settings.consultation_min_days}日的，应当说明缩短期限的理由（{PERIOD_BASIS}）",
            "missing",
        )
    c = Consultation(
        organization_id=data.organization_id,
        title=data.title,
        draft_item_id=data.draft_item_id,
        basis=data.basis,
        channels=data.channels,
        period_days=data.period_days,
        shortened_reason=reason,
        status=ConsultationStatus.draft,
        created_by=principal.subject,
    )
    session.add(c)
    await session.flush()
    return c


async def open_consultation(
    session: AsyncSession,
    *,
    consultation_id: uuid.UUID,
    principal: Principal,
    settings: CatalogSettings,
    today: dt.date | None = None,
) -> Consultation:
    """Open for comment today for ``period_days`` days (the day of opening not counted); the draft must be public."""
    today = today or china_today()
    c = await _staff_consultation(session, consultation_id, principal, lock=True)
    principal.require_department(c.organization_id)
    if c.status != ConsultationStatus.draft:
        raise Conflict("该事项已开始征求意见", code="consultation_already_open")
    draft = await session.get(Item, c.draft_item_id)
    if draft is None or draft.status != ItemStatus.published:
        raise Conflict(
            "决策草案须先经审查并在目录中发布，公众才能看到并提出意见（条例第十七条 先审查后公开）",
            code="draft_not_published",
        )
    c.status = ConsultationStatus.open
    c.opened_on = today
    c.closes_on = today + dt.timedelta(days=c.period_days)
    c.report_due_on = c.closes_on + dt.timedelta(days=settings.consultation_report_due_days)
    await session.flush()
    await emit(session, event_tables, CONSULTATION_OPENED_V1, await _payload(session, c))
    return c


async def get_consultation(
    session: AsyncSession, *, consultation_id: uuid.UUID, principal: Principal
) -> tuple[Consultation, dict[str, int], Item | None, Item | None]:
    """The consultation with its counts, draft and report; the public sees only opened consultations."""
    c = await _consultation(session, consultation_id)
    staff = principal.can_act_for(c.organization_id)
    if c.status == ConsultationStatus.draft and not staff:
        raise NotFound("征求意见事项不存在")
    draft = await session.get(Item, c.draft_item_id)
    report = await session.get(Item, c.report_item_id) if c.report_item_id else None
    if report is not None and report.status != ItemStatus.published and not staff:
        report = None
    return c, await comment_counts(session, c.id), draft, report


# --------------------------------------------------------------------------------------------
# The public comments
# --------------------------------------------------------------------------------------------


async def submit_comment(
    session: AsyncSession,
    *,
    consultation_id: uuid.UUID,
    data: Any,
    settings: CatalogSettings,
    today: dt.date | None = None,
) -> ConsultationComment:
    """A comment from anyone, no account needed; held for staff when the sensitive check finds something."""
    today = today or china_today()
    content = (data.content or "").strip()
    if not content:
        raise ValidationFailed.for_field("body.content", "意见内容不能为空", "missing")
    if len(content) > settings.consultation_comment_max_chars:
        raise ValidationFailed.for_field(
            "body.content", f"意见内容不能超过{settings.consultation_comment_max_chars}字", "too_long"
        )
    c = await _consultation(session, consultation_id)
    if c.status == ConsultationStatus.draft:
        raise NotFound("征求意见事项不存在")
    assert c.closes_on is not None
    if period_ended(c, today):
        raise Conflict(
            f"征求意见已于{c.closes_on.isoformat()}截止，不再接收意见",
            code="consultation_closed",
            title="征求意见已截止",
        )
    terms = (
        await session.scalars(select(NegativeTerm.term).where(NegativeTerm.organization_id == c.organization_id))
    ).all()
    findings = [
        {"field": "content", "kind": f.kind, "masked": f.masked, "message": f.message, "confidence": f.confidence}
        for f in sensitive.scan(content, terms)
    ]
    comment = ConsultationComment(
        consultation_id=c.id,
        content=content,
        clause=(data.clause or "").strip() or None,
        author_name=(data.author_name or "").strip() or None,
        contact=(data.contact or "").strip() or None,
        submitted_on=today,
        status=CommentStatus.held if findings else CommentStatus.pending,
        findings=findings,
    )
    session.add(comment)
    await session.flush()
    return comment


async def list_comments(
    session: AsyncSession, *, consultation_id: uuid.UUID, principal: Principal, status: CommentStatus | None = None
) -> list[ConsultationComment]:
    await _staff_consultation(session, consultation_id, principal)
    stmt = select(ConsultationComment).where(ConsultationComment.consultation_id == consultation_id)
    if status is not None:
        stmt = stmt.where(ConsultationComment.status == status)
    return list((await session.scalars(stmt.order_by(ConsultationComment.id))).all())


async def moderate_comment(
    session: AsyncSession,
    *,
    consultation_id: uuid.UUID,
    comment_id: uuid.UUID,
    principal: Principal,
    accept: bool,
    reason: RejectionReason | None,
    note: str | None,
) -> ConsultationComment:
    """Accept a comment as valid, or refuse it as spam, abuse, personal data or off topic (with the reason)."""
    c = await _staff_consultation(session, consultation_id, principal)
    principal.require_department(c.organization_id)
    comment = await session.get(ConsultationComment, comment_id, with_for_update=True)
    if comment is None or comment.consultation_id != c.id:
        raise NotFound("意见不存在")
    note = (note or "").strip() or None
    if accept:
        if comment.status == CommentStatus.held and note is None:
            raise ValidationFailed.for_field(
                "body.note", "该意见含敏感内容（如个人信息），作为有效意见受理须说明理由", "missing"
            )
        comment.status, comment.rejection_reason = CommentStatus.accepted, None
    else:
        if reason is None:
            raise ValidationFailed.for_field("body.reason", "不予受理须选择理由", "missing")
        comment.status, comment.rejection_reason, comment.point_id = CommentStatus.rejected, reason, None
        note = note or REJECTION_LABELS[reason]
    comment.moderation_note = note
    comment.moderated_by = principal.subject
    comment.moderated_at = utcnow()
    await session.flush()
    return comment


# --------------------------------------------------------------------------------------------
# Main points (主要观点) and adoption
# --------------------------------------------------------------------------------------------


async def _assign(
    session: AsyncSession, c: Consultation, point: ConsultationPoint, comment_ids: list[uuid.UUID]
) -> None:
    if not comment_ids:
        return
    comments = (
        await session.scalars(
            select(ConsultationComment).where(ConsultationComment.id.in_(comment_ids)).with_for_update()
        )
    ).all()
    found = {x.id: x for x in comments if x.consultation_id == c.id}
    for i, cid in enumerate(comment_ids):
        x = found.get(cid)
        if x is None:
            raise ValidationFailed.for_field(f"body.comment_ids.{i}", "意见不存在", "not_found")
        if x.status != CommentStatus.accepted:
            raise ValidationFailed.for_field(f"body.comment_ids.{i}", "只有受理的有效意见可以归入观点", "not_accepted")
    for x in found.values():
        x.point_id = point.id


def _check_decision(adopted: bool | None, response: str | None) -> None:
    if adopted is False and not (response or "").strip():
        raise ValidationFailed.for_field("body.response", "未采纳的意见应当说明理由", "missing")


async def create_point(
    session: AsyncSession, *, consultation_id: uuid.UUID, principal: Principal, data: Any
) -> ConsultationPoint:
    c = await _staff_consultation(session, consultation_id, principal, lock=True)
    principal.require_department(c.organization_id)
    _check_decision(data.adopted, data.response)
    position = (
        await session.scalar(
            select(func.coalesce(func.max(ConsultationPoint.position), 0)).where(
                ConsultationPoint.consultation_id == c.id
            )
        )
        or 0
    )
    point = ConsultationPoint(
        consultation_id=c.id,
        summary=data.summary.strip(),
        adopted=data.adopted,
        response=(data.response or "").strip() or None,
        position=position + 1,
    )
    session.add(point)
    await session.flush()
    await _assign(session, c, point, data.comment_ids)
    await session.flush()
    return point


async def update_point(
    session: AsyncSession, *, consultation_id: uuid.UUID, point_id: uuid.UUID, principal: Principal, data: Any
) -> ConsultationPoint:
    c = await _staff_consultation(session, consultation_id, principal, lock=True)
    principal.require_department(c.organization_id)
    point = await session.get(ConsultationPoint, point_id, with_for_update=True)
    if point is None or point.consultation_id != c.id:
        raise NotFound("观点不存在")
    changes = data.model_dump(exclude_unset=True)
    adopted = changes.get("adopted", point.adopted)
    response = changes.get("response", point.response)
    _check_decision(adopted, response)
    if "summary" in changes:
        if not (changes["summary"] or "").strip():
            raise ValidationFailed.for_field("body.summary", "观点不能为空", "missing")
        point.summary = changes["summary"].strip()
    point.adopted = adopted
    point.response = (response or "").strip() or None
    await _assign(session, c, point, changes.get("comment_ids") or [])
    await session.flush()
    return point


async def list_points(session: AsyncSession, consultation_id: uuid.UUID) -> list[tuple[ConsultationPoint, int]]:
    """The points with the number of valid comments grouped in each."""
    stmt = (
        select(ConsultationPoint, func.count(ConsultationComment.id))
        .outerjoin(
            ConsultationComment,
            (ConsultationComment.point_id == ConsultationPoint.id)
            & (ConsultationComment.status == CommentStatus.accepted),
        )
        .where(ConsultationPoint.consultation_id == consultation_id)
        .group_by(ConsultationPoint.id)
        .order_by(ConsultationPoint.position, ConsultationPoint.id)
    )
    return [(p, n) for p, n in (await session.execute(stmt)).all()]


# --------------------------------------------------------------------------------------------
# The feedback report (意见采纳情况反馈)
# --------------------------------------------------------------------------------------------


def report_text(
    c: Consultation, org: Organization, draft: Item, counts: dict[str, int], points: list[tuple[ConsultationPoint, int]]
) -> tuple[str, str, str]:
    """(title, summary, body) of the feedback report: main points, number adopted, reasons for not adopting."""
    assert c.opened_on and c.closes_on
    adopted = [(p, n) for p, n in points if p.adopted]
    refused = [(p, n) for p, n in points if not p.adopted]
    title = f"关于《{c.title}》公开征求意见采纳情况的反馈"
    summary = (
        f"收到意见{counts['received']}条，有效意见{counts['valid']}条，归纳为{len(points)}个主要观点，"
        f"采纳意见{counts['adopted']}条（{len(adopted)}个观点），未采纳{len(refused)}个观点并说明理由。"
    )
    lines = [
        f"{org.name}于{c.opened_on:%Y年%m月%d日}至{c.closes_on:%Y年%m月%d日}就《{c.title}》"
        f"（决策草案：{draft.title}{'，索引号' + draft.index_number if draft.index_number else ''}）"
        f"向社会公开征求意见，期限{c.period_days}日。",
        f"共收到意见{counts['received']}条，其中有效意见{counts['valid']}条，不予受理{counts['rejected']}条；"
        f"有效意见归纳为{len(points)}个主要观点，采纳意见{counts['adopted']}条。",
        "",
        "一、采纳的意见",
    ]
    lines += [
        f"{i}. {p.summary}（意见{n}条）。采纳情况：{p.response or '已采纳'}" for i, (p, n) in enumerate(adopted, 1)
    ]
    if not adopted:
        lines.append("无。")
    lines += ["", "二、未采纳的意见及理由"]
    lines += [f"{i}. {p.summary}（意见{n}条）。未采纳理由：{p.response}" for i, (p, n) in enumerate(refused, 1)]
    if not refused:
        lines.append("无。")
    lines += ["", f"决策依据：{c.basis}", "", "感谢社会各界的关心和支持。"]
    return title, summary, "\n".join(lines)


async def prepare_feedback_report(
    session: AsyncSession,
    *,
    consultation_id: uuid.UUID,
    principal: Principal,
    settings: CatalogSettings,
    override_reason: str | None = None,
    today: dt.date | None = None,
) -> Consultation:
    """Generate the feedback report as a catalog item and submit it to review (条例 art. 17 先审查后公开).

    Refused before the period ends, while comments await moderation, while valid comments are not grouped
    into a point, or while a point has no adoption decision. A report returned by review is regenerated.
    """
    today = today or china_today()
    c = await _staff_consultation(session, consultation_id, principal, lock=True)
    principal.require_department(c.organization_id)
    if c.status == ConsultationStatus.draft or not period_ended(c, today):
        raise Conflict(
            f"征求意见期限尚未届满（截止{c.closes_on.isoformat() if c.closes_on else '未开始'}），不能形成反馈情况",
            code="consultation_period_not_ended",
            title="征求意见尚未结束",
        )
    counts = await comment_counts(session, c.id)
    if counts["unmoderated"]:
        raise Conflict(f"还有{counts['unmoderated']}条意见未审核", code="comments_unmoderated")
    ungrouped = await session.scalar(
        select(func.count()).where(
            ConsultationComment.consultation_id == c.id,
            ConsultationComment.status == CommentStatus.accepted,
            ConsultationComment.point_id.is_(None),
        )
    )
    if ungrouped:
        raise Conflict(f"还有{ungrouped}条有效意见未归入主要观点", code="comments_ungrouped")
    points = await list_points(session, c.id)
    undecided = [p for p, _ in points if p.adopted is None]
    if undecided:
        raise Conflict(f"还有{len(undecided)}个观点未确定是否采纳", code="points_undecided")
    if c.status == ConsultationStatus.open:
        await _close(session, c)
    org = await session.get(Organization, c.organization_id)
    draft = await session.get(Item, c.draft_item_id)
    assert org is not None and draft is not None
    title, summary, body = report_text(c, org, draft, counts, points)
    if c.report_item_id is not None:
        item = await session.get(Item, c.report_item_id, with_for_update=True)
        assert item is not None
        if item.status != ItemStatus.draft:
            raise Conflict("反馈情况已在审查中或已发布", code="report_exists")
        await catalog.update_item(
            session, item_id=item.id, principal=principal, data=ItemUpdate(title=title, summary=summary, body=body)
        )
    else:
        item = await catalog.create_item(
            session,
            principal=principal,
            data=ItemCreate(
                organization_id=c.organization_id,
                category_id=draft.category_id,
                title=title,
                summary=summary,
                kind=ItemKind.other_document,
                body=body,
                keywords=["意见征集", "采纳情况"],
            ),
        )
        item.origin, item.origin_id = REPORT_ORIGIN, c.id
        c.report_item_id = item.id
        await session.flush()
    await catalog.submit_item(
        session, item_id=item.id, principal=principal, override_reason=override_reason, settings=settings
    )
    return c


async def on_item_published(session: AsyncSession, envelope: Envelope) -> None:
    """``catalog.item.published`` of a feedback report: record its date and announce it (once: the inbox)."""
    event = ItemPublishedV1.model_validate(envelope.data)
    if event.origin != REPORT_ORIGIN or event.origin_id is None:
        return
    c = await session.get(Consultation, event.origin_id, with_for_update=True)
    if c is None or c.report_published_on is not None:
        return
    c.report_item_id = event.item_id
    c.report_published_on = event.published_on
    await session.flush()
    await emit(session, event_tables, CONSULTATION_REPORT_PUBLISHED_V1, await _payload(session, c))


# --------------------------------------------------------------------------------------------
# The sweep: periods that ended, feedback reports overdue
# --------------------------------------------------------------------------------------------


async def consultation_sweep(
    session: AsyncSession, *, today: dt.date | None = None, batch: int = 500
) -> tuple[int, int]:
    """Close consultations whose period ended; flag feedback reports overdue (once each). Return (closed, overdue)."""
    today = today or china_today()
    ended = (
        await session.scalars(
            select(Consultation)
            .where(Consultation.status == ConsultationStatus.open, Consultation.closes_on < today)
            .order_by(Consultation.closes_on)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for c in ended:
        await _close(session, c)
    late = (
        await session.scalars(
            select(Consultation)
            .where(
                Consultation.status != ConsultationStatus.draft,
                Consultation.report_published_on.is_(None),
                Consultation.report_overdue_sent_at.is_(None),
                Consultation.report_due_on < today,
            )
            .order_by(Consultation.report_due_on)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for c in late:
        c.report_overdue_sent_at = utcnow()
        await emit(session, event_tables, CONSULTATION_REPORT_OVERDUE_V1, await _payload(session, c))
    await session.flush()
    return len(ended), len(late)


async def consultation_figures(
    session: AsyncSession, *, organization_id: uuid.UUID, start: dt.date, end: dt.date, today: dt.date
) -> dict[str, Any]:
    """Consultations opened in [start, end]: held, comments received and valid, adopted, reports on time."""
    held = (
        await session.scalars(
            select(Consultation.id).where(
                Consultation.organization_id == organization_id,
                Consultation.opened_on >= start,
                Consultation.opened_on <= end,
            )
        )
    ).all()
    received = valid = adopted = due = on_time = 0
    for cid in held:
        counts = await comment_counts(session, cid)
        received, valid, adopted = received + counts["received"], valid + counts["valid"], adopted + counts["adopted"]
    rows = (
        await session.execute(
            select(Consultation.report_due_on, Consultation.report_published_on).where(Consultation.id.in_(held))
        )
    ).all()
    for due_on, published_on in rows:
        # A report counts once it is due, or once it is published (early counts as on time).
        if published_on is not None or (due_on is not None and due_on < today):
            due += 1
            on_time += published_on is not None and due_on is not None and published_on <= due_on
    return {
        "consultations_held": len(held),
        "comments_received": received,
        "comments_valid": valid,
        "comments_adopted": adopted,
        "adoption_rate": round(adopted / valid, 4) if valid else None,
        "reports_due": due,
        "reports_on_time": on_time,
        "reports_late_or_missing": due - on_time,
    }
