"""Video sessions in the product: who may enter a consultation's room, and the record of the call.

The signalling broker (`signalling/`) knows nothing about the database; this module gives it
the two adapters it needs:

- `DbAuthenticator` identifies the caller of the WebSocket upgrade. A patient, relative,
  interpreter or municipal staff member brings a personal join token (`?token=`; only its
  SHA-256 is stored); a clinician brings their login session. Either way the consultation must be
  open for calls (`confirmed`, `in_progress` or `completed`) and the time inside the join window.
- `DbSessionRecorder` stores each join, admit, leave, disconnect and remove in `session_events`
  and keeps the consultation's actual start and end, and its state, in step with them.

When a call starts: the first moment two participants are admitted in the room at once. A
clinician waiting alone has not started anything, so a consultation nobody else joins can still
become `no_show`. The call ends when the last admitted participant leaves; if people come back,
the end is cleared and set again when the room is empty. A consultation whose room empties after
its planned end is completed at once; otherwise the scheduler completes it after the grace time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain import join
from service.domain.actor import Actor
from service.domain.clock import Clock
from service.domain.permissions import may_join_with_login
from service.domain.roles import ACCOUNT_PARTICIPANTS
from service.domain.states import Action, ConsultationStatus, apply
from service.domain.tokens import hash_token
from service.http.auth import current_actor
from service.settings import Settings
from service.storage import consultations as consultations_store
from service.storage import video as store
from service.storage.models import Consultation, Participant
from signalling.config import HubConfig
from signalling.identity import Identity, SessionEvent
from signalling.turn import ice_servers_for, mint_turn_credentials

log = logging.getLogger(__name__)

ROOM_OPEN_STATUSES: Final = frozenset(
    {ConsultationStatus.CONFIRMED, ConsultationStatus.IN_PROGRESS, ConsultationStatus.COMPLETED}
)
# Participant roles whose powers in the room (admitting, removing) come only from a login: a join
# token never makes anyone a clinician. Those are exactly the roles that get no join link.
LOGIN_ONLY_ROLES: Final = ACCOUNT_PARTICIPANTS
USER_PARTICIPANT_PREFIX: Final = "user-"
DEPARTURES: Final = frozenset({"leave", "disconnect", "remove"})

RoomRefusal = Literal["closed", "too_early", "too_late"]
SessionmakerSource = Callable[[], async_sessionmaker[AsyncSession]]


def hub_config(settings: Settings) -> HubConfig:
    """The signalling hub's configuration from the app's settings."""
    secret = settings.turn_secret.get_secret_value() if settings.turn_secret else None
    return HubConfig(
        allowed_origins=frozenset(settings.origins),
        turn_secret=secret,
        turn_urls=tuple(settings.turn_urls),
        stun_urls=tuple(settings.stun_urls),
        turn_ttl=timedelta(seconds=settings.turn_ttl_seconds),
    )


def ice_servers_from_settings(
    settings: Settings, participant_id: str, now: datetime, ttl: timedelta | None = None
) -> list[dict[str, object]]:
    """STUN and TURN servers for a peer outside a room (the pre-call check and its echo peer).

    TURN credentials are minted fresh for `participant_id`, valid for `ttl` (default: the
    settings' TURN lifetime).
    """
    credentials = None
    if settings.turn_secret and settings.turn_urls:
        lifetime = ttl or timedelta(seconds=settings.turn_ttl_seconds)
        credentials = mint_turn_credentials(
            settings.turn_secret.get_secret_value(), participant_id, now, lifetime
        )
    return ice_servers_for(
        stun_urls=settings.stun_urls, turn_urls=settings.turn_urls, credentials=credentials
    )


# --- pure rules ------------------------------------------------------------------------------


def join_window(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    """When a consultation's room can be entered: the join links' window, as a pair."""
    window = join.join_window(starts_at, ends_at)
    return window.opens_at, window.closes_at


def room_refusal(
    status: str, starts_at: datetime, ends_at: datetime, now: datetime
) -> RoomRefusal | None:
    """Why the room of a consultation cannot be entered now, or None if it can."""
    if status not in ROOM_OPEN_STATUSES:
        return "closed"
    opens, closes = join_window(starts_at, ends_at)
    if now < opens:
        return "too_early"
    if now >= closes:
        return "too_late"
    return None


def clinician_participant_id(user_id: int, participant: Participant | None) -> str:
    """A clinician's id in the room: their participant row, or one derived from the account."""
    if participant is not None:
        return participant.id
    return f"{USER_PARTICIPANT_PREFIX}{user_id}"


def user_id_of(participant_id: str) -> int | None:
    """The account behind a `user-<id>` room id, or None for a participant row's id."""
    if not participant_id.startswith(USER_PARTICIPANT_PREFIX):
        return None
    number = participant_id.removeprefix(USER_PARTICIPANT_PREFIX)
    return int(number) if number.isdigit() else None


def admitted_present(events: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Participants in the call now, from `(participant_id, event)` in the order they happened.

    Each connection records `join` and then `admit` once admitted, and a replaced connection
    records nothing, so a participant is in the call exactly when its latest event is `admit`.
    """
    latest: dict[str, str] = {}
    for participant_id, event in events:
        latest[participant_id] = event
    return frozenset(p for p, event in latest.items() if event == "admit")


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the session events say about the consultation, after one more event."""

    started_at: datetime | None
    ended_at: datetime | None
    start: bool  # move confirmed → in_progress now
    complete: bool  # move in_progress → completed now


def account_session(
    *,
    status: str,
    started_at: datetime | None,
    ended_at: datetime | None,
    planned_end: datetime,
    event: str,
    at: datetime,
    in_call: int,
) -> SessionFacts:
    """The consultation's actual start and end, and state changes, after `event` at `at`.

    `in_call` counts the participants admitted and present once the event is applied.
    """
    if in_call >= 2:
        first_start = started_at is None
        return SessionFacts(
            started_at=at if first_start else started_at,
            ended_at=None,
            start=first_start and status == ConsultationStatus.CONFIRMED,
            complete=False,
        )
    if in_call == 0 and event in DEPARTURES and started_at is not None:
        return SessionFacts(
            started_at=started_at,
            ended_at=at,
            start=False,
            complete=status == ConsultationStatus.IN_PROGRESS and at >= planned_end,
        )
    return SessionFacts(started_at=started_at, ended_at=ended_at, start=False, complete=False)


# --- who is knocking -------------------------------------------------------------------------


def _refuse(refusal: RoomRefusal) -> web.HTTPException:
    if refusal == "closed":
        return web.HTTPForbidden(text="the consultation is not open for calls")
    return web.HTTPUnauthorized(text="the join link is not valid at this time")


class DbAuthenticator:
    """The signalling `Authenticator` over the database: join tokens and login sessions."""

    def __init__(self, sessionmaker: SessionmakerSource, clock: Clock) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock

    async def authenticate(self, request: web.Request) -> Identity:
        token = request.query.get("token")
        if token:
            return await self.by_token(token)
        actor = current_actor(request)
        if actor is None:
            raise web.HTTPUnauthorized(text="log in or use your join link")
        return await self.by_login(actor, request.match_info.get("room", ""))

    async def by_token(self, token: str) -> Identity:
        async with self._sessionmaker()() as db:
            participant = await consultations_store.participant_for_token(db, hash_token(token))
        if participant is None:
            raise web.HTTPUnauthorized(text="unknown join link")
        consultation = participant.consultation
        refusal = room_refusal(
            consultation.status, consultation.starts_at, consultation.ends_at, self._clock.now()
        )
        if refusal is not None:
            raise _refuse(refusal)
        if participant.role in LOGIN_ONLY_ROLES:
            raise web.HTTPForbidden(text="clinicians join with their login")
        return Identity(
            room_id=consultation.room_id,
            participant_id=participant.id,
            display_name=participant.name,
            role=participant.role,
            is_clinician=False,
        )

    async def by_login(self, actor: Actor, room_id: str) -> Identity:
        if not actor.is_clinician:
            raise web.HTTPForbidden(text="this account does not take part in consultations")
        async with self._sessionmaker()() as db:
            consultation = await store.consultation_by_room(db, room_id)
            # A room the clinician may not see answers like one that does not exist.
            if consultation is None or not may_join_with_login(actor, consultation):
                raise web.HTTPForbidden(text="not a participant of this room")
            row = await store.clinician_participant(db, consultation.id, actor.user_id)
        refusal = room_refusal(
            consultation.status, consultation.starts_at, consultation.ends_at, self._clock.now()
        )
        if refusal is not None:
            raise web.HTTPForbidden(text="the room is not open now")
        return Identity(
            room_id=consultation.room_id,
            participant_id=clinician_participant_id(actor.user_id, row),
            display_name=actor.name,
            role=clinician_role(actor, consultation),
            is_clinician=True,
        )


def clinician_role(actor: Actor, consultation: Consultation) -> str:
    """The role a clinician account plays in this consultation's room."""
    if actor.user_id == consultation.gp_id:
        return "gp"
    return actor.role


# --- the record of the call ------------------------------------------------------------------


class DbSessionRecorder:
    """The signalling `SessionRecorder`: session events and the consultation's actual times."""

    def __init__(self, sessionmaker: SessionmakerSource) -> None:
        self._sessionmaker = sessionmaker

    async def record(
        self, room_id: str, participant_id: str, event: SessionEvent, at: datetime
    ) -> None:
        # One transaction, with the consultation locked, so events from several instances are
        # counted one after another.
        async with self._sessionmaker()() as db, db.begin():
            consultation = await store.consultation_by_room(db, room_id, for_update=True)
            if consultation is None:
                log.warning("session event for a room without a consultation")
                return
            role = await _role_of(db, consultation.id, participant_id)
            store.add_session_event(
                db,
                consultation_id=consultation.id,
                participant_id=participant_id,
                role=role,
                event=event,
                at=at,
            )
            await db.flush()
            events = await store.session_events(db, consultation.id)
            in_call = admitted_present((e.participant_id, e.event) for e in events)
            facts = account_session(
                status=consultation.status,
                started_at=consultation.actual_started_at,
                ended_at=consultation.actual_ended_at,
                planned_end=consultation.ends_at,
                event=event,
                at=at,
                in_call=len(in_call),
            )
            _apply_facts(db, consultation, facts, at)


async def _role_of(db: AsyncSession, consultation_id: str, participant_id: str) -> str:
    user_id = user_id_of(participant_id)
    if user_id is not None:
        role = await store.user_role(db, user_id)
    else:
        role = await store.participant_role(db, consultation_id, participant_id)
    return role or "unknown"


def _apply_facts(
    db: AsyncSession, consultation: Consultation, facts: SessionFacts, at: datetime
) -> None:
    changed = (
        facts.started_at != consultation.actual_started_at
        or facts.ended_at != consultation.actual_ended_at
    )
    consultation.actual_started_at = facts.started_at
    consultation.actual_ended_at = facts.ended_at
    for action, wanted in ((Action.START, facts.start), (Action.COMPLETE, facts.complete)):
        if not wanted:
            continue
        transition = apply(ConsultationStatus(consultation.status), None, action, None)
        consultation.status = str(transition.status)
        changed = True
        consultations_store.add_event(db, consultation, action=str(action), actor_id=None, at=at)
    if changed:
        consultation.updated_at = at
