"""SQL for clinicians' calendar feeds: the feed secret on the account, and what a feed lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.storage.models import Consultation, User

FEED_LIMIT = 500


async def set_calendar_token_hash(db: AsyncSession, user_id: int, token_hash: str | None) -> None:
    await db.execute(update(User).where(User.id == user_id).values(calendar_token_hash=token_hash))


async def calendar_token_hash_of(db: AsyncSession, user_id: int) -> str | None:
    return await db.scalar(select(User.calendar_token_hash).where(User.id == user_id))


async def user_by_calendar_token_hash(db: AsyncSession, token_hash: str) -> User | None:
    return await db.scalar(
        select(User).where(User.calendar_token_hash == token_hash, User.active.is_(True))
    )


async def consultations_for_feed(
    db: AsyncSession, user: User, *, ending_after: datetime, statuses: tuple[str, ...]
) -> list[Consultation]:
    """The consultations in a clinician's own calendar: a GP's, a specialist's, and for a
    coordinator those of their department."""
    stmt = select(Consultation).where(
        Consultation.ends_at > ending_after, Consultation.status.in_(statuses)
    )
    if user.role == "gp":
        stmt = stmt.where(Consultation.gp_id == user.id)
    elif user.role == "specialist":
        stmt = stmt.where(Consultation.specialist_id == user.id)
    else:
        stmt = stmt.where(Consultation.department_id == (user.department_id or -1))
    stmt = stmt.order_by(Consultation.starts_at).limit(FEED_LIMIT)
    return list((await db.scalars(stmt)).all())
