"""SQL for operators: whether the database answers and its schema is at the migrations' head, and
how far the outbox is behind (for `service/http/ops.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from service.storage.migrate import alembic_config
from service.storage.models import OutboxMail, UTCDateTime

# Mails not yet with their recipient: waiting, or claimed by a sender right now.
UNDELIVERED = ("pending", "sending")


@cache
def migration_heads() -> frozenset[str]:
    """The revisions the shipped migrations end in (read from the scripts, not the database)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.get_heads())


def _current_heads(conn: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(conn).get_current_heads())


async def schema_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The revisions the database's schema is at; raises if the database does not answer."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_heads)


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    due: int  # mails due (now, or before and waiting for a retry) and not delivered yet
    oldest_due: datetime | None  # since when the longest-waiting of them has been due


# Since when a mail has been due: every kind but reminders is due when written (a failed
# attempt moves `not_before` on, not this); a reminder at its time, which a retry does move.
_DUE_SINCE = case(
    (OutboxMail.kind == "reminder", OutboxMail.not_before), else_=OutboxMail.created_at
)


async def outbox_backlog(db: AsyncSession, now: datetime) -> OutboxBacklog:
    row = (
        await db.execute(
            select(func.count(), func.min(type_coerce(_DUE_SINCE, UTCDateTime()))).where(
                OutboxMail.status.in_(UNDELIVERED),
                # Due now, or due before and waiting to be tried again.
                or_(OutboxMail.not_before <= now, OutboxMail.attempts > 0),
            )
        )
    ).one()
    return OutboxBacklog(due=int(row[0] or 0), oldest_due=row[1])
