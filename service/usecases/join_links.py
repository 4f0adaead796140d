"""Resolving a personal join link to its participant and consultation (the link rules:
domain.join)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.errors import NotFound
from service.domain.join import JoinNotOpen, JoinState, join_state, join_window
from service.domain.tokens import hash_token
from service.storage import consultations as consultations_store
from service.storage.models import Consultation, Participant


async def resolve_join_token(
    db: AsyncSession, token: str, now: datetime
) -> tuple[Participant, Consultation]:
    """The participant a join token belongs to and their consultation, if it lets them in now.

    Raises `NotFound` for a token that is unknown or replaced by a newer invitation (the two
    look alike, so a guess learns nothing), and `JoinNotOpen` with the reason otherwise.
    """
    participant = await consultations_store.participant_for_token(db, hash_token(token))
    if participant is None:
        raise NotFound("This link is not valid. Use the link in your newest invitation.")
    consultation = participant.consultation
    state = join_state(consultation.status, consultation.starts_at, consultation.ends_at, now)
    if state is JoinState.OPEN:
        return participant, consultation
    window = join_window(consultation.starts_at, consultation.ends_at)
    detail = {
        JoinState.TOO_EARLY: "The consultation opens 30 minutes before it starts.",
        JoinState.CLOSED: "The consultation is over.",
        JoinState.NOT_TAKING_PLACE: "The consultation does not take place.",
    }[state]
    raise JoinNotOpen(
        detail, state=state, opens_at=window.opens_at if state is JoinState.TOO_EARLY else None
    )
