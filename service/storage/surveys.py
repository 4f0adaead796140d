"""Survey queries: consultations due for a survey, invitations, finding a survey by its token
hash, recording one answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from service.storage.models import Consultation, Participant, Survey, User

# Whose answer about travelling counts when several answered: the patient knows best.
ANSWER_PRIORITY = ("patient", "relative", "gp", "specialist", "municipal_staff", "interpreter")


async def consultation(db: AsyncSession, consultation_id: str) -> Consultation | None:
    return await db.get(Consultation, consultation_id)


async def due_for_survey(
    db: AsyncSession, *, ended_before: datetime, ended_after: datetime, limit: int
) -> list[Consultation]:
    """Completed consultations that ended in the window and still have someone to invite, locked.

    Ended means both the planned and, if recorded, the actual end. SKIP LOCKED lets two
    scheduler instances share the work: a consultation another instance is inviting for is
    passed over, and once it has committed, `uninvited_participants` finds nobody left.
    """
    uninvited = or_(
        exists().where(
            Participant.consultation_id == Consultation.id,
            Participant.email.is_not(None),
            ~exists().where(Survey.participant_id == Participant.id),
        ),
        and_(
            Consultation.specialist_id.is_not(None),
            ~exists().where(
                Survey.consultation_id == Consultation.id,
                Survey.user_id == Consultation.specialist_id,
            ),
        ),
    )
    return list(
        (
            await db.scalars(
                select(Consultation)
                .where(
                    Consultation.status == "completed",
                    Consultation.ends_at <= ended_before,
                    Consultation.ends_at > ended_after,
                    or_(
                        Consultation.actual_ended_at.is_(None),
                        Consultation.actual_ended_at <= ended_before,
                    ),
                    uninvited,
                )
                .order_by(Consultation.ends_at, Consultation.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=Consultation)
            )
        ).all()
    )


async def uninvited_participants(db: AsyncSession, consultation_id: str) -> list[Participant]:
    """Participants with an e-mail address who have no survey for this consultation yet."""
    invited = select(Survey.participant_id).where(
        Survey.consultation_id == consultation_id, Survey.participant_id.is_not(None)
    )
    rows = await db.scalars(
        select(Participant)
        .where(
            Participant.consultation_id == consultation_id,
            Participant.email.is_not(None),
            Participant.id.not_in(invited),
        )
        .order_by(Participant.id)
    )
    return list(rows.all())


async def uninvited_specialist(db: AsyncSession, consultation: Consultation) -> User | None:
    """The consultation's specialist if they have no survey for it yet.

    The specialist takes part through their account, not a participant row.
    """
    if consultation.specialist_id is None:
        return None
    invited = await db.scalar(
        select(
            exists().where(
                Survey.consultation_id == consultation.id,
                Survey.user_id == consultation.specialist_id,
            )
        )
    )
    return None if invited else await db.get(User, consultation.specialist_id)


async def by_token_hash(db: AsyncSession, token_hash: str) -> tuple[Survey, datetime] | None:
    """The survey and its consultation's start."""
    row = (
        await db.execute(
            select(Survey, Consultation.starts_at)
            .join(Consultation, Consultation.id == Survey.consultation_id)
            .where(Survey.token_hash == token_hash)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def record_answer(
    db: AsyncSession,
    token_hash: str,
    *,
    at: datetime,
    satisfaction: int,
    would_travel: bool | None,
    physical_visit_needed: bool | None,
    free_text: str | None,
) -> bool:
    """Store the answer if the survey is still open; False if it was answered already.

    One conditional UPDATE, so two submissions at once cannot both count.
    """
    result = await db.execute(
        update(Survey)
        .where(Survey.token_hash == token_hash, Survey.answered_at.is_(None))
        .values(
            answered_at=at,
            satisfaction=satisfaction,
            would_travel=would_travel,
            physical_visit_needed=physical_visit_needed,
            free_text=free_text,
            has_free_text=free_text is not None,
        )
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def best_travel_answer(db: AsyncSession, consultation_id: str) -> bool | None:
    """The most trustworthy answer to "would the patient otherwise have travelled?"."""
    rank = case(
        *((Survey.role == role, i) for i, role in enumerate(ANSWER_PRIORITY)),
        else_=len(ANSWER_PRIORITY),
    )
    answer = await db.scalar(
        select(Survey.would_travel)
        .where(
            Survey.consultation_id == consultation_id,
            Survey.answered_at.is_not(None),
            Survey.would_travel.is_not(None),
        )
        .order_by(rank, Survey.answered_at)
        .limit(1)
    )
    return None if answer is None else bool(answer)


async def set_confirmed_travel(db: AsyncSession, consultation_id: str, value: bool | None) -> None:
    await db.execute(
        update(Consultation)
        .where(Consultation.id == consultation_id)
        .values(patient_travel_confirmed=value)
    )
