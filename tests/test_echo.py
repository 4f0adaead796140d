"""The pre-call check's echo peer through the real app: own media comes back; sessions capped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

from service.http import appkeys
from service.http.app import create_app
from service.settings import Settings
from signalling.peer import FrameCounts, SyntheticVideoTrack, rtc_configuration
from tests.signalling_support import eventually, use_loopback_if_alone


@pytest.fixture(autouse=True)
def ice_host_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_if_alone(monkeypatch)


@pytest.fixture
async def server(aiohttp_server: Any, tmp_path: Path) -> TestServer:
    settings = Settings(
        mode="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}",
        max_echo_sessions=1,
    )
    result: TestServer = await aiohttp_server(create_app(settings), host="127.0.0.1")
    return result


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _count(track: MediaStreamTrack, counts: FrameCounts) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
            if track.kind == "audio":
                counts.audio += 1
            else:
                counts.video += 1


async def _offering_peer() -> tuple[RTCPeerConnection, FrameCounts, list[asyncio.Task[None]]]:
    pc = RTCPeerConnection(rtc_configuration([]))
    counts = FrameCounts()
    readers: list[asyncio.Task[None]] = []

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        readers.append(asyncio.create_task(_count(track, counts)))

    pc.addTrack(AudioStreamTrack())
    pc.addTrack(SyntheticVideoTrack())
    await pc.setLocalDescription(await pc.createOffer())
    return pc, counts, readers


def _url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))


async def test_own_audio_and_video_come_back_from_the_echo_peer(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    pc, counts, readers = await _offering_peer()
    try:
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        async with http.post(_url(server, "/api/v1/echo"), json=offer) as resp:
            assert resp.status == 201, await resp.text()
            answer = await resp.json()
        assert answer["type"] == "answer"
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        await eventually(lambda: counts.video >= 10 and counts.audio >= 20, timeout=20)
        assert pc.connectionState == "connected"
        async with http.delete(_url(server, f"/api/v1/echo/{answer['id']}")) as resp:
            assert resp.status == 204
        assert server.app[appkeys.ECHO].active == 0
    finally:
        for reader in readers:
            reader.cancel()
        await pc.close()


async def test_echo_sessions_are_capped_and_a_freed_slot_can_be_used_again(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    first, _, _ = await _offering_peer()
    second, _, _ = await _offering_peer()
    try:
        url = _url(server, "/api/v1/echo")
        async with http.post(url, json={"type": "offer", "sdp": first.localDescription.sdp}) as r:
            assert r.status == 201
            taken = await r.json()
        offer = {"type": "offer", "sdp": second.localDescription.sdp}
        async with http.post(url, json=offer) as resp:
            assert resp.status == 503
            assert resp.content_type == "application/problem+json"
            assert (await resp.json())["type"].endswith("/echo-busy")
        async with http.delete(_url(server, f"/api/v1/echo/{taken['id']}")) as resp:
            assert resp.status == 204
        async with http.post(url, json=offer) as resp:
            assert resp.status == 201
            await http.delete(_url(server, f"/api/v1/echo/{(await resp.json())['id']}"))
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"type": "offer", "sdp": "this is not sdp"}, 422),
        ({"type": "answer", "sdp": "v=0"}, 422),
        ({"type": "offer", "sdp": "v=0", "extra": 1}, 422),
    ],
)
async def test_bad_offers_are_refused_and_hold_no_session(
    server: TestServer, http: aiohttp.ClientSession, body: dict[str, Any], status: int
) -> None:
    async with http.post(_url(server, "/api/v1/echo"), json=body) as resp:
        assert resp.status == status
        assert resp.content_type == "application/problem+json"
    assert server.app[appkeys.ECHO].active == 0


async def test_ending_an_unknown_session_is_404(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    async with http.delete(_url(server, "/api/v1/echo/nope")) as resp:
        assert resp.status == 404
