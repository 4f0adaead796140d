"""Join links: the validity window (30 minutes before the start until 60 after the end), the
states that admit nobody, and resolving a token to its participant through the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.domain.errors import NotFound
from service.domain.join import (
    JoinNotOpen,
    JoinState,
    guest_join_url,
    join_state,
    join_window,
    uses_join_token,
)
from service.domain.tokens import hash_token
from service.storage.models import OutboxMail, Participant
from service.usecases.join_links import resolve_join_token
from tests.factories import Client, build_world
from tests.mail_support import act, book, book_confirmed, join_url_of, parse_raw

OSLO = ZoneInfo("Europe/Oslo")
START = datetime(2026, 1, 7, 10, 0, tzinfo=OSLO)
END = START + timedelta(minutes=30)
SLOT = "2026-01-07T10:00:00+01:00"

Db = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (START - timedelta(minutes=30, seconds=1), JoinState.TOO_EARLY),
        (START - timedelta(minutes=30), JoinState.OPEN),
        (START, JoinState.OPEN),
        (END + timedelta(minutes=59, seconds=59), JoinState.OPEN),
        (END + timedelta(minutes=60), JoinState.CLOSED),
    ],
)
def test_window_opens_half_an_hour_before_and_closes_an_hour_after(
    now: datetime, state: JoinState
) -> None:
    assert join_state("confirmed", START, END, now) is state
    assert join_state("in_progress", START, END, now) is state


@pytest.mark.parametrize("status", ["requested", "cancelled", "completed", "no_show"])
def test_only_confirmed_or_running_consultations_admit_anyone(status: str) -> None:
    assert join_state(status, START, END, START) is JoinState.NOT_TAKING_PLACE


def test_window_bounds() -> None:
    window = join_window(START, END)
    assert window.opens_at == START - timedelta(minutes=30)
    assert window.closes_at == END + timedelta(hours=1)


@pytest.mark.parametrize(
    ("role", "user_id", "uses"),
    [
        ("patient", None, True),
        ("relative", None, True),
        ("interpreter", None, True),
        ("municipal_staff", None, True),
        ("gp", 1, False),
        ("specialist", None, False),
    ],
)
def test_who_joins_with_a_personal_link(role: str, user_id: int | None, uses: bool) -> None:
    assert uses_join_token(role, user_id) is uses


def test_guest_url_shape() -> None:
    assert guest_join_url("https://x.example/", "abc") == "https://x.example/bli-med/abc"


async def _patient_token(db: Db, cid: str) -> str:
    async with db() as s:
        raw = await s.scalar(
            select(OutboxMail.message).where(
                OutboxMail.consultation_id == cid,
                OutboxMail.recipient_role == "patient",
                OutboxMail.kind == "invite",
            )
        )
    assert raw is not None
    return join_url_of(parse_raw(raw)).rsplit("/", 1)[1]


async def test_a_token_resolves_to_its_participant_inside_the_window(
    client: Client, db: Db, clock: FakeClock
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    token = await _patient_token(db, cid)
    async with db() as s:
        stored = await s.scalar(
            select(Participant.token_hash).where(
                Participant.consultation_id == cid, Participant.role == "patient"
            )
        )
        # Only the hash is kept; the token itself is in no column.
        assert stored == hash_token(token)
        assert len(token) >= 43  # 256 bits, base64url

        with pytest.raises(JoinNotOpen) as early:
            await resolve_join_token(s, token, clock.now())
        assert early.value.state is JoinState.TOO_EARLY
        assert early.value.opens_at == START - timedelta(minutes=30)

        participant, consultation = await resolve_join_token(s, token, START)
        assert (participant.role, consultation.id) == ("patient", cid)

        with pytest.raises(JoinNotOpen) as late:
            await resolve_join_token(s, token, END + timedelta(hours=1))
        assert late.value.state is JoinState.CLOSED

        with pytest.raises(NotFound):
            await resolve_join_token(s, token + "x", START)


async def test_no_token_before_confirmation_and_none_after_cancellation(
    client: Client, db: Db
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    async with db() as s:
        hashes = (
            await s.scalars(
                select(Participant.token_hash).where(Participant.consultation_id == cid)
            )
        ).all()
    assert set(hashes) == {None}
    await act(client, "specialist", cid, "accept")
    token = await _patient_token(db, cid)
    await act(client, "gp", cid, "cancel")
    async with db() as s:
        with pytest.raises(NotFound):
            await resolve_join_token(s, token, START)
