"""Video sessions in the product: who may enter a consultation's room, and the record of the call.

The signalling broker (`signalling/`) knows nothing about the database; these use cases give it
what it needs (its HTTP side is `service/http/video.py`):

- `identify_guest` and `identify_clinician` say who is knocking. A patient, relative,
  interpreter or municipal staff member brings a personal join token (only its SHA-256 is
  stored); a clinician brings their login. Either way the consultation must be open for calls
  (`confirmed`, `in_progress` or `completed`) and the time inside the join window. A refusal is
  a `NotAuthenticated` (no valid link now) or `NotAllowed` (not this room, not now).
- `DbSessionRecorder` stores each join, admit, leave, disconnect and remove in `session_events`
  and keeps the consultation's actual start and end, and its state, in step with them, by the
  rules of `service/domain/calls.py`.
- `DbAdmissionLedger` reads the admissions back from those events, so a participant admitted
  once stays admitted across a restart of the hub and on every instance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.calls import (
    LOGIN_ONLY_ROLES,
    SessionFacts,
    account_session,
    admitted_present,
    clinician_participant_id,
    clinician_role,
    join_window,
    room_refusal,
    user_id_of,
)
from service.domain.clock import Clock
from service.domain.errors import NotAllowed, NotAuthenticated
from service.domain.permissions import may_join_with_login
from service.domain.states import Action, ConsultationStatus, apply
from service.domain.tokens import hash_token
from service.storage import admissions as admissions_store
from service.storage import consultations as consultations_store
from service.storage import video as store
from service.storage.models import Consultation, Participant
from signalling.identity import Identity, SessionEvent

log = logging.getLogger(__name__)

SessionmakerSource = Callable[[], async_sessionmaker[AsyncSession]]


# --- who is knocking -------------------------------------------------------------------------


async def guest_by_link(db: async_sessionmaker[AsyncSession], token: str) -> Participant | None:
    """The participant whose personal join link carries `token`, with its consultation."""
    async with db() as session:
        return await consultations_store.participant_for_token(session, hash_token(token))


async def identify_guest(
    db: async_sessionmaker[AsyncSession], clock: Clock, token: str
) -> Identity:
    """The room identity a join token proves, if its consultation's room is open now."""
    participant = await guest_by_link(db, token)
    if participant is None:
        raise NotAuthenticated("unknown join link")
    consultation = participant.consultation
    refusal = room_refusal(
        consultation.status, consultation.starts_at, consultation.ends_at, clock.now()
    )
    if refusal == "closed":
        raise NotAllowed("the consultation is not open for calls")
    if refusal is not None:
        raise NotAuthenticated("the join link is not valid at this time")
    if participant.role in LOGIN_ONLY_ROLES:
        raise NotAllowed("clinicians join with their login")
    return Identity(
        room_id=consultation.room_id,
        participant_id=participant.id,
        display_name=participant.name,
        role=participant.role,
        is_clinician=False,
        closes_at=join_window(consultation.starts_at, consultation.ends_at)[1],
    )


async def identify_clinician(
    db: async_sessionmaker[AsyncSession], clock: Clock, actor: Actor, room_id: str
) -> Identity:
    """The room identity of a logged-in clinician of this room's consultation, while it is open."""
    if not actor.is_clinician:
        raise NotAllowed("this account does not take part in consultations")
    async with db() as session:
        consultation = await store.consultation_by_room(session, room_id)
        # A room the clinician may not see answers like one that does not exist.
        if consultation is None or not may_join_with_login(actor, consultation):
            raise NotAllowed("not a participant of this room")
        row = await store.clinician_participant(session, consultation.id, actor.user_id)
    refusal = room_refusal(
        consultation.status, consultation.starts_at, consultation.ends_at, clock.now()
    )
    if refusal is not None:
        raise NotAllowed("the room is not open now")
    return Identity(
        room_id=consultation.room_id,
        participant_id=clinician_participant_id(actor.user_id, row.id if row else None),
        display_name=actor.name,
        role=clinician_role(actor, consultation.gp_id),
        is_clinician=True,
        closes_at=join_window(consultation.starts_at, consultation.ends_at)[1],
    )


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


class DbAdmissionLedger:
    """The signalling `AdmissionLedger`: admitted if the latest `admit`/`remove` is `admit`."""

    def __init__(self, sessionmaker: SessionmakerSource) -> None:
        self._sessionmaker = sessionmaker

    async def was_admitted(self, room_id: str, participant_id: str) -> bool:
        async with self._sessionmaker()() as db:
            latest = await admissions_store.latest_admission_event(db, room_id, participant_id)
        return latest == "admit"


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
