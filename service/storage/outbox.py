"""SQL for the outbox: queueing mails, claiming due ones under a lease, and recording the outcome.

Claiming takes rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several senders sharing one
database each get different rows and never wait for one another. SQLite ignores the clause; there
a writer takes the whole database at BEGIN (see `storage/engine.py`), which serialises claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from service.storage.models import Consultation, OutboxMail

CALENDAR_KINDS = ("invite", "update", "cancel")
REQUEST_KINDS = ("invite", "update")
# A mail in these states has left, or is leaving, for its recipient.
DELIVERED_OR_LEAVING = ("sending", "sent")


@dataclass(frozen=True, slots=True)
class ClaimedMail:
    id: int
    consultation_id: str
    recipient: str
    message: bytes
    attempts: int


def add_mails(db: AsyncSession, mails: Sequence[OutboxMail]) -> None:
    db.add_all(mails)


async def ever_requested(db: AsyncSession, consultation_id: str) -> bool:
    """Whether invitations were ever written for this consultation (it was confirmed once)."""
    found = await db.scalar(
        select(OutboxMail.id)
        .where(OutboxMail.consultation_id == consultation_id, OutboxMail.kind.in_(REQUEST_KINDS))
        .limit(1)
    )
    return found is not None


async def invited_addresses(db: AsyncSession, consultation_id: str) -> set[str]:
    """Addresses that have received (or are receiving) an invitation or update."""
    rows = await db.scalars(
        select(OutboxMail.recipient).where(
            OutboxMail.consultation_id == consultation_id,
            OutboxMail.kind.in_(REQUEST_KINDS),
            OutboxMail.status.in_(DELIVERED_OR_LEAVING),
        )
    )
    return {address.lower() for address in rows}


async def withdraw_pending(db: AsyncSession, consultation_id: str) -> None:
    """Take back what has not left yet: calendar mails are superseded, reminders deleted.

    Both carry a join link or a time that the change at hand makes wrong. Rows a sender holds
    (`sending`) are left alone; they are on their way.
    """
    await db.execute(
        update(OutboxMail)
        .where(
            OutboxMail.consultation_id == consultation_id,
            OutboxMail.status == "pending",
            OutboxMail.kind.in_(CALENDAR_KINDS),
        )
        .values(status="superseded", message=None)
    )
    await db.execute(
        delete(OutboxMail).where(
            OutboxMail.consultation_id == consultation_id,
            OutboxMail.status == "pending",
            OutboxMail.kind == "reminder",
        )
    )


async def drop_late_reminders(db: AsyncSession, now: datetime) -> int:
    """Give up reminders still waiting when their consultation has started: too late to help."""
    started = select(Consultation.id).where(Consultation.starts_at <= now)
    result = await db.execute(
        update(OutboxMail)
        .where(
            OutboxMail.kind == "reminder",
            OutboxMail.status == "pending",
            OutboxMail.consultation_id.in_(started),
        )
        .values(status="superseded", message=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def claim_due(
    db: AsyncSession, *, now: datetime, lease_until: datetime, claim: str, limit: int
) -> list[ClaimedMail]:
    """Mark up to `limit` due mails as being sent by `claim` until `lease_until`, and return them.

    Due means pending and not before now, or held by a sender whose lease has run out.
    """
    due = (
        select(OutboxMail.id)
        .where(
            or_(
                (OutboxMail.status == "pending") & (OutboxMail.not_before <= now),
                (OutboxMail.status == "sending") & (OutboxMail.claimed_until <= now),
            )
        )
        .order_by(OutboxMail.not_before, OutboxMail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await db.scalars(due)).all())
    if not ids:
        return []
    await db.execute(
        update(OutboxMail)
        .where(OutboxMail.id.in_(ids))
        .values(
            status="sending",
            claim=claim,
            claimed_until=lease_until,
            attempts=OutboxMail.attempts + 1,
        )
    )
    rows = await db.execute(
        select(
            OutboxMail.id,
            OutboxMail.consultation_id,
            OutboxMail.recipient,
            OutboxMail.message,
            OutboxMail.attempts,
        )
        .where(OutboxMail.id.in_(ids))
        .order_by(OutboxMail.not_before, OutboxMail.id)
    )
    return [
        ClaimedMail(id=i, consultation_id=c, recipient=r, message=m or b"", attempts=a)
        for i, c, r, m, a in rows.all()
    ]


async def mark_sent(
    db: AsyncSession, mail_id: int, claim: str, *, at: datetime, eml_path: str | None
) -> bool:
    """Record delivery and drop the message (it holds a join link). False if the claim was lost."""
    result = await db.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.claim == claim, OutboxMail.status == "sending")
        .values(
            status="sent",
            sent_at=at,
            message=None,
            claimed_until=None,
            eml_path=eml_path,
            last_error=None,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_failed(
    db: AsyncSession,
    mail_id: int,
    claim: str,
    *,
    retry_at: datetime | None,
    error: str,
) -> None:
    """Put a mail back for a later try at `retry_at`, or give it up when `retry_at` is None."""
    values: dict[str, object] = {"claimed_until": None, "claim": None, "last_error": error[:200]}
    if retry_at is None:
        values |= {"status": "failed", "message": None}
    else:
        values |= {"status": "pending", "not_before": retry_at}
    await db.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.claim == claim, OutboxMail.status == "sending")
        .values(**values)
    )


async def mails_of(db: AsyncSession, consultation_id: str) -> list[OutboxMail]:
    return list(
        (
            await db.scalars(
                select(OutboxMail)
                .where(OutboxMail.consultation_id == consultation_id)
                .options(defer(OutboxMail.message, raiseload=True))
                .order_by(OutboxMail.id)
            )
        ).all()
    )


async def mail_of(db: AsyncSession, consultation_id: str, mail_id: int) -> OutboxMail | None:
    return await db.scalar(
        select(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.consultation_id == consultation_id)
        .options(defer(OutboxMail.message, raiseload=True))
    )
