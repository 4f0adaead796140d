"""Closing consultations that are over: no-show when nobody joined, completed when it ran.

A consultation moves to `in_progress` when someone joins the call. Once its end plus
`settings.sweep_grace_minutes` has passed, one still `confirmed` was never joined and becomes
`no_show`; one still `in_progress` took place and becomes `completed`. A request still
unanswered when its start time comes is cancelled (`expire`). The system acts here
(`actor_side=None` in the state machine), with a history entry and an audit record like any
change made by a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import Clock
from service.domain.states import Action, ConsultationStatus, Side, apply
from service.settings import Settings
from service.storage import consultations as consultations_store
from service.storage import lifecycle as store
from service.storage.engine import run_transaction
from service.storage.models import Consultation
from service.usecases import notifications
from service.usecases.audit import audit

BATCH_SIZE = 200


@dataclass
class ClosedCounts:
    no_show: int = 0
    completed: int = 0
    expired: int = 0


def closing_action(status: str) -> Action:
    """What the system does with a consultation left open after its end."""
    return Action.MARK_NO_SHOW if status == ConsultationStatus.CONFIRMED else Action.COMPLETE


async def close_finished(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
) -> ClosedCounts:
    counts = ClosedCounts()
    while True:
        now = clock.now()
        cutoff = now - timedelta(minutes=settings.sweep_grace_minutes)

        async def batch(db: AsyncSession, now: datetime, cutoff: datetime) -> list[Action]:
            rows = await store.ended_still_open(db, ended_before=cutoff, limit=BATCH_SIZE)
            actions = [closing_action(c.status) for c in rows]
            for c, action in zip(rows, actions, strict=True):
                _close(db, c, action, now)
            return actions

        # Counted once committed: a retried batch must not count twice.
        actions = await run_transaction(sessionmaker, batch, now, cutoff)
        counts.no_show += sum(a is Action.MARK_NO_SHOW for a in actions)
        counts.completed += sum(a is not Action.MARK_NO_SHOW for a in actions)
        if len(actions) < BATCH_SIZE:
            break
    counts.expired = await _expire_unanswered(sessionmaker, clock, settings)
    return counts


async def _expire_unanswered(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
) -> int:
    """Cancel requests nobody agreed to before their start: their time can no longer happen.

    They free their held times, and anyone who had an invite for an earlier confirmed time (a
    confirmed consultation moved back to `requested`) gets a cancellation.
    """
    expired = 0
    while True:
        now = clock.now()

        async def batch(db: AsyncSession, now: datetime) -> int:
            rows = await store.unanswered_requests(db, started_before=now, limit=BATCH_SIZE)
            for c in rows:
                _close(db, c, Action.EXPIRE, now)
                await consultations_store.release_bookings(db, c.id)
                await notifications.consultation_cancelled(db, c, settings, now)
            return len(rows)

        done = await run_transaction(sessionmaker, batch, now)
        expired += done
        if done < BATCH_SIZE:
            return expired


def _close(db: AsyncSession, c: Consultation, action: Action, now: datetime) -> None:
    awaiting = Side(c.awaiting) if c.awaiting else None
    transition = apply(ConsultationStatus(c.status), awaiting, action, None)
    c.status = str(transition.status)
    c.awaiting = None
    if transition.bumps_revision:
        c.revision += 1
    c.updated_at = now
    consultations_store.add_event(db, c, action=str(action), actor_id=None, at=now)
    audit(db, at=now, actor=None, action=str(action), consultation_ids=[c.id])
