"""SQL for the timed sweeps: consultations past their end, and data past its retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from service.storage.models import Booking, Consultation, OutboxMail, Patient, Survey


async def ended_still_open(
    db: AsyncSession, *, ended_before: datetime, limit: int
) -> list[Consultation]:
    """Confirmed or in-progress consultations that ended before the given time, locked.

    SKIP LOCKED lets two scheduler instances share the work instead of queueing for it.
    """
    return list(
        (
            await db.scalars(
                select(Consultation)
                .where(
                    Consultation.status.in_(("confirmed", "in_progress")),
                    Consultation.ends_at <= ended_before,
                )
                .order_by(Consultation.ends_at, Consultation.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


async def unanswered_requests(
    db: AsyncSession, *, started_before: datetime, limit: int
) -> list[Consultation]:
    """Requests whose start time has passed without an answer, locked, with participants."""
    return list(
        (
            await db.scalars(
                select(Consultation)
                .where(
                    Consultation.status == "requested",
                    Consultation.starts_at <= started_before,
                )
                .order_by(Consultation.starts_at, Consultation.id)
                .limit(limit)
                .options(selectinload(Consultation.participants))
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


async def expired_unerased(
    db: AsyncSession, *, ended_before: datetime, limit: int
) -> list[Consultation]:
    return list(
        (
            await db.scalars(
                select(Consultation)
                .where(Consultation.erased_at.is_(None), Consultation.ends_at < ended_before)
                .order_by(Consultation.ends_at, Consultation.id)
                .limit(limit)
                .options(selectinload(Consultation.participants))
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


async def delete_mails_and_bookings(db: AsyncSession, consultation_ids: Sequence[str]) -> None:
    await db.execute(delete(OutboxMail).where(OutboxMail.consultation_id.in_(consultation_ids)))
    await db.execute(delete(Booking).where(Booking.consultation_id.in_(consultation_ids)))


async def anonymise_surveys(db: AsyncSession, consultation_ids: Sequence[str]) -> None:
    """Blank the surveys' free text and who answered; the answers stay as anonymous facts.

    `has_free_text` keeps the count evaluators see. A participant's link goes with the
    participant row (ON DELETE SET NULL); the specialist's account stays, so it is cut here.
    """
    await db.execute(
        update(Survey)
        .where(Survey.consultation_id.in_(consultation_ids))
        .values(free_text=None, user_id=None)
    )


async def delete_forgotten_patients(db: AsyncSession, *, created_before: datetime) -> int:
    """Delete patients registered before the cutoff that no consultation refers to any more."""
    referenced = exists().where(Consultation.patient_id == Patient.id)
    result = await db.execute(
        delete(Patient).where(Patient.created_at < created_before, ~referenced)
    )
    return int(getattr(result, "rowcount", 0) or 0)
