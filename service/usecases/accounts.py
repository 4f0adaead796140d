"""Accounts: login, creating users, and clinicians' working hours and absences."""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import Clock
from service.domain.errors import InvalidInput, NotAuthenticated, NotFound
from service.domain.passwords import MIN_LENGTH, PRODUCTION, Passwords
from service.domain.permissions import require_calendar_keeper
from service.domain.schemas import MAX_ROW_ID, ExceptionInput, WeekInput, check_absence_span
from service.storage import directory
from service.storage.engine import run_transaction
from service.storage.models import (
    ACCOUNT_ROLES,
    AvailabilityException,
    Department,
    GpOffice,
    User,
    WorkingHours,
)
from service.usecases.throttle import LoginThrottle

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)


async def authenticate(
    sessionmaker: async_sessionmaker[AsyncSession],
    throttle: LoginThrottle,
    email: str,
    password: str,
    address: str,
    passwords: Passwords = PRODUCTION,
) -> User:
    attempt = await throttle.begin(email, address)  # counted before the slow check
    user = await run_transaction(sessionmaker, directory.user_by_email, email)
    ok = await passwords.verify_async(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        await throttle.failed(attempt)
        raise NotAuthenticated("Wrong e-mail or password.")
    await throttle.succeeded(attempt)
    return user


async def actor_of(sessionmaker: async_sessionmaker[AsyncSession], user_id: int) -> Actor | None:
    """Who the logged-in account `user_id` acts as; None once it is gone or deactivated."""
    found = await run_transaction(sessionmaker, directory.account, user_id)
    if found is None or not found[0].active:
        return None
    return Actor.of(*found)


async def create_user(
    db: AsyncSession,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    now: datetime,
    gp_office_id: int | None = None,
    department_id: int | None = None,
    language: str = "nn",
    passwords: Passwords = PRODUCTION,
) -> User:
    if role not in ACCOUNT_ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", field="role")
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"The password must have at least {MIN_LENGTH} characters.", field="password"
        )
    if role == "gp" and gp_office_id is None:
        raise InvalidInput("A GP belongs to a GP office.", field="gp_office_id")
    if role in ("specialist", "coordinator") and department_id is None:
        raise InvalidInput(
            "A specialist or coordinator belongs to a department.", field="department_id"
        )
    try:
        email = _EMAIL.validate_python(email.strip())
    except ValidationError as exc:
        raise InvalidInput("That is not an e-mail address.", field="email") from exc
    for field, what, model, row_id in (
        ("gp_office_id", "gp office", GpOffice, gp_office_id),
        ("department_id", "department", Department, department_id),
    ):
        # An id past what a row can have names nothing; the drivers would refuse to send it.
        if row_id is not None and (
            not 1 <= row_id <= MAX_ROW_ID or await db.get(model, row_id) is None
        ):
            raise NotFound(f"There is no {what} {row_id}.", field=field)
    if await directory.user_by_email(db, email) is not None:
        raise InvalidInput("An account with that e-mail exists already.", field="email")
    user = User(
        email=email.strip().lower(),
        name=name,
        role=role,
        password_hash=passwords.hash(password),
        gp_office_id=gp_office_id,
        department_id=department_id,
        language=language,
        active=True,
        created_at=now,
    )
    db.add(user)
    await db.flush()
    return user


def _require_clinician(actor: Actor) -> None:
    require_calendar_keeper(actor)


def _parse_time(value: str) -> time:
    return time(0) if value == "24:00" else time.fromisoformat(value)


async def set_week(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor, data: WeekInput
) -> list[WorkingHours]:
    _require_clinician(actor)
    hours: list[tuple[int, time, time]] = []
    for i, h in enumerate(data.hours):
        start = _parse_time(h.start)
        end = time(23, 59, 59) if h.end == "24:00" else _parse_time(h.end)
        if end <= start:
            raise InvalidInput("Working hours must end after they start.", field=f"hours.{i}.end")
        hours.append((h.weekday, start, end))
    hours.sort()
    for (d1, _s1, e1), (d2, s2, _e2) in itertools.pairwise(hours):
        if d1 == d2 and s2 < e1:
            raise InvalidInput("Working hours on one day overlap.", field="hours")
    await run_transaction(sessionmaker, directory.replace_working_hours, actor.user_id, hours)
    return await run_transaction(sessionmaker, directory.working_hours_of, actor.user_id)


async def week_of(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor
) -> list[WorkingHours]:
    _require_clinician(actor)
    return await run_transaction(sessionmaker, directory.working_hours_of, actor.user_id)


async def add_exception(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    data: ExceptionInput,
    *,
    horizon: timedelta,
) -> AvailabilityException:
    _require_clinician(actor)
    check_absence_span(data, clock.now(), horizon)
    if data.ends_at <= data.starts_at:
        raise InvalidInput("The end must be after the start.", field="ends_at")
    if data.ends_at <= clock.now():
        raise InvalidInput("The absence is over already.", field="ends_at")
    row = AvailabilityException(
        user_id=actor.user_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason,
    )
    return await run_transaction(sessionmaker, directory.add_exception, row)


async def exceptions(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor
) -> list[AvailabilityException]:
    _require_clinician(actor)
    return await run_transaction(sessionmaker, directory.exceptions_of, actor.user_id)


async def remove_exception(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor, exception_id: int
) -> None:
    _require_clinician(actor)
    if not await run_transaction(
        sessionmaker, directory.delete_exception, actor.user_id, exception_id
    ):
        raise NotFound("No such absence.")
