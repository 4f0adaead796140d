"""Mails are rendered outside the write transaction: no lock is held meanwhile, and a change that
lands between the draft and the write makes the change draft its mails again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.errors import Conflict
from service.settings import Settings
from service.storage.models import Consultation, OutboxMail, Participant
from service.usecases import booking, notifications
from tests.factories import Client, build_world, login
from tests.mail_support import book

SLOT = "2026-01-07T10:00:00+01:00"
Db = async_sessionmaker[AsyncSession]


@pytest.fixture
def held_rendering(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Rendering that signals when it starts and then waits until released."""
    started, release = threading.Event(), threading.Event()
    original = notifications.render_mail

    def held(*args: Any, **kwargs: Any) -> bytes:
        started.set()
        release.wait(timeout=30)
        return original(*args, **kwargs)

    monkeypatch.setattr(notifications, "render_mail", held)
    yield started, release
    release.set()


async def test_an_acceptance_rendering_its_mails_blocks_no_other_writer(
    client: Client, db: Db, held_rendering: tuple[threading.Event, threading.Event]
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    specialist = await login(client, "specialist")
    started, release = held_rendering
    accepting = asyncio.create_task(
        client.post(f"/api/v1/consultations/{cid}/accept", json={}, headers=specialist)
    )
    assert await asyncio.to_thread(started.wait, 30)
    # Reading the consultation writes its audit record: a writer like any other. Before, it
    # waited for SQLite's write lock until the acceptance had rendered all its mails.
    read = await asyncio.wait_for(client.get(f"/api/v1/consultations/{cid}"), timeout=10)
    assert read.status == 200
    assert (await read.json())["status"] == "requested"
    release.set()
    accepted = await asyncio.wait_for(accepting, timeout=60)
    assert accepted.status == 200, await accepted.text()
    assert (await accepted.json())["status"] == "confirmed"


async def _set_patient_email(db: Db, cid: str, email: str) -> None:
    async with db() as s, s.begin():
        await s.execute(
            update(Participant)
            .where(Participant.consultation_id == cid, Participant.role == "patient")
            .values(email=email)
        )


def _moving_render(monkeypatch: pytest.MonkeyPatch, db: Db, cid: str, times: int) -> list[str]:
    """Each of the first `times` renderings changes the patient's address before it renders."""
    original = notifications.render
    addresses: list[str] = []

    async def moving(plan: notifications.MailPlan, settings: Settings, now: datetime) -> Any:
        if len(addresses) < times:
            addresses.append(f"flytta{len(addresses)}@test.no")
            await _set_patient_email(db, cid, addresses[-1])
        return await original(plan, settings, now)

    monkeypatch.setattr(notifications, "render", moving)
    return addresses


async def test_mails_are_drafted_again_when_the_consultation_moved_meanwhile(
    client: Client, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    addresses = _moving_render(monkeypatch, db, cid, times=1)
    specialist = await login(client, "specialist")
    resp = await client.post(f"/api/v1/consultations/{cid}/accept", json={}, headers=specialist)
    assert resp.status == 200, await resp.text()
    async with db() as s:
        recipients = set(
            await s.scalars(select(OutboxMail.recipient).where(OutboxMail.consultation_id == cid))
        )
    # The first draft was made for p1@test.no; the mails went out to the address as it is now.
    assert addresses == ["flytta0@test.no"]
    assert "flytta0@test.no" in recipients
    assert "p1@test.no" not in recipients


async def test_a_consultation_that_keeps_moving_is_refused_with_a_conflict(
    client: Client, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    _moving_render(monkeypatch, db, cid, times=booking.DRAFT_ATTEMPTS)
    specialist = await login(client, "specialist")
    resp = await client.post(f"/api/v1/consultations/{cid}/accept", json={}, headers=specialist)
    assert resp.status == Conflict.status
    assert "try again" in (await resp.json())["detail"]
    async with db() as s:
        c = await s.get(Consultation, cid)
        mails = await s.scalar(select(OutboxMail.id).where(OutboxMail.consultation_id == cid))
    assert c is not None and c.status == "requested"
    assert mails is None
