"""SQL for admissions to a consultation's video room, read from its session events.

An admission is a fact of the consultation, not of a hub process: the session events already
record every `admit` and `remove`, so the latest of the two says whether a participant is
admitted, whatever the hub or its backplane remember.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.storage.models import Consultation, SessionEventRecord

ADMISSION_EVENTS = ("admit", "remove")


async def latest_admission_event(db: AsyncSession, room_id: str, participant_id: str) -> str | None:
    """`admit` or `remove`, whichever the participant had last in the room, or None."""
    return await db.scalar(
        select(SessionEventRecord.event)
        .join(Consultation, Consultation.id == SessionEventRecord.consultation_id)
        .where(
            Consultation.room_id == room_id,
            SessionEventRecord.participant_id == participant_id,
            SessionEventRecord.event.in_(ADMISSION_EVENTS),
        )
        .order_by(SessionEventRecord.at.desc(), SessionEventRecord.id.desc())
        .limit(1)
    )
