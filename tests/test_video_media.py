"""Real calls through the real app: aiortc participants join with join links and logins.

These run on SQLite only (the database plays no part in the media); the refusals and the
session record are tested on both databases in test_video.py.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import SystemClock
from service.http.app import create_app
from service.settings import Settings
from service.storage.engine import make_engine, make_sessionmaker
from service.storage.models import Consultation, SessionEventRecord
from signalling.codec import Admit, AdmitAll
from signalling.peer import MeshPeer
from tests.factories import EMAILS, PASSWORD, World, build_world
from tests.signalling_support import (
    TcpCutter,
    eventually,
    eventually_async,
    media_flows_everywhere,
    start_peer,
    use_loopback_if_alone,
)
from tests.video_support import ORIGIN, Call, make_call


@pytest.fixture(autouse=True)
def ice_host_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_if_alone(monkeypatch)


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "media.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def app_settings(db_url: str, tmp_path: Path, **kw: Any) -> Settings:
    return Settings(
        mode="test",
        database_url=db_url,
        base_url=ORIGIN,
        outbox_dir=tmp_path / "outbox",
        scheduler_enabled=False,
        login_attempts_per_address=100,
        **kw,
    )


@pytest.fixture
async def world_call(db: async_sessionmaker[AsyncSession]) -> tuple[World, Call]:
    world = await build_world(db, hours=False)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    return world, await make_call(db, world, starts, guests=("patient", "relative"))


@pytest.fixture
async def server(
    db: async_sessionmaker[AsyncSession], aiohttp_server: Any, db_url: str, tmp_path: Path
) -> TestServer:
    app = create_app(app_settings(db_url, tmp_path), clock=SystemClock())
    result: TestServer = await aiohttp_server(app, host="127.0.0.1")
    return result


@pytest.fixture
async def sessions() -> AsyncIterator[Callable[[], aiohttp.ClientSession]]:
    """Browser-like HTTP sessions, each with its own cookie jar."""
    opened: list[aiohttp.ClientSession] = []

    def new_session() -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        opened.append(session)
        return session

    yield new_session
    for session in opened:
        await session.close()


@pytest.fixture
async def peers() -> AsyncIterator[list[MeshPeer]]:
    started: list[MeshPeer] = []
    yield started
    for peer in started:
        await peer.close()


async def logged_in(session: aiohttp.ClientSession, base: str, who: str) -> None:
    body = {"email": EMAILS[who], "password": PASSWORD}
    async with session.post(f"{base}/api/v1/session", json=body) as resp:
        assert resp.status == 200, await resp.text()


def base_url(server: TestServer, port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or server.port}"


async def join(
    peers: list[MeshPeer],
    session: aiohttp.ClientSession,
    base: str,
    call: Call,
    role: str | None = None,
) -> MeshPeer:
    return await start_peer(
        peers, session, f"{base}{call.ws_path(role)}", origin=ORIGIN, timeout=10
    )


async def clinician(
    peers: list[MeshPeer],
    sessions: Callable[[], aiohttp.ClientSession],
    base: str,
    call: Call,
    who: str,
) -> MeshPeer:
    session = sessions()
    await logged_in(session, base, who)
    return await join(peers, session, base, call)


async def events_of(
    db: async_sessionmaker[AsyncSession], call: Call, participant_id: str
) -> list[str]:
    async with db() as s:
        rows = await s.scalars(
            select(SessionEventRecord.event)
            .where(
                SessionEventRecord.consultation_id == call.id,
                SessionEventRecord.participant_id == participant_id,
            )
            .order_by(SessionEventRecord.at, SessionEventRecord.id)
        )
        return list(rows.all())


async def test_gp_and_patient_meet_through_the_waiting_room(
    server: TestServer,
    world_call: tuple[World, Call],
    sessions: Callable[[], aiohttp.ClientSession],
    peers: list[MeshPeer],
    db: async_sessionmaker[AsyncSession],
) -> None:
    _, call = world_call
    base = base_url(server)
    gp = await clinician(peers, sessions, base, call, "gp")
    patient = await join(peers, sessions(), base, call, "patient")
    await asyncio.sleep(0.3)
    assert not patient.is_admitted and gp.peer_connection_of(patient.participant_id) is None
    await gp.send(Admit(participant_id=patient.participant_id))
    await asyncio.wait_for(patient.admitted.wait(), 5)
    await eventually(lambda: media_flows_everywhere([gp, patient]), 30, "media both ways")
    async with db() as s:
        consultation = await s.get(Consultation, call.id)
    assert consultation is not None and consultation.status == "in_progress"


async def test_four_participants_full_mesh(
    server: TestServer,
    world_call: tuple[World, Call],
    sessions: Callable[[], aiohttp.ClientSession],
    peers: list[MeshPeer],
) -> None:
    _, call = world_call
    base = base_url(server)
    gp = await clinician(peers, sessions, base, call, "gp")
    specialist = await clinician(peers, sessions, base, call, "specialist")
    patient = await join(peers, sessions(), base, call, "patient")
    relative = await join(peers, sessions(), base, call, "relative")
    mesh = [gp, specialist, patient, relative]
    await specialist.send(AdmitAll())
    for peer in mesh:
        await asyncio.wait_for(peer.admitted.wait(), 5)
    await eventually(lambda: media_flows_everywhere(mesh), 45, "media in a mesh of four")
    roles = {p.participant_id: p.role for p in gp.roster.values()}
    assert sorted(roles.values()) == ["gp", "patient", "relative", "specialist"]


async def test_a_cut_socket_reconnects_and_media_flows_again_within_10_seconds(
    server: TestServer,
    world_call: tuple[World, Call],
    sessions: Callable[[], aiohttp.ClientSession],
    peers: list[MeshPeer],
    db: async_sessionmaker[AsyncSession],
) -> None:
    _, call = world_call
    assert server.port is not None
    cutter = TcpCutter(server.port)
    await cutter.start()
    try:
        gp = await clinician(peers, sessions, base_url(server), call, "gp")
        patient = await join(peers, sessions(), base_url(server, cutter.port), call, "patient")
        await gp.send(Admit(participant_id=patient.participant_id))
        await eventually(lambda: media_flows_everywhere([gp, patient]), 30, "the first call")
        old_pc = gp.peer_connection_of(patient.participant_id)

        cutter.cut()
        loop = asyncio.get_running_loop()
        cut_at = loop.time()
        await eventually(lambda: patient.joins == 2, 10, "the patient to rejoin")
        await eventually(
            lambda: media_flows_everywhere([gp, patient]),
            10 - (loop.time() - cut_at),
            "media again within 10 s of the cut",
        )
        assert gp.peer_connection_of(patient.participant_id) is not old_pc
        assert patient.is_admitted  # re-admitted without waiting again
        expected = ["join", "admit", "disconnect", "join", "admit"]
        await eventually_async(
            lambda: events_of(db, call, patient.participant_id),
            lambda events: events == expected,
            what=f"the events {expected}",
        )
    finally:
        await cutter.close()


async def test_participants_on_two_instances_meet_through_redis(
    db: async_sessionmaker[AsyncSession],
    aiohttp_server: Any,
    db_url: str,
    tmp_path: Path,
    world_call: tuple[World, Call],
    sessions: Callable[[], aiohttp.ClientSession],
    peers: list[MeshPeer],
) -> None:
    _, call = world_call
    instances: list[web.Application] = [
        create_app(
            app_settings(db_url, tmp_path, redis_url="redis://127.0.0.1:6379/0"),
            clock=SystemClock(),
        )
        for _ in range(2)
    ]
    one: TestServer = await aiohttp_server(instances[0], host="127.0.0.1")
    two: TestServer = await aiohttp_server(instances[1], host="127.0.0.1")
    gp = await clinician(peers, sessions, base_url(one), call, "gp")
    patient = await join(peers, sessions(), base_url(two), call, "patient")
    relative = await join(peers, sessions(), base_url(two), call, "relative")
    await eventually(lambda: len(gp.roster) == 3, 5, "the GP to see both guests")
    await gp.send(AdmitAll())
    mesh = [gp, patient, relative]
    for peer in mesh:
        await asyncio.wait_for(peer.admitted.wait(), 5)
    await eventually(lambda: media_flows_everywhere(mesh), 45, "media across instances")
