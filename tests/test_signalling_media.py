"""Real calls: aiortc peers meet through the signalling endpoint and exchange audio and video."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from signalling.codec import Admit, AdmitAll
from signalling.peer import MeshPeer, ReconnectPolicy
from tests.signalling_support import (
    FAST_RECONNECT,
    ORIGIN,
    ROOM,
    FakeAuthenticator,
    ListRecorder,
    TcpCutter,
    eventually,
    make_app,
    media_flows_everywhere,
    routable_addresses,
    use_loopback_if_alone,
)
from tests.signalling_support import (
    start_peer as joined_peer,
)

PEOPLE = [
    ("t-gp", "gp1", "gp", True),
    ("t-spec", "sp1", "specialist", True),
    ("t-pat", "pa1", "patient", False),
    ("t-rel", "re1", "relative", False),
]


@pytest.fixture(autouse=True)
def ice_host_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_if_alone(monkeypatch)


@pytest.fixture
def auth() -> FakeAuthenticator:
    authenticator = FakeAuthenticator()
    for token, pid, role, clinician in PEOPLE:
        authenticator.add(token, pid, role=role, clinician=clinician)
    return authenticator


@pytest.fixture
def recorder() -> ListRecorder:
    return ListRecorder()


@pytest.fixture
async def port(aiohttp_server: Any, auth: FakeAuthenticator, recorder: ListRecorder) -> int:
    """The port of a real signalling server on 127.0.0.1."""
    app, _ = make_app(auth, recorder=recorder)
    server: TestServer = await aiohttp_server(app, host="127.0.0.1")
    assert server.port is not None
    return server.port


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def peers() -> AsyncIterator[list[MeshPeer]]:
    started: list[MeshPeer] = []
    yield started
    for peer in started:
        await peer.close()


def url(port: int, token: str) -> str:
    return f"http://127.0.0.1:{port}/ws/{ROOM}?token={token}"


async def start_peer(
    peers: list[MeshPeer],
    session: aiohttp.ClientSession,
    port: int,
    token: str,
    policy: ReconnectPolicy = FAST_RECONNECT,
    *,
    trickle: bool = False,
) -> MeshPeer:
    return await joined_peer(peers, session, url(port, token), policy=policy, trickle=trickle)


def test_loopback_only_machines_are_told_apart() -> None:
    assert routable_addresses(["127.0.0.1", "::1"]) == []
    assert routable_addresses(["127.0.0.1", "192.0.2.2"]) == ["192.0.2.2"]


async def test_two_peers_exchange_audio_and_video_after_admission(
    port: int, session: aiohttp.ClientSession, peers: list[MeshPeer]
) -> None:
    gp = await start_peer(peers, session, port, "t-gp")
    patient = await start_peer(peers, session, port, "t-pat")
    await asyncio.sleep(0.3)
    assert not patient.is_admitted
    assert patient.frames_from("gp1").video == 0 and gp.peer_connection_of("pa1") is None
    await gp.send(Admit(participant_id="pa1"))
    await asyncio.wait_for(patient.admitted.wait(), 5)
    await eventually(lambda: media_flows_everywhere([gp, patient]), 30, "media both ways")


@pytest.mark.parametrize("trickling", ["t-gp", "t-pat"], ids=["offerer", "answerer"])
async def test_trickled_candidates_meet_candidates_in_sdp(
    port: int, session: aiohttp.ClientSession, peers: list[MeshPeer], trickling: str
) -> None:
    gp = await start_peer(peers, session, port, "t-gp", trickle=trickling == "t-gp")
    patient = await start_peer(peers, session, port, "t-pat", trickle=trickling == "t-pat")
    await gp.send(Admit(participant_id="pa1"))
    await eventually(lambda: media_flows_everywhere([gp, patient]), 30, "media both ways")
    # The side that did not trickle learnt the other's candidates only from candidate messages.
    listener = patient if trickling == "t-gp" else gp
    talker = gp if listener is patient else patient
    assert listener.trickled_candidates_added > 0
    assert talker.trickled_candidates_added == 0


async def test_four_peers_full_mesh(
    port: int, session: aiohttp.ClientSession, peers: list[MeshPeer]
) -> None:
    mesh = [await start_peer(peers, session, port, token) for token, *_ in PEOPLE]
    await mesh[0].send(AdmitAll())
    for peer in mesh:
        await asyncio.wait_for(peer.admitted.wait(), 5)
    await eventually(lambda: media_flows_everywhere(mesh), 45, "media in a mesh of four")
    for peer in mesh:
        others = {p.participant_id for p in mesh} - {peer.participant_id}
        assert {pid for pid in others if peer.peer_connection_of(pid) is not None} == others


async def test_cut_socket_reconnects_with_new_peer_connections_and_media_resumes(
    port: int,
    session: aiohttp.ClientSession,
    peers: list[MeshPeer],
    recorder: ListRecorder,
) -> None:
    cutter = TcpCutter(port)
    await cutter.start()
    try:
        gp = await start_peer(peers, session, port, "t-gp")
        patient = await start_peer(peers, session, cutter.port, "t-pat")
        await gp.send(Admit(participant_id="pa1"))
        await eventually(lambda: media_flows_everywhere([gp, patient]), 30, "first call")
        old_gp_side = gp.peer_connection_of("pa1")
        old_patient_side = patient.peer_connection_of("gp1")

        cutter.cut()
        loop = asyncio.get_running_loop()
        cut_at = loop.time()
        await eventually(lambda: patient.joins == 2, 10, "the patient to rejoin")
        await eventually(
            lambda: media_flows_everywhere([gp, patient]),
            10 - (loop.time() - cut_at),
            "media again within 10 s of the cut",
        )
        assert gp.peer_connection_of("pa1") is not old_gp_side
        assert patient.peer_connection_of("gp1") is not old_patient_side
        assert patient.is_admitted  # re-admitted without a clinician's help
        assert recorder.of("pa1") == ["join", "admit", "disconnect", "join", "admit"]
    finally:
        await cutter.close()


async def test_replaced_peer_does_not_reconnect(
    port: int, session: aiohttp.ClientSession, peers: list[MeshPeer]
) -> None:
    first = await start_peer(peers, session, port, "t-pat")
    second = await start_peer(peers, session, port, "t-pat")
    await asyncio.wait_for(first.finished.wait(), 5)
    assert first.final_close_code == 4001
    assert first.joins == 1 and second.joins == 1


async def test_peer_gives_up_when_the_token_is_refused(
    port: int, session: aiohttp.ClientSession, auth: FakeAuthenticator
) -> None:
    auth.expired.add("t-pat")
    peer = MeshPeer(
        session,
        url(port, "t-pat"),
        origin=ORIGIN,
        policy=ReconnectPolicy(initial=0.05, maximum=0.1, give_up_after=0.5),
    )
    peer.start()
    await asyncio.wait_for(peer.finished.wait(), 5)
    assert peer.joins == 0
    await peer.close()
