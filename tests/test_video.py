"""Video sessions in the real app: who gets into a room, and what the session record says.

Every test here goes through `create_app` (on SQLite and PostgreSQL) and a real WebSocket
upgrade; consultations and join tokens are written straight into the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.calls import (
    SessionFacts,
    account_session,
    admitted_present,
    clinician_participant_id,
    join_window,
    room_refusal,
    user_id_of,
)
from service.domain.clock import FakeClock
from service.http import appkeys
from service.http.app import create_app
from service.settings import Settings
from service.storage.models import Consultation, ConsultationEvent, SessionEventRecord
from tests.factories import Client, World, build_world, login
from tests.signalling_support import (
    closed_with,
    eventually_async,
    receive_type,
    roster_until,
    states,
)
from tests.video_support import ORIGIN, Call, make_call

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


# --- pure rules ------------------------------------------------------------------------------


def test_join_window_opens_30_minutes_before_and_closes_60_after() -> None:
    start, end = T0, T0 + timedelta(minutes=30)
    assert join_window(start, end) == (T0 - timedelta(minutes=30), end + timedelta(minutes=60))
    assert room_refusal("confirmed", start, end, T0 - timedelta(minutes=30)) is None
    assert room_refusal("confirmed", start, end, T0 - timedelta(minutes=31)) == "too_early"
    assert room_refusal("in_progress", start, end, end + timedelta(minutes=59)) is None
    assert room_refusal("completed", start, end, end + timedelta(minutes=60)) == "too_late"


@pytest.mark.parametrize("status", ["requested", "cancelled", "no_show"])
def test_rooms_of_consultations_not_agreed_or_over_are_closed(status: str) -> None:
    assert room_refusal(status, T0, T0 + timedelta(minutes=30), T0) == "closed"


def test_clinician_room_ids_come_from_their_row_or_their_account() -> None:
    assert clinician_participant_id(17, None) == "user-17"
    assert user_id_of("user-17") == 17
    assert user_id_of("a1b2c3") is None
    assert user_id_of("user-x") is None


@pytest.mark.parametrize("module", ["service.domain.calls", "service.usecases.video"])
def test_the_video_rules_and_use_cases_load_neither_http_nor_media(module: str) -> None:
    # A fresh interpreter: this one has loaded everything already.
    probe = f"import sys, {module}; print(sorted({{'aiohttp', 'aiortc'}} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_in_call_means_the_latest_event_is_admit() -> None:
    events = [
        ("gp", "join"),
        ("gp", "admit"),
        ("pa", "join"),
        ("re", "join"),
        ("pa", "admit"),
        ("re", "leave"),
        ("pa", "disconnect"),
        ("pa", "join"),
        ("pa", "admit"),
    ]
    assert admitted_present(events) == {"gp", "pa"}
    assert admitted_present([*events, ("gp", "remove"), ("pa", "leave")]) == frozenset()


def _facts(**kw: Any) -> SessionFacts:
    base: dict[str, Any] = {
        "status": "confirmed",
        "started_at": None,
        "ended_at": None,
        "planned_end": T0 + timedelta(minutes=30),
        "event": "admit",
        "at": T0,
        "in_call": 1,
    }
    base.update(kw)
    return account_session(**base)


def test_a_clinician_alone_starts_nothing() -> None:
    assert _facts(in_call=1) == SessionFacts(None, None, start=False, complete=False)


def test_the_second_participant_in_the_call_starts_it() -> None:
    assert _facts(in_call=2) == SessionFacts(T0, None, start=True, complete=False)
    later = T0 + timedelta(minutes=5)
    again = _facts(status="in_progress", started_at=T0, ended_at=later, in_call=2, at=later)
    assert again == SessionFacts(T0, None, start=False, complete=False)


def test_the_last_departure_ends_the_call_and_completes_it_only_after_the_planned_end() -> None:
    early = T0 + timedelta(minutes=20)
    facts = _facts(status="in_progress", started_at=T0, event="leave", at=early, in_call=0)
    assert facts == SessionFacts(T0, early, start=False, complete=False)
    late = T0 + timedelta(minutes=31)
    facts = _facts(status="in_progress", started_at=T0, event="disconnect", at=late, in_call=0)
    assert facts == SessionFacts(T0, late, start=False, complete=True)
    # One of two leaving does not end it.
    facts = _facts(status="in_progress", started_at=T0, event="leave", at=late, in_call=1)
    assert facts.ended_at is None and not facts.complete


# --- through the real app --------------------------------------------------------------------


@pytest.fixture
async def client(db_url: str, aiohttp_client: Any, app: Any) -> Client:
    # Asking for the database first makes its teardown (emptying it) come after the server has
    # shut down, so the session events written as sockets close are not cut off mid-transaction.
    result: Client = await aiohttp_client(app)
    return result


async def _world_and_call(
    db: async_sessionmaker[AsyncSession], clock: FakeClock, **kw: Any
) -> tuple[World, Call]:
    world = await build_world(db, hours=False)
    call = await make_call(db, world, clock.now() + timedelta(minutes=10), **kw)
    return world, call


async def _refused_status(client: Client, path: str, origin: str = ORIGIN) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(path, headers={"Origin": origin})
    return refused.value.status


async def _join(client: Client, path: str) -> tuple[aiohttp.ClientWebSocketResponse, Any]:
    ws = await client.ws_connect(path, headers={"Origin": ORIGIN})
    await ws.send_json({"type": "join", "protocol": 1})
    return ws, await receive_type(ws, "joined")


async def _events(db: async_sessionmaker[AsyncSession], call: Call) -> list[tuple[str, str]]:
    async with db() as s:
        rows = await s.scalars(
            select(SessionEventRecord)
            .where(SessionEventRecord.consultation_id == call.id)
            .order_by(SessionEventRecord.at, SessionEventRecord.id)
        )
        return [(r.participant_id, r.event) for r in rows]


async def _consultation(db: async_sessionmaker[AsyncSession], call: Call) -> Consultation:
    async with db() as s:
        consultation = await s.get(Consultation, call.id)
        assert consultation is not None
        return consultation


async def test_a_patient_joins_with_a_join_token_and_waits(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _world_and_call(db, clock)
    ws, joined = await _join(client, call.ws_path("patient"))
    assert joined["you"]["participant_id"] == call.participants["patient"]
    assert joined["you"]["role"] == "patient"
    assert joined["you"]["display_name"] == "Pasient Ein"
    assert joined["you"]["is_clinician"] is False
    assert joined["you"]["state"] == "waiting"
    await ws.close()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (timedelta(minutes=-31), 401),  # before the window opens (30 min before the start)
        (timedelta(minutes=-30), 101),
        (timedelta(minutes=30 + 59), 101),
        (timedelta(minutes=30 + 60), 401),  # 60 minutes after the end
    ],
)
async def test_join_tokens_are_valid_only_inside_the_window(
    client: Client,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    moment: timedelta,
    expected: int,
) -> None:
    world = await build_world(db, hours=False)
    call = await make_call(db, world, clock.now())
    clock.advance(moment)
    if expected == 101:
        ws, joined = await _join(client, call.ws_path("relative"))
        assert joined["you"]["role"] == "relative"
        await ws.close()
    else:
        assert await _refused_status(client, call.ws_path("relative")) == expected


async def test_wrong_and_missing_tokens_are_refused_with_401(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _world_and_call(db, clock)
    assert await _refused_status(client, call.ws_path(token="not-a-real-token")) == 401
    assert await _refused_status(client, call.ws_path(token=call.tokens["patient"][:-1])) == 401
    # Without a token and without a login there is nobody to let in.
    assert await _refused_status(client, call.ws_path()) == 401


async def test_a_token_opens_only_its_own_consultation(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    world, call = await _world_and_call(db, clock)
    other = await make_call(db, world, clock.now() + timedelta(hours=2), minutes=30)
    clock.advance(timedelta(hours=1, minutes=45))  # both windows are open now
    path = f"/ws/{call.room_id}?token={other.tokens['patient']}"
    assert await _refused_status(client, path) == 403
    ws, joined = await _join(client, other.ws_path("patient"))
    assert joined["you"]["participant_id"] == other.participants["patient"]
    await ws.close()


@pytest.mark.parametrize("status", ["cancelled", "requested"])
async def test_a_consultation_that_is_not_on_opens_nothing(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock, status: str
) -> None:
    _, call = await _world_and_call(db, clock, status=status)
    assert await _refused_status(client, call.ws_path("patient")) == 403


async def test_a_wrong_origin_is_refused_before_anything_else(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _world_and_call(db, clock)
    path = call.ws_path("patient")
    assert await _refused_status(client, path, origin="https://evil.example") == 403
    async with db() as s:
        assert (await s.scalars(select(SessionEventRecord))).all() == []


async def test_a_clinicians_row_token_does_not_make_a_clinician(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _world_and_call(db, clock, gp_token=True)
    assert await _refused_status(client, call.ws_path("gp")) == 403


@pytest.mark.parametrize(
    ("who", "expected"), [("gp2", 403), ("psychiatrist", 403), ("evaluator", 403)]
)
async def test_clinicians_who_may_not_see_the_consultation_are_refused(
    client: Client,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    who: str,
    expected: int,
) -> None:
    _, call = await _world_and_call(db, clock)
    await login(client, who)
    assert await _refused_status(client, call.ws_path()) == expected


@pytest.mark.parametrize(
    ("who", "role", "own_row"),
    [
        ("gp", "gp", True),
        ("specialist2", "specialist", False),
        ("coordinator", "coordinator", False),
    ],
)
async def test_clinicians_join_with_their_login_and_are_admitted(
    client: Client,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    who: str,
    role: str,
    own_row: bool,
) -> None:
    world, call = await _world_and_call(db, clock)
    await login(client, who)
    ws, joined = await _join(client, call.ws_path())
    you = joined["you"]
    assert you["is_clinician"] is True and you["state"] == "admitted" and you["role"] == role
    expected_id = call.gp_participant if own_row else f"user-{getattr(world, who)}"
    assert you["participant_id"] == expected_id
    await ws.close()


async def test_the_api_gives_clinicians_the_room_id_of_a_consultation(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _world_and_call(db, clock)
    await login(client, "gp")
    body = await (await client.get(f"/api/v1/consultations/{call.id}")).json()
    assert body["room_id"] == call.room_id
    ws, joined = await _join(client, f"/ws/{body['room_id']}")
    assert joined["you"]["is_clinician"] is True
    await ws.close()


async def test_refusals_inside_the_room_non_clinician_admit_and_offer_before_admission(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _world_and_call(db, clock)
    patient, _ = await _join(client, call.ws_path("patient"))
    relative, _ = await _join(client, call.ws_path("relative"))
    await patient.send_json({"type": "admit", "participant_id": call.participants["relative"]})
    error = await receive_type(patient, "error")
    assert (error["code"], error["ref"]) == ("not_clinician", "admit")
    await patient.send_json({"type": "admit_all"})
    assert (await receive_type(patient, "error"))["code"] == "not_clinician"
    offer = {"type": "offer", "to": call.participants["relative"], "sdp": "v=0\r\n"}
    await patient.send_json(offer)
    error = await receive_type(patient, "error")
    assert (error["code"], error["ref"]) == ("not_admitted", "offer")
    await patient.close()
    await relative.close()


async def test_a_call_is_recorded_and_moves_the_consultation_along(
    db: async_sessionmaker[AsyncSession],  # first: see the `client` fixture
    aiohttp_client: Any,
    aiohttp_server: Any,
    app: Any,
    clock: FakeClock,
) -> None:
    server = await aiohttp_server(app)
    gp_client: Client = await aiohttp_client(server)
    guest_client: Client = await aiohttp_client(server)
    _, call = await _world_and_call(db, clock)
    patient_id = call.participants["patient"]
    gp_id = call.gp_participant
    await login(gp_client, "gp")
    gp, _ = await _join(gp_client, call.ws_path())
    clock.advance(timedelta(minutes=1))
    patient, joined = await _join(guest_client, call.ws_path("patient"))
    assert joined["you"]["state"] == "waiting"
    await roster_until(gp, lambda ps: states(ps).get(patient_id) == "waiting")
    assert (await _consultation(db, call)).status == "confirmed"  # a clinician alone: no start

    clock.advance(timedelta(minutes=1))
    admitted_at = clock.now()
    await gp.send_json({"type": "admit", "participant_id": patient_id})
    await receive_type(patient, "admitted")
    await roster_until(gp, lambda ps: states(ps).get(patient_id) == "admitted")
    consultation = await _eventually_status(db, call, "in_progress")
    assert consultation.actual_started_at == admitted_at
    assert consultation.actual_ended_at is None

    clock.advance(timedelta(minutes=40))  # past the planned end
    await patient.send_json({"type": "leave"})
    assert await closed_with(patient) == 1000
    await roster_until(gp, lambda ps: patient_id not in states(ps))
    assert (await _consultation(db, call)).actual_ended_at is None  # the GP is still there
    clock.advance(timedelta(minutes=1))
    left_at = clock.now()
    await gp.close()
    consultation = await _eventually_status(db, call, "completed")
    assert consultation.actual_ended_at == left_at

    events = await _events(db, call)
    # Each person's own events are in order; two people's events at the same instant (the GP
    # admitted on joining, the patient joining) may be written in either order.
    assert [e for who, e in events if who == gp_id] == ["join", "admit", "disconnect"]
    assert [e for who, e in events if who == patient_id] == ["join", "admit", "leave"]
    assert events[-2:] == [(patient_id, "leave"), (gp_id, "disconnect")]
    async with db() as s:
        roles = set((await s.scalars(select(SessionEventRecord.role))).all())
        history = (
            await s.scalars(
                select(ConsultationEvent.action).where(ConsultationEvent.consultation_id == call.id)
            )
        ).all()
    assert roles == {"gp", "patient"}
    assert list(history) == ["start", "complete"]


async def test_a_call_that_ends_early_is_left_for_the_scheduler_to_complete(
    db: async_sessionmaker[AsyncSession],  # first: see the `client` fixture
    aiohttp_client: Any,
    aiohttp_server: Any,
    app: Any,
    clock: FakeClock,
) -> None:
    server = await aiohttp_server(app)
    specialist_client: Client = await aiohttp_client(server)
    gp_client: Client = await aiohttp_client(server)
    world, call = await _world_and_call(db, clock, guests=())
    await login(specialist_client, "specialist")
    await login(gp_client, "gp")
    specialist, _ = await _join(specialist_client, call.ws_path())
    gp, _ = await _join(gp_client, call.ws_path())
    await _eventually_status(db, call, "in_progress")  # two clinicians: rettleiing has begun
    await specialist.send_json({"type": "leave"})
    await gp.send_json({"type": "leave"})
    assert await closed_with(specialist) == 1000 and await closed_with(gp) == 1000
    consultation = await _eventually_ended(db, call)
    assert consultation.status == "in_progress"
    events = await _events(db, call)
    assert (f"user-{world.specialist}", "leave") in events


async def test_admissions_survive_a_restart_of_the_server(
    db: async_sessionmaker[AsyncSession],  # first: see the `client` fixture
    aiohttp_client: Any,
    aiohttp_server: Any,
    app: Any,
    settings: Settings,
    clock: FakeClock,
) -> None:
    # Before: with the memory backplane a restart sent everyone back to the waiting room.
    server = await aiohttp_server(app)
    gp_client: Client = await aiohttp_client(server)
    guest_client: Client = await aiohttp_client(server)
    _, call = await _world_and_call(db, clock)
    patient_id, relative_id = call.participants["patient"], call.participants["relative"]
    await login(gp_client, "gp")
    gp, _ = await _join(gp_client, call.ws_path())
    patient, _ = await _join(guest_client, call.ws_path("patient"))
    relative, _ = await _join(guest_client, call.ws_path("relative"))
    await gp.send_json({"type": "admit_all"})
    await receive_type(relative, "admitted")
    await gp.send_json({"type": "remove", "participant_id": relative_id})
    assert await closed_with(relative) == 4002
    await eventually_async(
        lambda: _events(db, call), lambda ev: (relative_id, "remove") in ev, what="the removal"
    )
    await server.close()
    assert await closed_with(patient) == 1001

    restarted = await aiohttp_server(create_app(settings, clock=clock))
    guests: Client = await aiohttp_client(restarted)
    patient, joined = await _join(guests, call.ws_path("patient"))
    assert joined["you"]["state"] == "admitted"  # no clinician needed
    relative, joined = await _join(guests, call.ws_path("relative"))
    assert joined["you"]["state"] == "waiting"  # removed stays removed

    def rejoined(events: list[tuple[str, str]]) -> bool:
        patients = [e for who, e in events if who == patient_id]
        relatives = [e for who, e in events if who == relative_id]
        return patients[-3:] == ["disconnect", "join", "admit"] and relatives[-2:] == [
            "remove",
            "join",
        ]

    await eventually_async(lambda: _events(db, call), rejoined, what="the rejoins on record")
    await patient.close()
    await relative.close()


async def test_cancelling_the_consultation_ends_its_call_for_everyone(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _world_and_call(db, clock)
    headers = await login(client, "gp")
    gp, _ = await _join(client, call.ws_path())
    patient, _ = await _join(client, call.ws_path("patient"))
    relative, _ = await _join(client, call.ws_path("relative"))
    # Waiting for the GP to let them in (a call in progress can no longer be cancelled).
    await roster_until(gp, lambda ps: len(ps) == 3)

    cancelled = await client.post(
        f"/api/v1/consultations/{call.id}/cancel", json={}, headers=headers
    )
    assert cancelled.status == 200, await cancelled.text()
    for ws in (gp, patient, relative):
        assert await receive_type(ws, "ended") == {"type": "ended", "reason": "cancelled"}
        assert await closed_with(ws) == 4005
    # Nobody gets back in, so nobody is admitted again: the join links died with the
    # cancellation (401, an unknown link), and the room is closed (403).
    assert await _refused_status(client, call.ws_path("relative")) == 401
    assert await _refused_status(client, call.ws_path()) == 403
    assert gp.closed  # so no `admit_all` of its can admit anybody now
    events = await _events(db, call)
    assert (call.participants["relative"], "admit") not in events


async def test_a_cancellation_stands_when_the_call_cannot_be_ended(
    client: Client,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def backplane_down(room_id: str, reason: str) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(app[appkeys.SIGNALLING_HUB], "end_room", backplane_down)
    _, call = await _world_and_call(db, clock)
    headers = await login(client, "gp")
    cancelled = await client.post(
        f"/api/v1/consultations/{call.id}/cancel", json={}, headers=headers
    )
    assert cancelled.status == 200
    assert (await _consultation(db, call)).status == "cancelled"


async def _eventually_status(
    db: async_sessionmaker[AsyncSession], call: Call, status: str
) -> Consultation:
    # The recorder runs right after the hub has answered, so give it a moment.
    return await eventually_async(
        lambda: _consultation(db, call), lambda c: c.status == status, what=f"status {status}"
    )


async def _eventually_ended(db: async_sessionmaker[AsyncSession], call: Call) -> Consultation:
    return await eventually_async(
        lambda: _consultation(db, call),
        lambda c: c.actual_ended_at is not None,
        what="the call to end",
    )


# --- TURN credentials from settings ------------------------------------------------------------


@pytest.fixture
def settings(db_url: str, tmp_path: Any) -> Settings:
    return Settings(
        mode="test",
        database_url=db_url,
        base_url="http://127.0.0.1:8080",
        outbox_dir=tmp_path / "outbox",
        scheduler_enabled=False,
        login_attempts_per_address=50,
        stun_urls=["stun:127.0.0.1:3478"],
        turn_urls=["turn:127.0.0.1:3478?transport=udp"],
        turn_secret=SecretStr("video-test-turn-secret-0123456789"),
        turn_ttl_seconds=7200,
    )


async def test_joined_carries_fresh_turn_credentials_from_the_settings(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    _, call = await _world_and_call(db, clock)
    ws, joined = await _join(client, call.ws_path("patient"))
    assert joined["ice_servers_ttl"] == 7200
    stun, turn = joined["ice_servers"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"], "username": None, "credential": None}
    assert turn["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
    expiry = int((clock.now() + timedelta(seconds=7200)).timestamp())
    assert turn["username"] == f"{expiry}:{call.participants['patient']}"
    digest = hmac.new(
        b"video-test-turn-secret-0123456789", turn["username"].encode(), hashlib.sha1
    ).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()
    await ws.close()

    clock.advance(timedelta(minutes=5))  # a reconnect gets new credentials
    ws, again = await _join(client, call.ws_path("patient"))
    assert again["ice_servers"][1]["username"] == f"{expiry + 300}:{call.participants['patient']}"
    await ws.close()
