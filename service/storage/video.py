"""SQL for video sessions: join-token lookup, the room's consultation, and session events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.storage.models import Consultation, Participant, SessionEventRecord, User


async def consultation_by_room(
    db: AsyncSession, room_id: str, *, for_update: bool = False
) -> Consultation | None:
    stmt = select(Consultation).where(Consultation.room_id == room_id)
    if for_update:
        stmt = stmt.with_for_update()
    return await db.scalar(stmt)


async def clinician_participant(
    db: AsyncSession, consultation_id: str, user_id: int
) -> Participant | None:
    """The participant row of a clinician account in a consultation, if it has one."""
    return await db.scalar(
        select(Participant)
        .where(Participant.consultation_id == consultation_id, Participant.user_id == user_id)
        .order_by(Participant.id)
        .limit(1)
    )


async def participant_role(
    db: AsyncSession, consultation_id: str, participant_id: str
) -> str | None:
    return await db.scalar(
        select(Participant.role).where(
            Participant.consultation_id == consultation_id, Participant.id == participant_id
        )
    )


async def user_role(db: AsyncSession, user_id: int) -> str | None:
    return await db.scalar(select(User.role).where(User.id == user_id))


def add_session_event(
    db: AsyncSession,
    *,
    consultation_id: str,
    participant_id: str,
    role: str,
    event: str,
    at: datetime,
) -> None:
    db.add(
        SessionEventRecord(
            consultation_id=consultation_id,
            participant_id=participant_id,
            role=role,
            event=event,
            at=at,
        )
    )


async def session_events(db: AsyncSession, consultation_id: str) -> list[SessionEventRecord]:
    """A consultation's session events in the order they happened."""
    return list(
        (
            await db.scalars(
                select(SessionEventRecord)
                .where(SessionEventRecord.consultation_id == consultation_id)
                .order_by(SessionEventRecord.at, SessionEventRecord.id)
            )
        ).all()
    )
