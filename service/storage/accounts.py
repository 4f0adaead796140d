"""Reading the logged-in account: the one query the session middleware needs per request."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.storage.models import GpOffice, User


async def account_with_municipality(
    db: AsyncSession, user_id: int
) -> tuple[User, str | None] | None:
    """The account and its GP office's municipality number, or None if there is no such account."""
    row = (
        await db.execute(
            select(User, GpOffice.municipality_number)
            .outerjoin(GpOffice, GpOffice.id == User.gp_office_id)
            .where(User.id == user_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])
