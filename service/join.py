"""Personal join links: the URL each participant gets, and when a link lets its holder in.

Participants without an account (patient, relatives, interpreter, municipal staff) join with a
personal link `{base_url}/bli-med/{token}`; the database keeps only the token's SHA-256. A link
opens `JOIN_OPENS_BEFORE` ahead of the start and closes `JOIN_CLOSES_AFTER` past the end, and
only while the consultation is confirmed or under way. Clinicians log in and use the
consultation's own page instead, so their mails carry that page's address.

A new invitation or update mints a new token and so invalidates the previous link: the calendar
entry holding the old link is replaced by the update (same UID, higher SEQUENCE), and the
reminders are rendered again with the new link in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Conflict, NotFound
from service.models import Consultation, Participant
from service.storage import consultations as consultations_store
from service.tokens import hash_token

JOIN_OPENS_BEFORE = timedelta(minutes=30)
JOIN_CLOSES_AFTER = timedelta(minutes=60)
# Roles that log in as clinicians; everyone else joins with a personal link.
CLINICIAN_ROLES = frozenset({"gp", "specialist"})
JOINABLE_STATUSES = frozenset({"confirmed", "in_progress"})


class JoinState(StrEnum):
    TOO_EARLY = "too_early"
    OPEN = "open"
    CLOSED = "closed"
    NOT_TAKING_PLACE = "not_taking_place"


class JoinNotOpen(Conflict):
    """The link is genuine but does not let anyone in now (too early, too late, cancelled)."""

    title = "The consultation is not open"
    type_slug = "join-not-open"

    def __init__(self, detail: str, *, state: JoinState, opens_at: datetime | None) -> None:
        super().__init__(detail)
        self.state = state
        self.opens_at = opens_at


@dataclass(frozen=True, slots=True)
class JoinWindow:
    opens_at: datetime
    closes_at: datetime


def join_window(starts_at: datetime, ends_at: datetime) -> JoinWindow:
    return JoinWindow(starts_at - JOIN_OPENS_BEFORE, ends_at + JOIN_CLOSES_AFTER)


def join_state(status: str, starts_at: datetime, ends_at: datetime, now: datetime) -> JoinState:
    """Whether a valid link to a consultation in `status` at these times lets its holder in now.

    The window is half-open, like every interval in samkons: open from `opens_at`, closed at
    `closes_at`.
    """
    if status not in JOINABLE_STATUSES:
        return JoinState.NOT_TAKING_PLACE
    window = join_window(starts_at, ends_at)
    if now < window.opens_at:
        return JoinState.TOO_EARLY
    if now >= window.closes_at:
        return JoinState.CLOSED
    return JoinState.OPEN


def uses_join_token(role: str, user_id: int | None) -> bool:
    return user_id is None and role not in CLINICIAN_ROLES


def guest_join_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/bli-med/{token}"


def clinician_join_url(base_url: str, consultation_id: str) -> str:
    return f"{base_url.rstrip('/')}/samkonsultasjonar/{consultation_id}"


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
