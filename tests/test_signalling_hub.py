"""The signalling endpoint over a real aiohttp server: refusals, waiting room, relaying."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient

from service.domain.clock import FakeClock
from signalling.backplane import BackplaneEvent, EventHandler, MemoryBackplane, RosterChanged
from signalling.codec import MAX_MESSAGE_BYTES
from signalling.connection import (
    CLOSE_ABUSE,
    CLOSE_FLOOD,
    CLOSE_JOIN_TIMEOUT,
    CLOSE_REMOVED,
    CLOSE_REPLACED,
)
from signalling.rooms import Member, RoomView
from signalling.turn import mint_turn_credentials
from tests.signalling_support import (
    ORIGIN,
    ROOM,
    FakeAuthenticator,
    ListRecorder,
    closed_with,
    connect,
    eventually,
    join,
    make_app,
    receive_json,
    receive_type,
    roster_until,
    states,
)

Client = TestClient[Any, Any]


@pytest.fixture
def auth() -> FakeAuthenticator:
    authenticator = FakeAuthenticator()
    authenticator.add("t-gp", "gp1", role="gp", clinician=True)
    authenticator.add("t-spec", "sp1", role="specialist", clinician=True)
    authenticator.add("t-pat", "pa1", role="patient")
    authenticator.add("t-rel", "re1", role="relative")
    authenticator.add("t-other-room", "pa9", room="rm-other")
    return authenticator


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


@pytest.fixture
async def client(aiohttp_client: Any, auth: FakeAuthenticator, recorder: ListRecorder) -> Client:
    app, _ = make_app(auth, recorder=recorder)
    result: Client = await aiohttp_client(app)
    return result


# --- upgrade refusals ----------------------------------------------------------------------


async def test_wrong_origin_is_refused_with_403_before_upgrading(
    client: Client,
) -> None:
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(client, "t-gp", origin="https://evil.example")
    assert refused.value.status == 403


async def test_missing_origin_is_refused(client: Client) -> None:
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect(f"/ws/{ROOM}?token=t-gp")
    assert refused.value.status == 403


async def test_origin_compares_without_case_or_trailing_slash(client: Client) -> None:
    ws = await connect(client, "t-gp", origin="HTTPS://Samkons.test/")
    await ws.send_json({"type": "join", "protocol": 1})
    assert (await receive_type(ws, "joined"))["you"]["participant_id"] == "gp1"
    await ws.close()


async def test_bad_token_is_refused_with_401(client: Client) -> None:
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(client, "t-nonsense")
    assert refused.value.status == 401


async def test_expired_token_is_refused_with_401(client: Client, auth: FakeAuthenticator) -> None:
    auth.expired.add("t-pat")
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(client, "t-pat")
    assert refused.value.status == 401


async def test_token_of_another_room_is_refused_by_the_authenticator(
    client: Client,
) -> None:
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(client, "t-other-room")
    assert refused.value.status == 403


async def test_hub_refuses_identity_of_another_room_even_if_authenticator_lets_it_by(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    auth.check_room = False
    app, _ = make_app(auth)
    client: Client = await aiohttp_client(app)
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(client, "t-other-room")
    assert refused.value.status == 403


# --- frames that are refused ---------------------------------------------------------------


async def test_oversized_frame_gets_an_error_frame_and_socket_stays_open(
    client: Client,
) -> None:
    ws, _ = await join(client, "t-gp")
    await ws.send_str(json.dumps({"type": "ping", "nonce": "x" * MAX_MESSAGE_BYTES}))
    error = await receive_type(ws, "error")
    assert error["code"] == "too_large"
    await ws.send_json({"type": "ping", "nonce": "still-here"})
    assert (await receive_type(ws, "pong"))["nonce"] == "still-here"
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"no_type": 1}', "malformed"),
        ('{"type": "ping", "extra": 1}', "malformed"),
        ('{"type": "offer", "to": "pa1"}', "malformed"),
    ],
)
async def test_bad_frames_get_error_frames(client: Client, frame: str, code: str) -> None:
    ws, _ = await join(client, "t-gp")
    await ws.send_str(frame)
    assert (await receive_type(ws, "error"))["code"] == code
    await ws.close()


async def test_binary_frame_is_refused(client: Client) -> None:
    ws, _ = await join(client, "t-gp")
    await ws.send_bytes(b'{"type": "ping"}')
    assert (await receive_type(ws, "error"))["code"] == "malformed"
    await ws.close()


async def test_messages_before_join_are_refused(client: Client) -> None:
    ws = await connect(client, "t-gp")
    await ws.send_json({"type": "ping"})
    error = await receive_json(ws)
    assert (error["type"], error["code"], error["ref"]) == (
        "error",
        "not_joined",
        "ping",
    )
    await ws.close()


async def test_second_join_on_one_socket_is_refused(client: Client) -> None:
    ws, _ = await join(client, "t-gp")
    await ws.send_json({"type": "join", "protocol": 1})
    assert (await receive_type(ws, "error"))["code"] == "already_joined"
    await ws.close()


async def test_repeated_abuse_closes_the_socket(client: Client) -> None:
    ws, _ = await join(client, "t-gp")
    for _ in range(25):
        await ws.send_str("garbage")
    assert await closed_with(ws) == CLOSE_ABUSE


async def test_flood_closes_the_socket(aiohttp_client: Any, auth: FakeAuthenticator) -> None:
    # A clock that stands still refills nothing, so exactly the burst is allowed.
    app, _ = make_app(auth, clock=FakeClock(), rate_burst=30.0)
    client: Client = await aiohttp_client(app)
    ws, _ = await join(client, "t-gp")
    for n in range(100):
        await ws.send_json({"type": "ping", "nonce": str(n)})
    pongs = 0
    async with asyncio.timeout(5):
        while (frame := await ws.receive()).type.name == "TEXT":
            pongs += json.loads(frame.data)["type"] == "pong"
    assert ws.close_code == CLOSE_FLOOD
    assert pongs == 29  # the join took one token


async def test_rate_limit_refills_with_time(aiohttp_client: Any, auth: FakeAuthenticator) -> None:
    clock = FakeClock()
    app, _ = make_app(auth, clock=clock, rate_burst=5.0, rate_per_second=1.0)
    client: Client = await aiohttp_client(app)
    ws, _ = await join(client, "t-gp")
    for round_ in range(3):
        for n in range(4):
            await ws.send_json({"type": "ping", "nonce": f"{round_}-{n}"})
            assert (await receive_type(ws, "pong"))["nonce"] == f"{round_}-{n}"
        clock.advance(timedelta(seconds=4))
    await ws.close()


async def test_no_join_in_time_closes_the_socket(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    app, _ = make_app(auth, join_timeout=timedelta(seconds=0.2))
    client: Client = await aiohttp_client(app)
    ws = await connect(client, "t-gp")
    assert await closed_with(ws) == CLOSE_JOIN_TIMEOUT


# --- waiting room --------------------------------------------------------------------------


async def test_clinician_is_admitted_on_join_and_patient_waits(client: Client) -> None:
    gp, joined_gp = await join(client, "t-gp")
    assert joined_gp["you"]["state"] == "admitted"
    patient, joined_patient = await join(client, "t-pat", audio=True, video=False)
    assert joined_patient["you"]["state"] == "waiting"
    assert states(joined_patient["participants"]) == {
        "gp1": "admitted",
        "pa1": "waiting",
    }
    roster = await roster_until(gp, lambda ps: "pa1" in states(ps))
    patient_entry = next(p for p in roster if p["participant_id"] == "pa1")
    assert patient_entry == {
        "participant_id": "pa1",
        "connection": joined_patient["you"]["connection"],
        "display_name": "Person pa1",
        "role": "patient",
        "is_clinician": False,
        "state": "waiting",
        "media": {"audio": True, "video": False},
    }
    await gp.close()
    await patient.close()


async def test_waiting_participants_see_each_other_and_clinicians(
    client: Client,
) -> None:
    patient, _ = await join(client, "t-pat")
    relative, _ = await join(client, "t-rel")
    gp, _ = await join(client, "t-gp")
    expected = {"pa1": "waiting", "re1": "waiting", "gp1": "admitted"}
    for ws in (patient, relative):
        roster = await roster_until(ws, lambda ps: states(ps) == expected)
        assert {p["role"] for p in roster} == {"patient", "relative", "gp"}
    for ws in (patient, relative, gp):
        await ws.close()


async def test_offer_before_admission_is_refused(client: Client) -> None:
    gp, _ = await join(client, "t-gp")
    patient, _ = await join(client, "t-pat")
    await patient.send_json({"type": "offer", "to": "gp1", "sdp": "v=0"})
    assert (await receive_type(patient, "error"))["code"] == "not_admitted"
    await gp.send_json({"type": "offer", "to": "pa1", "sdp": "v=0"})
    assert (await receive_type(gp, "error"))["code"] == "peer_not_admitted"
    candidate = {
        "candidate": "candidate:1 1 UDP 1 192.0.2.2 5000 typ host",
        "sdpMid": "0",
    }
    await patient.send_json({"type": "candidate", "to": "gp1", "candidate": candidate})
    assert (await receive_type(patient, "error"))["code"] == "not_admitted"
    await gp.close()
    await patient.close()


async def test_non_clinician_cannot_admit_or_remove(client: Client) -> None:
    gp, _ = await join(client, "t-gp")
    patient, _ = await join(client, "t-pat")
    relative, _ = await join(client, "t-rel")
    for message in (
        {"type": "admit", "participant_id": "re1"},
        {"type": "admit_all"},
        {"type": "remove", "participant_id": "gp1"},
    ):
        await patient.send_json(message)
        error = await receive_type(patient, "error")
        assert (error["code"], error["ref"]) == ("not_clinician", message["type"])
    await patient.send_json({"type": "ping", "nonce": "after"})
    await receive_type(patient, "pong")
    roster = await roster_until(gp, lambda ps: len(ps) == 3)
    assert states(roster) == {"gp1": "admitted", "pa1": "waiting", "re1": "waiting"}
    for ws in (gp, patient, relative):
        await ws.close()


async def test_admit_one_then_relay_offer_answer_and_candidates(
    client: Client, recorder: ListRecorder
) -> None:
    gp, _ = await join(client, "t-gp")
    patient, joined = await join(client, "t-pat")
    relative, _ = await join(client, "t-rel")
    await gp.send_json({"type": "admit", "participant_id": "pa1"})
    await receive_type(patient, "admitted")
    roster = await roster_until(relative, lambda ps: states(ps).get("pa1") == "admitted")
    assert states(roster) == {"gp1": "admitted", "pa1": "admitted", "re1": "waiting"}

    await gp.send_json({"type": "offer", "to": "pa1", "sdp": "v=0 offer"})
    offer = await receive_type(patient, "offer")
    assert offer["from"] == "gp1" and offer["sdp"] == "v=0 offer"
    await patient.send_json({"type": "answer", "to": "gp1", "sdp": "v=0 answer"})
    answer = await receive_type(gp, "answer")
    assert (answer["from"], answer["from_connection"]) == (
        "pa1",
        joined["you"]["connection"],
    )
    candidate = {
        "candidate": "candidate:1 1 UDP 1 192.0.2.2 5000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }
    await patient.send_json({"type": "candidate", "to": "gp1", "candidate": candidate})
    await patient.send_json({"type": "candidate", "to": "gp1", "candidate": None})
    # Relayed with all of RTCIceCandidate's fields: the one not sent is null.
    assert (await receive_type(gp, "candidate"))["candidate"] == {
        **candidate,
        "usernameFragment": None,
    }
    assert (await receive_type(gp, "candidate"))["candidate"] is None
    # The relative still waits: nothing may be relayed to it.
    await gp.send_json({"type": "offer", "to": "re1", "sdp": "v=0"})
    assert (await receive_type(gp, "error"))["code"] == "peer_not_admitted"
    assert recorder.of("pa1") == ["join", "admit"]
    assert recorder.of("re1") == ["join"]
    for ws in (gp, patient, relative):
        await ws.close()


async def test_admit_all_admits_everyone_waiting(client: Client, recorder: ListRecorder) -> None:
    patient, _ = await join(client, "t-pat")
    relative, _ = await join(client, "t-rel")
    specialist, _ = await join(client, "t-spec")
    await specialist.send_json({"type": "admit_all"})
    await receive_type(patient, "admitted")
    await receive_type(relative, "admitted")
    roster = await roster_until(
        specialist,
        lambda ps: all(p["state"] == "admitted" for p in ps) and len(ps) == 3,
    )
    assert len(roster) == 3
    assert recorder.of("re1") == ["join", "admit"]
    for ws in (patient, relative, specialist):
        await ws.close()


async def test_admitting_someone_not_present_is_refused(client: Client) -> None:
    gp, _ = await join(client, "t-gp")
    await gp.send_json({"type": "admit", "participant_id": "nobody"})
    assert (await receive_type(gp, "error"))["code"] == "unknown_participant"
    await gp.close()


async def test_remove_closes_the_socket_and_forgets_admission(
    client: Client, recorder: ListRecorder
) -> None:
    gp, _ = await join(client, "t-gp")
    patient, _ = await join(client, "t-pat")
    await gp.send_json({"type": "admit", "participant_id": "pa1"})
    await receive_type(patient, "admitted")
    await gp.send_json({"type": "remove", "participant_id": "pa1"})
    await receive_type(patient, "removed")
    assert await closed_with(patient) == CLOSE_REMOVED
    await roster_until(gp, lambda ps: "pa1" not in states(ps))
    # Back with the same token: waiting again, not re-admitted.
    again, joined = await join(client, "t-pat")
    assert joined["you"]["state"] == "waiting"
    assert recorder.of("pa1") == ["join", "admit", "remove", "join"]
    await gp.close()
    await again.close()


async def test_clinician_cannot_remove_themselves(client: Client) -> None:
    gp, _ = await join(client, "t-gp")
    await gp.send_json({"type": "remove", "participant_id": "gp1"})
    assert (await receive_type(gp, "error"))["code"] == "unknown_participant"
    await gp.close()


async def test_second_tab_replaces_the_first_and_keeps_admission(
    client: Client, recorder: ListRecorder
) -> None:
    gp, _ = await join(client, "t-gp")
    first, _ = await join(client, "t-pat")
    await gp.send_json({"type": "admit", "participant_id": "pa1"})
    await receive_type(first, "admitted")
    second, joined = await join(client, "t-pat")
    assert joined["you"]["state"] == "admitted"
    assert await closed_with(first) == CLOSE_REPLACED
    roster = await roster_until(
        gp, lambda ps: any(p["connection"] == joined["you"]["connection"] for p in ps)
    )
    assert [p["participant_id"] for p in roster].count("pa1") == 1
    # The old socket's end is not a disconnect, and the new one is not a new join: the
    # participant never left, so the record has nothing to add.
    await asyncio.sleep(0.1)
    assert recorder.of("pa1") == ["join", "admit"]
    await gp.close()
    await second.close()


async def test_reconnect_is_readmitted_within_the_session(
    client: Client, recorder: ListRecorder
) -> None:
    gp, _ = await join(client, "t-gp")
    patient, _ = await join(client, "t-pat")
    await gp.send_json({"type": "admit", "participant_id": "pa1"})
    await receive_type(patient, "admitted")
    await patient.close()
    await roster_until(gp, lambda ps: "pa1" not in states(ps))
    back, joined = await join(client, "t-pat")
    assert joined["you"]["state"] == "admitted"
    assert recorder.of("pa1") == ["join", "admit", "disconnect", "join", "admit"]
    await gp.close()
    await back.close()


async def test_leave_is_recorded_as_leave(client: Client, recorder: ListRecorder) -> None:
    gp, _ = await join(client, "t-gp")
    patient, _ = await join(client, "t-pat")
    await patient.send_json({"type": "leave"})
    assert await closed_with(patient) == 1000
    await roster_until(gp, lambda ps: "pa1" not in states(ps))
    assert recorder.of("pa1") == ["join", "leave"]
    await gp.close()
    await roster_wait_recorded(recorder, "gp1", "disconnect")
    assert recorder.of("gp1") == ["join", "admit", "disconnect"]
    assert all(room == ROOM for room, *_ in recorder.events)


async def roster_wait_recorded(recorder: ListRecorder, participant: str, event: str) -> None:
    await eventually(lambda: event in recorder.of(participant), what=f"{event} recorded")


async def test_media_state_is_shown_to_everyone(client: Client) -> None:
    gp, _ = await join(client, "t-gp")
    patient, _ = await join(client, "t-pat")
    await patient.send_json({"type": "media", "audio": False, "video": True})
    roster = await roster_until(
        gp, lambda ps: any(p["media"] == {"audio": False, "video": True} for p in ps)
    )
    assert next(p for p in roster if p["media"]["audio"] is False)["participant_id"] == "pa1"
    await gp.close()
    await patient.close()


async def test_ice_servers_with_fresh_turn_credentials_on_every_join(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    clock = FakeClock()
    app, _ = make_app(
        auth,
        clock=clock,
        turn_secret="s3cret",
        turn_urls=("turn:turn.samkons.test:3478?transport=udp",),
        stun_urls=("stun:turn.samkons.test:3478",),
        turn_ttl=timedelta(hours=2),
    )
    client: Client = await aiohttp_client(app)
    ws, first = await join(client, "t-gp")
    await ws.close()
    clock.advance(timedelta(minutes=5))
    ws, second = await join(client, "t-gp")
    await ws.close()
    expected = mint_turn_credentials("s3cret", "gp1", clock.now(), timedelta(hours=2))
    assert second["ice_servers"] == [
        {"urls": ["stun:turn.samkons.test:3478"], "username": None, "credential": None},
        {
            "urls": ["turn:turn.samkons.test:3478?transport=udp"],
            "username": expected.username,
            "credential": expected.password,
        },
    ]
    assert second["ice_servers_ttl"] == 7200
    assert first["ice_servers"][1]["username"] != second["ice_servers"][1]["username"]


class StoreDownOnMediaChange(MemoryBackplane):
    async def update_member(self, room_id: str, member: Member) -> bool:
        raise RuntimeError("store down")


async def test_handler_exception_does_not_leave_participant_in_room(
    aiohttp_client: Any, auth: FakeAuthenticator, recorder: ListRecorder
) -> None:
    backplane = StoreDownOnMediaChange()
    app, _ = make_app(auth, recorder=recorder, backplane=backplane)
    client: Client = await aiohttp_client(app)
    gp, _ = await join(client, "t-gp")
    patient, _ = await join(client, "t-pat")
    await patient.send_json({"type": "media", "audio": False, "video": False})
    assert (await receive_type(patient, "error"))["code"] == "internal"
    await patient.send_json({"type": "ping", "nonce": "alive"})
    assert (await receive_type(patient, "pong"))["nonce"] == "alive"
    await patient.close()
    await roster_until(gp, lambda ps: "pa1" not in states(ps))
    assert "pa1" not in (await backplane.load_room(ROOM)).members
    assert recorder.of("pa1") == ["join", "disconnect"]
    await gp.close()


class BrokenRecorder:
    async def record(self, *_: object) -> None:
        raise RuntimeError("database down")


async def test_failing_recorder_does_not_break_the_call(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    app, _ = make_app(auth, recorder=BrokenRecorder())
    client: Client = await aiohttp_client(app)
    gp, joined = await join(client, "t-gp")
    assert joined["you"]["state"] == "admitted"
    await gp.send_json({"type": "ping", "nonce": "1"})
    assert (await receive_type(gp, "pong"))["nonce"] == "1"
    await gp.close()


async def test_hub_close_closes_sockets_with_going_away(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    app, hub = make_app(auth)
    client: Client = await aiohttp_client(app)
    gp, _ = await join(client, "t-gp")
    await hub.close()
    assert await closed_with(gp) == 1001
    assert (await hub.backplane.load_room(ROOM)).members == {}


class StoreFailsAfterJoinWrite(MemoryBackplane):
    """Fails the read that follows writing the joining participant's presence."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next_load = False

    async def put_member(self, room_id: str, member: Member) -> None:
        await super().put_member(room_id, member)
        self.fail_next_load = member.participant_id == "pa1"

    async def load_room(self, room_id: str) -> RoomView:
        if self.fail_next_load:
            self.fail_next_load = False
            raise RuntimeError("store down")
        return await super().load_room(room_id)


