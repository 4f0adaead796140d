"""The backplane contract (memory and Redis alike) and rooms spread over two hub instances."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import BaseTestServer, TestClient
from redis.asyncio import Redis

from service.domain.clock import FakeClock
from signalling.backplane import (
    Backplane,
    BackplaneEvent,
    MemoryBackplane,
    MemoryBroker,
    RedisBackplane,
    Relay,
    Removal,
    RoomEnded,
    RosterChanged,
    decode_event,
    encode_event,
)
from signalling.codec import (
    BOTH_ON,
    AdmitAll,
    Answer,
    Candidate,
    IceCandidate,
    Offer,
    relay_frame,
)
from signalling.connection import CLOSE_REMOVED, CLOSE_REPLACED
from signalling.identity import Identity
from signalling.peer import MeshPeer, ReconnectPolicy
from signalling.rooms import Member
from tests.signalling_support import (
    ORIGIN,
    ROOM,
    FakeAuthenticator,
    ListRecorder,
    closed_with,
    eventually,
    join,
    make_app,
    media_flows_everywhere,
    receive_type,
    roster_until,
    states,
    use_loopback_if_alone,
)

Client = TestClient[Any, Any]
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
Events = list[tuple[str, BackplaneEvent]]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis(host="127.0.0.1", port=6379)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    value = f"samkons-test:{uuid.uuid4().hex}:"
    yield value
    keys = [key async for key in redis.scan_iter(match=f"{value}*")]
    if keys:
        await redis.delete(*keys)


BackplaneFactory = Callable[[], Backplane]


@pytest.fixture(params=["memory", "redis"])
def make_backplane(request: pytest.FixtureRequest, redis: Redis, prefix: str) -> BackplaneFactory:
    """Backplanes that share one room store: one per hub instance."""
    if request.param == "memory":
        broker = MemoryBroker()
        return lambda: MemoryBackplane(broker)
    return lambda: RedisBackplane(
        redis, prefix=prefix, heartbeat_interval=timedelta(milliseconds=200)
    )


def member(pid: str, conn: str, instance: str, *, minute: int = 0) -> Member:
    return Member.joining(
        Identity(ROOM, pid, f"Name {pid}", "patient", False),
        connection_id=conn,
        instance_id=instance,
        media=BOTH_ON,
        at=T0 + timedelta(minutes=minute),
    )


async def started(backplane: Backplane, events: Events) -> Backplane:
    async def collect(room_id: str, event: BackplaneEvent) -> None:
        events.append((room_id, event))

    await backplane.start(collect)
    return backplane


# --- the contract --------------------------------------------------------------------------


async def test_members_and_admissions_are_shared(
    make_backplane: BackplaneFactory,
) -> None:
    one, two = await started(make_backplane(), []), await started(make_backplane(), [])
    try:
        await one.put_member(ROOM, member("pa1", "c1", one.instance_id))
        await two.put_member(ROOM, member("gp1", "c2", two.instance_id, minute=1))
        await two.admit(ROOM, ["gp1"])
        view = await one.load_room(ROOM)
        assert set(view.members) == {"pa1", "gp1"}
        assert view.admitted == frozenset({"gp1"})
        assert view.members["pa1"] == member("pa1", "c1", one.instance_id)
        await one.forget_admission(ROOM, "gp1")
        assert (await two.load_room(ROOM)).admitted == frozenset()
        assert (await two.load_room("rm-empty")).members == {}
    finally:
        await one.close()
        await two.close()


async def test_only_the_current_connection_may_update_or_remove(
    make_backplane: BackplaneFactory,
) -> None:
    backplane = await started(make_backplane(), [])
    try:
        await backplane.put_member(ROOM, member("pa1", "old", backplane.instance_id))
        await backplane.put_member(ROOM, member("pa1", "new", backplane.instance_id))
        stale = replace(member("pa1", "old", backplane.instance_id), audio=False)
        assert not await backplane.update_member(ROOM, stale)
        assert not await backplane.remove_member(ROOM, "pa1", "old")
        assert (await backplane.load_room(ROOM)).members["pa1"].connection_id == "new"
        fresh = replace(member("pa1", "new", backplane.instance_id), audio=False)
        assert await backplane.update_member(ROOM, fresh)
        assert (await backplane.load_room(ROOM)).members["pa1"].audio is False
        assert await backplane.remove_member(ROOM, "pa1", "new")
        assert (await backplane.load_room(ROOM)).members == {}
    finally:
        await backplane.close()


async def test_events_reach_subscribers_of_the_room_in_order(
    make_backplane: BackplaneFactory,
) -> None:
    heard: Events = []
    other_room: Events = []
    sender = await started(make_backplane(), [])
    listener = await started(make_backplane(), heard)
    elsewhere = await started(make_backplane(), other_room)
    try:
        await listener.subscribe(ROOM)
        await elsewhere.subscribe("rm-elsewhere")
        offer = relay_frame(Offer(to="pa1", sdp="v=0"), "gp1", "c1")
        sent: list[BackplaneEvent] = [
            RosterChanged(),
            Relay("c9", offer),
            Removal("pa1", "c9"),
        ]
        sent += [
            Relay(
                "c9",
                relay_frame(
                    Candidate(
                        to="pa1",
                        candidate=IceCandidate(
                            candidate=f"candidate:{n} 1 udp 1 192.0.2.2 {n} typ host"
                        ),
                    ),
                    "gp1",
                    "c1",
                ),
            )
            for n in range(20)
        ]
        for event in sent:
            await sender.publish(ROOM, event)
        await eventually(lambda: len(heard) == len(sent))
        assert heard == [(ROOM, event) for event in sent]
        await listener.unsubscribe(ROOM)
        await sender.publish(ROOM, RosterChanged())
        await asyncio.sleep(0.2)
        assert len(heard) == len(sent)
        assert other_room == []
    finally:
        for backplane in (sender, listener, elsewhere):
            await backplane.close()


async def test_memory_backplane_delivers_in_order_now_only_when_nothing_is_pending() -> None:
    gate = asyncio.Event()
    handled: Events = []

    async def slow(room_id: str, event: BackplaneEvent) -> None:
        await gate.wait()
        handled.append((room_id, event))

    broker = MemoryBroker()
    backplane, other = MemoryBackplane(broker), MemoryBackplane(broker)
    await backplane.start(slow)
    await other.start(slow)
    try:
        await backplane.subscribe(ROOM)
        assert backplane.delivers_in_order_now()
        await other.publish(ROOM, RosterChanged())  # queued, from another hub on the broker
        assert not backplane.delivers_in_order_now()
        await asyncio.sleep(0.05)  # now being handled
        assert not backplane.delivers_in_order_now()
        gate.set()
        await eventually(lambda: len(handled) == 1)
        await eventually(backplane.delivers_in_order_now)
    finally:
        await backplane.close()
        await other.close()


async def test_redis_backplane_never_offers_to_deliver_directly(redis: Redis, prefix: str) -> None:
    # An event of another instance may be on its way through Redis.
    assert not RedisBackplane(redis, prefix=prefix).delivers_in_order_now()


def test_events_survive_encoding() -> None:
    answer = relay_frame(Answer(to="gp1", sdp="v=0\r\nø"), "pa1", "c1")
    events = (RosterChanged(), Relay("c2", answer), Removal("pa1", "c1"), RoomEnded("cancelled"))
    for event in events:
        assert decode_event(encode_event(event)) == event


def test_a_relayed_frame_from_the_backplane_is_checked_before_it_is_forwarded() -> None:
    forged = b'{"kind":"relay","to_connection":"c2","frame":"{\\"type\\":\\"joined\\"}"}'
    with pytest.raises(ValueError):
        decode_event(forged)
    extra = relay_frame(Offer(to="gp1", sdp="v=0"), "pa1", "c1")[:-1] + ',"admin":true}'
    with pytest.raises(ValueError):
        decode_event(encode_event(Relay("c2", extra)))  # type: ignore[arg-type]


async def test_memory_broker_forgets_admissions_of_idle_empty_rooms() -> None:
    clock = FakeClock()
    backplane = MemoryBackplane(MemoryBroker(clock=clock, room_ttl=timedelta(hours=12)))
    await backplane.admit(ROOM, ["pa1"])
    clock.advance(timedelta(hours=11))
    assert (await backplane.load_room(ROOM)).admitted == frozenset({"pa1"})
    clock.advance(timedelta(hours=13))
    assert (await backplane.load_room(ROOM)).admitted == frozenset()


async def test_redis_drops_members_of_a_dead_instance_and_announces_it(
    redis: Redis, prefix: str
) -> None:
    heard: Events = []
    alive = RedisBackplane(redis, prefix=prefix, heartbeat_interval=timedelta(milliseconds=100))
    await started(alive, heard)
    crashed = RedisBackplane(redis, prefix=prefix, heartbeat_interval=timedelta(milliseconds=100))
    await started(crashed, [])
    try:
        await alive.subscribe(ROOM)
        await crashed.put_member(ROOM, member("pa1", "c1", crashed.instance_id))
        await alive.put_member(ROOM, member("gp1", "c2", alive.instance_id))
        assert set((await alive.load_room(ROOM)).members) == {"pa1", "gp1"}
        # A crash: the heartbeat stops, nothing is cleaned up.
        for task in crashed._tasks:
            task.cancel()
        await eventually(lambda: (ROOM, RosterChanged()) in heard, timeout=3)
        assert set((await alive.load_room(ROOM)).members) == {"gp1"}
        assert await redis.hexists(f"{prefix}room:{ROOM}:members", "pa1") == 0
    finally:
        await crashed.close()
        await alive.close()


async def test_redis_room_keys_expire(redis: Redis, prefix: str) -> None:
    backplane = RedisBackplane(redis, prefix=prefix, room_ttl=timedelta(hours=12))
    await backplane.put_member(ROOM, member("pa1", "c1", backplane.instance_id))
    await backplane.admit(ROOM, ["pa1"])
    for key in (f"{prefix}room:{ROOM}:members", f"{prefix}room:{ROOM}:admitted"):
        assert 11 * 3600 < await redis.ttl(key) <= 12 * 3600


# --- two hub instances -------------------------------------------------------------------


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


@pytest.fixture
def auth() -> FakeAuthenticator:
    authenticator = FakeAuthenticator()
    authenticator.add("t-gp", "gp1", role="gp", clinician=True)
    authenticator.add("t-pat", "pa1", role="patient")
    authenticator.add("t-rel", "re1", role="relative")
    return authenticator


@pytest.fixture
async def two_instances(
    make_backplane: BackplaneFactory,
    aiohttp_client: Any,
    auth: FakeAuthenticator,
    recorder: ListRecorder,
) -> AsyncIterator[tuple[Client, Client]]:
    """Two servers sharing rooms; closed here, before the Redis client they use."""
    clients: list[Client] = []
    for _ in range(2):
        app, _hub = make_app(auth, recorder=recorder, backplane=make_backplane())
        clients.append(await aiohttp_client(app, server_kwargs={"host": "127.0.0.1"}))
    yield clients[0], clients[1]
    for client in clients:
        await client.close()


async def test_participants_on_two_instances_meet_are_admitted_and_relay(
    two_instances: tuple[Client, Client], recorder: ListRecorder
) -> None:
    one, two = two_instances
    gp, _ = await join(one, "t-gp")
    patient, _ = await join(two, "t-pat")
    relative, _ = await join(two, "t-rel")
    roster = await roster_until(gp, lambda ps: len(ps) == 3)
    assert states(roster) == {"gp1": "admitted", "pa1": "waiting", "re1": "waiting"}
    await roster_until(patient, lambda ps: len(ps) == 3)

    await gp.send_json({"type": "admit", "participant_id": "pa1"})
    await receive_type(patient, "admitted")
    await roster_until(relative, lambda ps: states(ps)["pa1"] == "admitted")
    await gp.send_json({"type": "offer", "to": "pa1", "sdp": "v=0 across"})
    assert (await receive_type(patient, "offer"))["sdp"] == "v=0 across"
    await patient.send_json({"type": "answer", "to": "gp1", "sdp": "v=0 back"})
    answer = await receive_type(gp, "answer")
    assert (answer["from"], answer["sdp"]) == ("pa1", "v=0 back")
    await patient.send_json({"type": "offer", "to": "re1", "sdp": "v=0"})
    assert (await receive_type(patient, "error"))["code"] == "peer_not_admitted"
    assert recorder.of("pa1") == ["join", "admit"]
    for ws in (gp, patient, relative):
        await ws.close()


async def test_second_tab_on_the_other_instance_replaces_the_first(
    two_instances: tuple[Client, Client],
) -> None:
    one, two = two_instances
    gp, _ = await join(one, "t-gp")
    first, _ = await join(one, "t-pat")
    await gp.send_json({"type": "admit", "participant_id": "pa1"})
    await receive_type(first, "admitted")
    second, joined = await join(two, "t-pat")
    assert joined["you"]["state"] == "admitted"
    assert await closed_with(first) == CLOSE_REPLACED
    roster = await roster_until(
        gp, lambda ps: any(p["connection"] == joined["you"]["connection"] for p in ps)
    )
    assert states(roster) == {"gp1": "admitted", "pa1": "admitted"}
    for ws in (gp, second):
        await ws.close()


async def test_remove_across_instances(two_instances: tuple[Client, Client]) -> None:
    one, two = two_instances
    gp, _ = await join(one, "t-gp")
    patient, _ = await join(two, "t-pat")
    await roster_until(gp, lambda ps: "pa1" in states(ps))
    await gp.send_json({"type": "remove", "participant_id": "pa1"})
    await receive_type(patient, "removed")
    assert await closed_with(patient) == CLOSE_REMOVED
    await roster_until(gp, lambda ps: "pa1" not in states(ps))
    await gp.close()


async def test_reconnect_to_the_other_instance_is_readmitted(
    two_instances: tuple[Client, Client],
) -> None:
    one, two = two_instances
    gp, _ = await join(one, "t-gp")
    patient, _ = await join(one, "t-pat")
    await gp.send_json({"type": "admit", "participant_id": "pa1"})
    await receive_type(patient, "admitted")
    await patient.close()
    await roster_until(gp, lambda ps: "pa1" not in states(ps))
    back, joined = await join(two, "t-pat")
    assert joined["you"]["state"] == "admitted"
    for ws in (gp, back):
        await ws.close()


async def test_media_between_peers_on_two_instances(
    two_instances: tuple[Client, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_loopback_if_alone(monkeypatch)
    one, two = two_instances
    policy = ReconnectPolicy(initial=0.2, maximum=1.0)
    async with aiohttp.ClientSession() as session:
        peers = [
            MeshPeer(session, _url(one.server, "t-gp"), origin=ORIGIN, policy=policy),
            MeshPeer(session, _url(two.server, "t-pat"), origin=ORIGIN, policy=policy),
            MeshPeer(session, _url(two.server, "t-rel"), origin=ORIGIN, policy=policy),
        ]
        try:
            for peer in peers:
                peer.start()
                await asyncio.wait_for(peer.joined.wait(), 5)
            await eventually(lambda: len(peers[0].roster) == 3)
            await peers[0].send(AdmitAll())
            await eventually(lambda: media_flows_everywhere(peers), 30, "media across instances")
        finally:
            for peer in peers:
                await peer.close()


def _url(server: BaseTestServer, token: str) -> str:
    return str(server.make_url(f"/ws/{ROOM}?token={token}"))
