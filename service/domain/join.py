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

from service.domain.errors import Conflict
from service.domain.roles import ACCOUNT_PARTICIPANTS

JOIN_OPENS_BEFORE = timedelta(minutes=30)
JOIN_CLOSES_AFTER = timedelta(minutes=60)
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
    return user_id is None and role not in ACCOUNT_PARTICIPANTS


def guest_join_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/bli-med/{token}"


def clinician_join_url(base_url: str, consultation_id: str) -> str:
    return f"{base_url.rstrip('/')}/samkonsultasjonar/{consultation_id}"
