"""Reading consultations: the lists, one consultation and its history, each audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import Clock
from service.domain.errors import NotFound
from service.domain.permissions import can_see, require_consultation_reader, visible_scope
from service.domain.states import ACTIVE_STATUSES, ConsultationStatus
from service.storage import consultations as store
from service.storage.engine import run_transaction
from service.storage.models import Consultation, ConsultationEvent
from service.usecases.audit import audit


async def list_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    *,
    upcoming_only: bool = False,
    limit: int = 200,
) -> list[Consultation]:
    """Upcoming consultations soonest first, or (by default) all, newest first."""
    require_consultation_reader(actor)
    now = clock.now()
    gp_id, department_id = visible_scope(actor)

    async def work(db: AsyncSession) -> list[Consultation]:
        if upcoming_only:
            rows = await store.list_consultations(
                db, gp_id=gp_id, department_id=department_id, ending_after=now, limit=limit
            )
        else:
            rows = await store.list_consultations(
                db, gp_id=gp_id, department_id=department_id, newest_first=True, limit=limit
            )
        audit(db, at=now, actor=actor, action="list", consultation_ids=[c.id for c in rows])
        return rows

    return await run_transaction(sessionmaker, work)


@dataclass(frozen=True, slots=True)
class Overview:
    """What a clinician's list page shows: everything not yet over, and the latest earlier."""

    coming: list[Consultation]
    earlier: list[Consultation]
    more_earlier: bool


async def overview(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    *,
    earlier_limit: int,
) -> Overview:
    require_consultation_reader(actor)
    now = clock.now()
    gp_id, department_id = visible_scope(actor)

    async def work(db: AsyncSession) -> Overview:
        coming = await store.list_consultations(
            db, gp_id=gp_id, department_id=department_id, ending_after=now, limit=1000
        )
        earlier = await store.list_consultations(
            db,
            gp_id=gp_id,
            department_id=department_id,
            ending_before=now,
            newest_first=True,
            limit=earlier_limit + 1,
        )
        shown = coming + earlier[:earlier_limit]
        audit(db, at=now, actor=actor, action="list", consultation_ids=[c.id for c in shown])
        return Overview(coming, earlier[:earlier_limit], len(earlier) > earlier_limit)

    return await run_transaction(sessionmaker, work)


async def read(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    consultation_id: str,
) -> Consultation:
    require_consultation_reader(actor)

    async def work(db: AsyncSession) -> Consultation:
        consultation = await visible(db, actor, consultation_id)
        audit(db, at=clock.now(), actor=actor, action="read", consultation_ids=[consultation.id])
        return consultation

    return await run_transaction(sessionmaker, work)


async def read_history(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    consultation_id: str,
) -> list[ConsultationEvent]:
    require_consultation_reader(actor)

    async def work(db: AsyncSession) -> list[ConsultationEvent]:
        consultation = await visible(db, actor, consultation_id)
        events = await store.history(db, consultation.id)
        audit(
            db,
            at=clock.now(),
            actor=actor,
            action="read_history",
            consultation_ids=[consultation.id],
        )
        return events

    return await run_transaction(sessionmaker, work)


async def visible(
    db: AsyncSession, actor: Actor, consultation_id: str, *, for_update: bool = False
) -> Consultation:
    consultation = await store.get_consultation(db, consultation_id, for_update=for_update)
    # Someone else's consultation answers exactly like a missing one: its existence is private.
    if consultation is None or not can_see(actor, consultation):
        raise NotFound("No such consultation.")
    return consultation


def is_active(consultation: Consultation) -> bool:
    return ConsultationStatus(consultation.status) in ACTIVE_STATUSES
