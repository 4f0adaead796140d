"""Queries of the server-side login sessions (table `login_sessions`) and the HPR links.

The session middleware reads one session with its account per request; ending sessions is a
delete, so an ended session cannot come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.storage.models import (
    GpOffice,
    HprLink,
    LoginSession,
    SigninInvitation,
    TotpCredential,
    User,
)


@dataclass(frozen=True, slots=True)
class SessionRow:
    session: LoginSession
    user: User
    municipality_number: str | None


async def add(db: AsyncSession, row: LoginSession) -> None:
    db.add(row)
    await db.flush()


async def with_account(db: AsyncSession, id_hash: str) -> SessionRow | None:
    """The session and its account (with the GP office's municipality), or None."""
    found = (
        await db.execute(
            select(LoginSession, User, GpOffice.municipality_number)
            .join(User, User.id == LoginSession.user_id)
            .outerjoin(GpOffice, GpOffice.id == User.gp_office_id)
            .where(LoginSession.id_hash == id_hash)
        )
    ).first()
    return None if found is None else SessionRow(found[0], found[1], found[2])


async def touch(db: AsyncSession, id_hash: str, now: datetime) -> None:
    await db.execute(
        update(LoginSession).where(LoginSession.id_hash == id_hash).values(last_seen_at=now)
    )


async def set_flashes(db: AsyncSession, id_hash: str, flashes: str) -> None:
    await db.execute(
        update(LoginSession).where(LoginSession.id_hash == id_hash).values(flashes=flashes)
    )


async def delete_one(db: AsyncSession, id_hash: str) -> None:
    await db.execute(delete(LoginSession).where(LoginSession.id_hash == id_hash))


async def delete_of_user(db: AsyncSession, user_id: int) -> int:
    """End every session of one account; the number ended."""
    result = await db.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_expired(db: AsyncSession, idle_before: datetime, created_before: datetime) -> int:
    result = await db.execute(
        delete(LoginSession).where(
            (LoginSession.last_seen_at < idle_before) | (LoginSession.created_at < created_before)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def user_by_hpr(db: AsyncSession, hpr_number: str) -> User | None:
    return (
        await db.execute(
            select(User)
            .join(HprLink, HprLink.user_id == User.id)
            .where(HprLink.hpr_number == hpr_number)
        )
    ).scalar_one_or_none()


async def link_hpr(db: AsyncSession, hpr_number: str, user_id: int, now: datetime) -> None:
    db.add(HprLink(hpr_number=hpr_number, user_id=user_id, linked_at=now))
    await db.flush()


async def add_invitation(
    db: AsyncSession, token_hash: str, user_id: int, expires_at: datetime
) -> None:
    db.add(SigninInvitation(token_hash=token_hash, user_id=user_id, expires_at=expires_at))
    await db.flush()


async def take_invitation(db: AsyncSession, token_hash: str, now: datetime) -> int | None:
    """Use an invitation up: the invited account's id, or None if it is unknown, used or old."""
    result = await db.execute(
        update(SigninInvitation)
        .where(
            SigninInvitation.token_hash == token_hash,
            SigninInvitation.used_at.is_(None),
            SigninInvitation.expires_at > now,
        )
        .values(used_at=now)
        .returning(SigninInvitation.user_id)
    )
    found = result.scalar_one_or_none()
    return None if found is None else int(found)


async def account(db: AsyncSession, user_id: int) -> User | None:
    return await db.get(User, user_id)


async def totp_of(db: AsyncSession, user_id: int) -> TotpCredential | None:
    return await db.get(TotpCredential, user_id)


async def put_totp(db: AsyncSession, user_id: int, sealed_secret: str, now: datetime) -> None:
    """Enrol (or re-enrol) an account's second factor."""
    await db.execute(delete(TotpCredential).where(TotpCredential.user_id == user_id))
    db.add(TotpCredential(user_id=user_id, sealed_secret=sealed_secret, created_at=now))
    await db.flush()


async def use_totp_step(db: AsyncSession, user_id: int, step: int) -> bool:
    """Record a code's time step as used; False if it (or a later one) was used already."""
    result = await db.execute(
        update(TotpCredential)
        .where(
            TotpCredential.user_id == user_id,
            (TotpCredential.last_step.is_(None)) | (TotpCredential.last_step < step),
        )
        .values(last_step=step)
    )
    return bool(getattr(result, "rowcount", 0))