async def test_failure_in_the_middle_of_join_leaves_no_presence(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    backplane = StoreFailsAfterJoinWrite()
    app, _ = make_app(auth, backplane=backplane)
    client: Client = await aiohttp_client(app)
    gp, _ = await join(client, "t-gp")
    patient = await connect(client, "t-pat")
    await patient.send_json({"type": "join", "protocol": 1})
    assert (await receive_type(patient, "error"))["code"] == "internal"
    await patient.close()
    await roster_until(gp, lambda ps: states(ps) == {"gp1": "admitted"})
    assert set((await backplane.load_room(ROOM)).members) == {"gp1"}
    await gp.close()


class SlowRecorder(ListRecorder):
    """A recorder that takes its time, like a database under load."""

    async def record(self, room_id: str, participant_id: str, event: Any, at: Any) -> None:
        await asyncio.sleep(0.3)
        await super().record(room_id, participant_id, event, at)


async def test_departure_is_recorded_even_when_aiohttp_cancels_the_handler(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    # The test server cancels a handler as soon as its client's connection is gone, as aiohttp
    # may; the departure must still be recorded and announced.
    recorder = SlowRecorder()
    app, _ = make_app(auth, recorder=recorder)
    watcher: Client = await aiohttp_client(app)
    leaver: Client = await aiohttp_client(watcher.server)
    gp, _ = await join(watcher, "t-gp")
    patient, _ = await join(leaver, "t-pat")
    await patient.send_json({"type": "leave"})
    await leaver.close()  # drop the TCP connection at once
    await roster_until(gp, lambda ps: "pa1" not in states(ps))
    await roster_wait_recorded(recorder, "pa1", "leave")
    assert recorder.of("pa1") == ["join", "leave"]
    await gp.close()


class HeldEvents(MemoryBackplane):
    """Holds the hub's handling of backplane events while `gate` is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def start(self, on_event: EventHandler) -> None:
        async def held(room_id: str, event: BackplaneEvent) -> None:
            await self.gate.wait()
            await on_event(room_id, event)

        await super().start(held)


async def test_a_relay_never_overtakes_an_event_queued_before_it(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    backplane = HeldEvents()
    app, _ = make_app(auth, backplane=backplane)
    client: Client = await aiohttp_client(app)
    gp, _ = await join(client, "t-gp")
    specialist, _ = await join(client, "t-spec")
    await roster_until(gp, lambda ps: "sp1" in states(ps))
    await specialist.send_json({"type": "ping"})
    await receive_type(specialist, "pong")  # the specialist's own rosters have arrived

    backplane.gate.clear()
    await backplane.publish(ROOM, RosterChanged())
    await eventually(lambda: not backplane.delivers_in_order_now())
    await gp.send_json({"type": "offer", "to": "sp1", "sdp": "v=0"})
    await gp.send_json({"type": "ping"})
    await receive_type(gp, "pong")  # the hub has handled the offer
    backplane.gate.set()
    assert (await receive_json(specialist))["type"] == "participants"
    offer = await receive_json(specialist)
    assert (offer["type"], offer["from"], offer["sdp"]) == ("offer", "gp1", "v=0")
    for ws in (gp, specialist):
        await ws.close()


async def test_relays_between_sockets_of_one_instance_keep_their_order(
    client: Client,
) -> None:
    gp, _ = await join(client, "t-gp")
    specialist, _ = await join(client, "t-spec")
    await roster_until(gp, lambda ps: "sp1" in states(ps))
    sent = [f"candidate:{n} 1 udp 1 192.0.2.2 {n} typ host" for n in range(50)]
    for text in sent:
        await gp.send_json({"type": "candidate", "to": "sp1", "candidate": {"candidate": text}})
    received: list[str] = []
    while len(received) < len(sent):
        message = await receive_json(specialist)
        if message["type"] == "candidate":
            assert message["from"] == "gp1"
            received.append(message["candidate"]["candidate"])
    assert received == sent
    for ws in (gp, specialist):
        await ws.close()


async def test_the_hub_declines_compression(client: Client) -> None:
    # Browsers offer permessage-deflate; the hub writes its frames itself, uncompressed.
    ws = await client.ws_connect(f"/ws/{ROOM}?token=t-gp", headers={"Origin": ORIGIN}, compress=15)
    assert ws.compress == 0
    await ws.send_json({"type": "join", "protocol": 1})
    await receive_type(ws, "joined")
    await ws.close()


async def test_relayed_frames_of_every_length_arrive_intact(client: Client) -> None:
    # The hub writes frames itself; the three ways a frame states its length must all hold.
    gp, _ = await join(client, "t-gp")
    specialist, _ = await join(client, "t-spec")
    await roster_until(gp, lambda ps: "sp1" in states(ps))
    # The largest: a frame just under the protocol's limit grows past 65,535 bytes when the
    # sender's ids are added, which needs the 8-byte length.
    largest = "ø" * 5_470 + "a" * 54_530
    sdps = ["v", "v=0\r\n" * 100, largest]
    for sdp in sdps:
        offer = {"type": "offer", "to": "sp1", "sdp": sdp}
        await gp.send_str(json.dumps(offer, ensure_ascii=False))
    frames: list[str] = []
    while len(frames) < len(sdps):
        message = await specialist.receive()
        if '"offer"' in message.data[:20]:
            frames.append(message.data)
    assert len(frames[-1].encode()) > 65_535 and len(frames[0].encode()) < 126
    assert [json.loads(frame)["sdp"] for frame in frames] == sdps
    for ws in (gp, specialist):
        await ws.close()


async def stalled_browser(client: Client, token: str) -> asyncio.StreamWriter:
    """A browser that joins and then never reads again (a frozen tab, a dead link): a raw
    socket, so that no client library keeps reading into a buffer of its own."""
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(
        (
            f"GET /ws/{ROOM}?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {ORIGIN}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    payload = b'{"type":"join","protocol":1}'
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    await writer.drain()
    return writer


async def test_a_browser_that_stops_reading_holds_up_nobody(
    aiohttp_client: Any, auth: FakeAuthenticator
) -> None:
    auth.add("t-gp2", "gp2", role="gp", clinician=True)
    # Once the stalled browser's queue is full, the hub gives up on it and later offers to it
    # may be refused; that is not the point here.
    app, _ = make_app(auth, rate_burst=3000.0, max_refusals=10_000)
    client: Client = await aiohttp_client(app)
    gp, _ = await join(client, "t-gp")
    other, _ = await join(client, "t-spec")
    stalled = await stalled_browser(client, "t-gp2")
    try:
        await roster_until(gp, lambda ps: {"sp1", "gp2"} <= set(states(ps)))
        big = "v=0\r\n" + "a" * 12_000
        loop = asyncio.get_running_loop()
        started = loop.time()
        # Far more than the socket buffers and the send queue of the stalled browser hold.
        for _ in range(2000):
            await gp.send_json({"type": "offer", "to": "gp2", "sdp": big})
        await gp.send_json({"type": "offer", "to": "sp1", "sdp": "v=0"})
        await gp.send_json({"type": "ping", "nonce": "still here"})
        assert (await receive_type(other, "offer"))["sdp"] == "v=0"
        # Given up on, it leaves the room at once (the heartbeat would take 20 s and more):
        # the roster without it reaches the others before the answer to the ping.
        gone = False
        async with asyncio.timeout(5):
            while (message := json.loads((await gp.receive()).data))["type"] != "pong":
                if message["type"] == "participants":
                    gone = "gp2" not in states(message["participants"])
        assert message["nonce"] == "still here"
        assert gone
        assert loop.time() - started < 5
    finally:
        stalled.close()
        await stalled.wait_closed()
        for ws in (gp, other):
            await ws.close()
