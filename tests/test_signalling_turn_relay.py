"""Calls through a real coturn relay with credentials minted by the hub.

Debian's `turnserver` (coturn) runs on loopback in shared-secret mode. Two aiortc peers that may
only use relay candidates (`iceTransportPolicy="relay"`) reach each other only through it, so
media flowing proves the minted credentials are accepted; with expired ones no allocation is
granted and nothing flows.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from service.domain.clock import FakeClock, SystemClock
from signalling.codec import Admit
from signalling.peer import MeshPeer, ReconnectPolicy
from signalling.turn import mint_turn_credentials
from tests.signalling_support import (
    ORIGIN,
    ROOM,
    FakeAuthenticator,
    make_app,
    use_loopback_if_alone,
)

SECRET = "test-turn-secret-" + "x" * 16


@pytest.fixture(autouse=True)
def ice_host_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_if_alone(monkeypatch)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class TurnRelay:
    url: str
    log: list[str] = field(default_factory=list)

    def refused(self, username: str) -> bool:
        return any(f"Cannot find credentials of user <{username}>" in line for line in self.log)


async def collect_lines(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode(errors="replace"))


@pytest.fixture
async def turn(tmp_path: Path) -> AsyncIterator[TurnRelay]:
    binary = shutil.which("turnserver")
    assert binary is not None, "Debian's coturn (turnserver) is expected on this machine"
    port = free_udp_port()
    low = random.randrange(40000, 59000, 200)
    process = await asyncio.create_subprocess_exec(
        binary,
        "-n",
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        f"--min-port={low}",
        f"--max-port={low + 199}",
        "--use-auth-secret",
        f"--static-auth-secret={SECRET}",
        "--realm=samkons.test",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",  # both peers live on 127.0.0.1 in this test only
        "--fingerprint",
        f"--pidfile={tmp_path / 'turnserver.pid'}",
        f"--userdb={tmp_path / 'turndb'}",
        "--log-file=stdout",
        "--simple-log",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    log: list[str] = []
    async with asyncio.timeout(10):
        while "Total General servers" not in (line := (await process.stdout.readline()).decode()):
            assert line, "turnserver exited:\n" + "".join(log)
            log.append(line)
    relay = TurnRelay(url=f"turn:127.0.0.1:{port}?transport=udp", log=log)
    reader = asyncio.create_task(collect_lines(process.stdout, log))
    try:
        yield relay
    finally:
        process.terminate()
        await process.wait()
        await reader


async def start_call(
    aiohttp_server: Any, turn_url: str, clock: SystemClock | FakeClock
) -> tuple[list[MeshPeer], aiohttp.ClientSession]:
    auth = FakeAuthenticator()
    auth.add("t-gp", "gp1", role="gp", clinician=True)
    auth.add("t-pat", "pa1")
    app, _ = make_app(
        auth,
        clock=clock,
        turn_secret=SECRET,
        turn_urls=(turn_url,),
        turn_ttl=timedelta(hours=1),
    )
    server: TestServer = await aiohttp_server(app, host="127.0.0.1")
    session = aiohttp.ClientSession()
    peers = [
        MeshPeer(
            session,
            str(server.make_url(f"/ws/{ROOM}?token={token}")),
            origin=ORIGIN,
            policy=ReconnectPolicy(initial=0.2, maximum=1.0),
            relay_only=True,
        )
        for token in ("t-gp", "t-pat")
    ]
    for peer in peers:
        peer.start()
        await asyncio.wait_for(peer.joined.wait(), 5)
    await peers[0].send(Admit(participant_id="pa1"))
    return peers, session


async def stop_call(peers: list[MeshPeer], session: aiohttp.ClientSession) -> None:
    for peer in peers:
        await peer.close()
    await session.close()


def relay_only_sdp(peer: MeshPeer, other: str) -> str:
    pc = peer.peer_connection_of(other)
    assert pc is not None and pc.localDescription is not None
    sdp: str = pc.localDescription.sdp
    return sdp


async def test_media_flows_through_coturn_with_minted_credentials(
    aiohttp_server: Any, turn: TurnRelay
) -> None:
    peers, session = await start_call(aiohttp_server, turn.url, SystemClock())
    gp, patient = peers
    try:
        async with asyncio.timeout(30):
            while not all(
                p.frames_from(o).video >= 5 and p.frames_from(o).audio >= 10
                for p, o in ((gp, "pa1"), (patient, "gp1"))
            ):
                await asyncio.sleep(0.1)
        sdp = relay_only_sdp(gp, "pa1")
        assert "typ relay" in sdp and "typ host" not in sdp
        username = gp.ice_servers[0].username
        assert username is not None and username.endswith(":gp1")
        assert not turn.refused(username)
    finally:
        await stop_call(peers, session)


async def test_expired_credentials_are_refused_and_get_no_relay(
    aiohttp_server: Any, turn: TurnRelay
) -> None:
    # The hub's clock is three hours behind, so the one-hour credentials it mints have expired.
    clock = FakeClock()
    clock.set(SystemClock().now() - timedelta(hours=3))
    peers, session = await start_call(aiohttp_server, turn.url, clock)
    gp, patient = peers
    try:
        async with asyncio.timeout(10):
            while gp.peer_connection_of("pa1") is None or patient.peer_connection_of("gp1") is None:
                await asyncio.sleep(0.05)
        assert "typ relay" not in relay_only_sdp(gp, "pa1")
        username = gp.ice_servers[0].username
        assert username is not None
        async with asyncio.timeout(10):
            while not turn.refused(username):
                await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        assert gp.frames_from("pa1").video == 0 and patient.frames_from("gp1").video == 0
    finally:
        await stop_call(peers, session)


def test_expired_username_is_what_coturn_sees() -> None:
    now = SystemClock().now() - timedelta(hours=3)
    credentials = mint_turn_credentials(SECRET, "gp1", now, timedelta(hours=1))
    expiry = int(credentials.username.split(":")[0])
    assert expiry < int(SystemClock().now().timestamp())
