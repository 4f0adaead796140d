"""Accepting, proposing a time, rescheduling and cancelling: the changes that mail people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import Clock
from service.domain.errors import Conflict, InvalidInput
from service.domain.permissions import side_of
from service.domain.schemas import AcceptInput, CancelInput, TimeInput
from service.domain.states import Action, ConsultationStatus, Side, Transition, apply
from service.settings import Settings
from service.storage import consultations as store
from service.storage.engine import reading, run_transaction
from service.storage.models import Consultation
from service.usecases import notifications
from service.usecases.audit import audit
from service.usecases.booking.reads import visible
from service.usecases.booking.slots import as_domain_error, check_time, span, specialists_for


def _transition(c: Consultation, action: Action, actor: Actor) -> Transition:
    awaiting = Side(c.awaiting) if c.awaiting else None
    return apply(ConsultationStatus(c.status), awaiting, action, side_of(actor))


def _store_transition(c: Consultation, t: Transition, now: datetime) -> None:
    c.status = str(t.status)
    c.awaiting = str(t.awaiting) if t.awaiting else None
    if t.bumps_revision:
        c.revision += 1
    c.updated_at = now


# A change that mails people runs in two transactions with the rendering between them: the
# draft reads the consultation and plans the mails from it as the change would leave it (no
# lock held while they render), then the write makes the change, plans again and writes the
# rendered mails only if the plan is the same (else the consultation moved meanwhile, and the
# whole change is drafted again, at most DRAFT_ATTEMPTS times).
DRAFT_ATTEMPTS = 3

Plan = Callable[[AsyncSession, Consultation, Settings, datetime], Awaitable[notifications.MailPlan]]


class _Moved(Exception):
    """The consultation changed between the draft and the write: its mails are stale."""


async def _change_with_mails(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    consultation_id: str,
    actor: Actor,
    change: Callable[[AsyncSession, Consultation, bool], Awaitable[None]],
    plan: Plan,
) -> Consultation:
    """Run `change(db, c, writing)` on the consultation, with the mails `plan` makes of it.

    `change` applies the decision to `c`; only with `writing` does it write (held times,
    history, audit); without, it only checks and sets the attributes the mails depend on.
    """

    async def draft(db: AsyncSession) -> notifications.MailPlan:
        c = await visible(db, actor, consultation_id)
        with db.no_autoflush:
            await change(db, c, False)
            planned = await plan(db, c, settings, now)
        db.expunge_all()  # the draft's changes to `c` are never written
        return planned

    async def write(db: AsyncSession, rendered: notifications.RenderedMails) -> Consultation:
        c = await visible(db, actor, consultation_id, for_update=True)
        await change(db, c, True)
        await store.flush_bookings(db)
        if (await plan(db, c, settings, now)).key() != rendered.plan.key():
            raise _Moved
        await notifications.write(db, c, rendered)
        return c

    for _ in range(DRAFT_ATTEMPTS):
        planned = await run_transaction(reading(sessionmaker), draft)
        rendered = await notifications.render(planned, settings, now)
        try:
            return await run_transaction(sessionmaker, write, rendered)
        except _Moved:
            continue
        except IntegrityError as exc:
            raise as_domain_error(exc) from exc
    raise Conflict("The consultation changed while this was being done; try again.")


async def accept(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    consultation_id: str,
    data: AcceptInput,
) -> Consultation:
    """Confirm the consultation (either side), assigning its specialist on the hospital side.

    The confirmation mails (about 15: invites and reminders for everyone) are rendered between
    a draft and the write (`_change_with_mails`), so the write lock is held only for the
    statements.
    """
    side_of(actor)  # roles without a side (evaluator, admin) are refused before any lookup
    now = clock.now()

    async def change(db: AsyncSession, c: Consultation, writing: bool) -> None:
        transition = _transition(c, Action.ACCEPT, actor)
        if side_of(actor) == Side.HOSPITAL:
            await _assign_specialist(db, actor, now, settings, c, data.specialist_id, writing)
        _store_transition(c, transition, now)
        if writing:
            store.add_event(db, c, action="accept", actor_id=actor.user_id, at=now)
            audit(db, at=now, actor=actor, action="accept", consultation_ids=[c.id])

    return await _change_with_mails(
        sessionmaker, settings, now, consultation_id, actor, change, notifications.plan_confirmed
    )


async def _assign_specialist(
    db: AsyncSession,
    actor: Actor,
    now: datetime,
    settings: Settings,
    c: Consultation,
    requested_id: int | None,
    writing: bool,
) -> None:
    if c.specialist_id is not None:
        if requested_id is not None and requested_id != c.specialist_id:
            raise InvalidInput("The consultation already has a specialist.", field="specialist_id")
        return
    specialist_id = actor.user_id if actor.role == "specialist" else requested_id
    if specialist_id is None:
        raise InvalidInput(
            "Name the specialist who takes this consultation.", field="specialist_id"
        )
    await specialists_for(db, c.department_id, specialist_id)
    if writing:
        await check_time(
            db,
            now,
            settings,
            user_ids=[specialist_id],
            patient_id=None,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            excluding=c.id,
        )
        await store.hold(db, c.id, [store.user_resource(specialist_id)], c.starts_at, c.ends_at)
    c.specialist_id = specialist_id


async def change_time(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    consultation_id: str,
    data: TimeInput,
    action: Action,
) -> Consultation:
    """Propose a new time (hospital side) or reschedule (GP side)."""
    side_of(actor)
    now = clock.now()

    async def change(db: AsyncSession, c: Consultation, writing: bool) -> None:
        transition = _transition(c, action, actor)
        duration = (
            timedelta(minutes=data.duration_minutes)
            if data.duration_minutes is not None
            else c.ends_at - c.starts_at
        )
        starts_at, ends_at = span(now, settings, data.starts_at, duration)
        if writing:
            clinicians = [c.gp_id] + ([c.specialist_id] if c.specialist_id else [])
            await check_time(
                db,
                now,
                settings,
                user_ids=clinicians,
                patient_id=c.patient_id if c.kind == "joint" else None,
                starts_at=starts_at,
                ends_at=ends_at,
                excluding=c.id,
            )
            await store.move_bookings(db, c.id, starts_at, ends_at)
        c.starts_at, c.ends_at = starts_at, ends_at
        _store_transition(c, transition, now)
        if writing:
            store.add_event(db, c, action=str(action), actor_id=actor.user_id, at=now)
            audit(db, at=now, actor=actor, action=str(action), consultation_ids=[c.id])

    return await _change_with_mails(
        sessionmaker, settings, now, consultation_id, actor, change, notifications.plan_moved
    )


async def cancel(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    consultation_id: str,
    data: CancelInput,
) -> Consultation:
    side_of(actor)
    now = clock.now()

    async def change(db: AsyncSession, c: Consultation, writing: bool) -> None:
        _store_transition(c, _transition(c, Action.CANCEL, actor), now)
        if writing:
            await store.release_bookings(db, c.id)
            store.add_event(db, c, action="cancel", actor_id=actor.user_id, at=now)
            audit(db, at=now, actor=actor, action="cancel", consultation_ids=[c.id])

    return await _change_with_mails(
        sessionmaker, settings, now, consultation_id, actor, change, notifications.plan_cancelled
    )
