"""Signalling benchmark: many WebSocket participants relaying offer/answer/candidate bursts.

Usage: python bench/signalling.py [--connections 2000] [--room-size 4] [--seconds 10]
       [--clients 2] [--rounds 3] [--interval 4] [--bare-relay]

Runs two servers (three with --bare-relay), each in its own process on 127.0.0.1, all up at once
with their own connections; their saturated phases are taken in turns, `--rounds` times, so a
change in the machine's other load falls on all of them alike:
- `hub`: the real `SignallingHub` (memory backplane, a fake authenticator: every participant is a
  clinician, so all are admitted on join; no recorder) with its per-socket rate limit raised, so
  the bench measures relaying rather than the limiter;
- `echo`: a bare aiohttp WebSocket server that sends every text frame straight back.
The echo and the bare relay (`--bare-relay`) open their sockets with the hub's settings
(heartbeat, largest frame, no compression), and every server gets `samkons serve`'s collector
tuning, so that only what the servers do with a message differs.

`--clients` client processes share the N connections (whole rooms each), so that the load
generator is not the bottleneck it would be as one process (it does about as much work per
message as a server). Against the hub, connections join rooms of `room-size`; each participant
sends a burst (offer, answer, 6 candidates) to the next peer in its room and waits until all 8
have arrived there, then sends the next burst. Against the echo server, each connection sends
the same burst and waits for its 8 echoes. Every message crosses the network twice either way
(client → server → client). Reported: messages delivered per second, median and p99 latency from
send to delivery, the server's memory per connection (RSS growth over N connections), the
server's CPU time per 1,000 messages and how busy the server and the clients were.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.http.runtime import tune_garbage_collector
from service.settings import Settings
from signalling.config import HubConfig
from signalling.hub import SignallingHub, add_routes
from signalling.identity import Identity

ORIGIN = "http://bench.invalid"
CANDIDATES_PER_BURST = 6
BURST = 2 + CANDIDATES_PER_BURST
SDP_BODY = "".join(
    f"a=rtpmap:{96 + i} VP8/90000\r\na=rtcp-fb:{96 + i} nack\r\na=rtcp-fb:{96 + i} goog-remb\r\n"
    for i in range(12)
)  # about 1.2 KB, the size of a small real offer


def machine() -> str:
    cpu = "unknown CPU"
    mem = "unknown RAM"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB RAM"
    return f"{os.cpu_count()} cores (nproc), {cpu}, {mem}, Python {platform.python_version()}"


def raise_open_files(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# --- servers (run in a child process) --------------------------------------------------------


class BenchAuthenticator:
    """`?p=<room>.<participant>`: everyone a clinician, so everyone is admitted on join."""

    async def authenticate(self, request: web.Request) -> Identity:
        room, _, participant = request.query.get("p", "").partition(".")
        if not room or not participant:
            raise web.HTTPUnauthorized(text="bad participant")
        return Identity(
            room_id=room,
            participant_id=participant,
            display_name=f"Bench {participant}",
            role="gp",
            is_clinician=True,
        )


def bare_socket() -> web.WebSocketResponse:
    """A socket as the hub opens one (signalling/hub.py `SignallingHub.handle`)."""
    config = HubConfig(allowed_origins=frozenset())
    return web.WebSocketResponse(
        heartbeat=config.websocket_heartbeat.total_seconds(),
        max_msg_size=config.hard_max_frame_bytes,
        compress=False,
    )


async def echo_handler(request: web.Request) -> web.WebSocketResponse:
    ws = bare_socket()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
    return ws


def bare_relay_app() -> web.Application:
    """What forwarding costs with nothing else: each frame goes to the socket named in its `to`,
    written by the sender's own handler (no checks, no queue: one slow reader would hold up its
    senders, which the hub must not allow)."""
    sockets: dict[str, web.WebSocketResponse] = {}

    async def handler(request: web.Request) -> web.WebSocketResponse:
        me = request.query.get("p", "").partition(".")[2]
        ws = bare_socket()
        await ws.prepare(request)
        sockets[me] = ws
        stamp = f'"from":"{me}"'
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                text: str = message.data
                start = text.find(TO_FIELD)
                if start < 0:
                    await ws.send_str('{"type":"joined"}')
                    continue
                end = text.index('"', start + len(TO_FIELD))
                peer = sockets.get(text[start + len(TO_FIELD) : end])
                if peer is not None:
                    with contextlib.suppress(ConnectionError):  # the peer is leaving
                        await peer.send_str(text[:start] + stamp + text[end + 1 :])
        finally:
            sockets.pop(me, None)
        return ws

    app = web.Application()
    app.router.add_get("/ws/{room}", handler)
    return app


def serve(kind: str, port: int) -> None:
    raise_open_files(65536)
    app = web.Application()
    if kind == "hub":
        hub = SignallingHub(
            HubConfig(
                allowed_origins=frozenset({ORIGIN}),
                rate_burst=10_000.0,
                rate_per_second=10_000.0,
                # Every bench client connects from 127.0.0.1, thousands of sockets at once.
                max_sockets_per_address=1_000_000,
            ),
            BenchAuthenticator(),
        )
        add_routes(app, hub)
    elif kind == "relay":
        app = bare_relay_app()
    else:
        app.router.add_get("/ws/{room}", echo_handler)
    # Every server here runs as `samkons serve` would, with the same collector tuning.
    tune_garbage_collector(Settings().gc_young_threshold)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


# --- measuring a server process ----------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads: from the scheduler's nanosecond count where the
    kernel keeps one, else from utime + stime, which count in clock ticks (10 ms), too coarse
    for a short phase of a small run."""
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        nanoseconds = sum(int((task / "schedstat").read_text().split()[0]) for task in tasks)
        return nanoseconds / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- clients -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Participant:
    room: int
    index: int
    ws: aiohttp.ClientWebSocketResponse | None = None
    outstanding: int = 0
    delivered: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> str:
        return f"r{self.room}p{self.index}"


@dataclass
class Tally:
    """Deliveries of one phase: messages sent before `started` belong to an earlier one."""

    started: float
    measuring: bool = False
    delivered: int = 0
    latencies: list[float] = field(default_factory=list)


STAMP = "@STAMP@"
TO_FIELD = '"to": "'  # as json.dumps writes it in the burst templates


def burst_template(to: str | None) -> list[str]:
    """One burst: an offer, an answer and candidates; each carries its send time as ~<t>~."""
    sdp = f"v=0\r\no=- ~{STAMP}~ 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n{SDP_BODY}"
    addressed: dict[str, Any] = {} if to is None else {"to": to}
    messages: list[dict[str, Any]] = [
        {"type": "offer", **addressed, "sdp": sdp},
        {"type": "answer", **addressed, "sdp": sdp},
    ]
    for n in range(CANDIDATES_PER_BURST):
        text = f"candidate:~{STAMP}~ 1 udp {2122260223 - n} 192.0.2.2 {50000 + n} typ host"
        messages.append(
            {
                "type": "candidate",
                **addressed,
                "candidate": {"candidate": text, "sdpMid": "0", "sdpMLineIndex": 0},
            }
        )
    return [json.dumps(m) for m in messages]


def sent_at(frame: str) -> float:
    # Cheaper than parsing the JSON: the client must stay lighter than the servers it measures.
    return float(frame.split("~", 2)[1])


def sender_of(frame: str) -> str:
    start = frame.index('"from":"') + 8
    return frame[start : frame.index('"', start)]


async def connect_all(
    session: aiohttp.ClientSession, url: str, participants: list[Participant], join: bool
) -> None:
    gate = asyncio.Semaphore(100)

    async def one(p: Participant) -> None:
        async with gate:
            p.ws = await session.ws_connect(
                f"{url}/ws/room{p.room}?p=room{p.room}.{p.id}",
                headers={"Origin": ORIGIN},
                autoping=True,
                heartbeat=None,
                max_msg_size=0,
            )
            if join:
                await p.ws.send_str('{"type":"join","protocol":1}')
                while True:
                    message = await p.ws.receive()
                    if message.type == WSMsgType.TEXT and '"joined"' in message.data[:20]:
                        break

    await asyncio.gather(*(one(p) for p in participants))


async def receive_loop(
    p: Participant, by_id: dict[str, Participant], phase: list[Tally | None], relayed: bool
) -> None:
    """Reads the socket for the client's whole life, between phases too: the hub's heartbeat
    closes a socket whose pings go unanswered, and aiohttp answers them only while reading."""
    assert p.ws is not None
    async for frame in p.ws:
        if frame.type != WSMsgType.TEXT:
            continue
        text: str = frame.data
        if "~" not in text:
            continue  # rosters, pongs
        now = time.perf_counter()
        tally = phase[0]
        sent = sent_at(text)
        if tally is None or sent < tally.started:
            continue  # a late arrival from an earlier phase
        if tally.measuring:
            tally.delivered += 1
            tally.latencies.append(now - sent)
        sender = by_id[sender_of(text)] if relayed else p
        sender.outstanding -= 1
        if sender.outstanding == 0:
            sender.delivered.set()


async def send_bursts(
    p: Participant, template: list[str], stop: asyncio.Event, interval: float | None
) -> None:
    """Closed loop (`interval` None): the next burst once the last one arrived. Open loop: one
    burst every `interval` seconds, starting at a random moment."""
    assert p.ws is not None
    if interval is not None:
        await asyncio.sleep(random.random() * interval)
    while not stop.is_set():
        started = time.perf_counter()
        p.delivered.clear()
        p.outstanding += BURST
        stamp = f"{started:.9f}"
        for frame in template:
            await p.ws.send_str(frame.replace(STAMP, stamp))
        if interval is None:
            await p.delivered.wait()
        else:
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))


@dataclass
class Phase:
    messages_per_second: float
    median_ms: float
    p99_ms: float
    server_cpu_ms_per_1000: float
    server_cpu_share: float
    # Of the client processes together, in cores: 1.0 is one core fully busy.
    client_cpu_cores: float


@dataclass
class Result:
    kind: str
    connections: int
    clients: int
    memory_per_connection_kib: float
    saturated: list[Phase]  # one per round
    paced: Phase


async def run_phase(
    participants: list[Participant],
    templates: dict[str, list[str]],
    phase: list[Tally | None],
    warmup: float,
    seconds: float,
    interval: float | None,
) -> dict[str, Any]:
    """One phase in one client process: what it delivered in the measured window, and at what
    latency and CPU cost to itself."""
    for p in participants:
        p.outstanding = 0
        p.delivered.clear()
    tally = phase[0] = Tally(started=time.perf_counter())
    stop = asyncio.Event()
    senders = [
        asyncio.create_task(send_bursts(p, templates[p.id], stop, interval)) for p in participants
    ]
    await asyncio.sleep(warmup)
    cpu_before = time.process_time()
    tally.measuring = True
    await asyncio.sleep(seconds)
    tally.measuring = False
    cpu_used = time.process_time() - cpu_before
    stop.set()
    for p in participants:
        p.delivered.set()
    await asyncio.gather(*senders, return_exceptions=True)
    phase[0] = None
    return {"delivered": tally.delivered, "latencies": tally.latencies, "cpu": cpu_used}


def make_participants(rooms: range, room_size: int) -> list[Participant]:
    return [Participant(room=r, index=i) for r in rooms for i in range(room_size)]


def make_templates(
    participants: list[Participant], room_size: int, relayed: bool
) -> dict[str, list[str]]:
    by_room: dict[int, list[Participant]] = {}
    for p in participants:
        by_room.setdefault(p.room, []).append(p)
    templates: dict[str, list[str]] = {}
    for p in participants:
        target = by_room[p.room][(p.index + 1) % room_size].id if relayed else None
        templates[p.id] = burst_template(target)
    return templates


async def client_process(kind: str, port: int, first_room: int, rooms: int, room_size: int) -> None:
    """A load generator: connects its rooms, then runs each phase the parent asks for on stdin
    (`<warmup> <seconds> <interval or ->`) and answers with one JSON line."""
    raise_open_files(65536)
    relayed = kind != "echo"
    participants = make_participants(range(first_room, first_room + rooms), room_size)
    templates = make_templates(participants, room_size, relayed)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await connect_all(session, f"http://127.0.0.1:{port}", participants, join=relayed)
        by_id = {p.id: p for p in participants}
        phase: list[Tally | None] = [None]
        readers = [
            asyncio.create_task(receive_loop(p, by_id, phase, relayed)) for p in participants
        ]
        print("connected", flush=True)
        while line := (await reader.readline()).decode().split():
            warmup, seconds, interval = float(line[0]), float(line[1]), line[2]
            pace = None if interval == "-" else float(interval)
            result = await run_phase(participants, templates, phase, warmup, seconds, pace)
            print(json.dumps(result), flush=True)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(
            *(p.ws.close() for p in participants if p.ws is not None), return_exceptions=True
        )


async def start_clients(
    kind: str, port: int, rooms: int, room_size: int, clients: int
) -> list[asyncio.subprocess.Process]:
    processes = []
    first = 0
    for n in range(clients):
        share = rooms // clients + (1 if n < rooms % clients else 0)
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "client",
                kind,
                str(port),
                str(first),
                str(share),
                str(room_size),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                limit=1 << 28,  # a phase's latencies come back as one JSON line
            )
        )
        first += share
    for process in processes:
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"connected"
    return processes


async def phase_over(
    server_pid: int,
    clients: list[asyncio.subprocess.Process],
    seconds: float,
    interval: float | None,
) -> Phase:
    """Run one phase in every client at once; the server's CPU is read over the same window."""
    warmup = 2.0 if interval is None else interval
    command = f"{warmup} {seconds} {'-' if interval is None else interval}\n".encode()
    for process in clients:
        assert process.stdin is not None
        process.stdin.write(command)
        await process.stdin.drain()
    await asyncio.sleep(warmup)
    cpu_before = cpu_seconds(server_pid)
    await asyncio.sleep(seconds)
    server_cpu = cpu_seconds(server_pid) - cpu_before
    results = []
    for process in clients:
        assert process.stdout is not None
        results.append(json.loads(await process.stdout.readline()))
    delivered = sum(r["delivered"] for r in results)
    latencies = sorted(x for r in results for x in r["latencies"]) or [float("nan")]
    return Phase(
        messages_per_second=delivered / seconds,
        median_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
        server_cpu_ms_per_1000=server_cpu * 1_000_000 / max(delivered, 1),
        server_cpu_share=server_cpu / seconds,
        client_cpu_cores=sum(r["cpu"] for r in results) / seconds,
    )


@dataclass
class Rig:
    """One server process with its client processes connected and joined."""

    kind: str
    server: asyncio.subprocess.Process
    clients: list[asyncio.subprocess.Process]
    memory_per_connection_kib: float


async def start_rig(kind: str, connections: int, room_size: int, clients: int) -> Rig:
    port = free_port()
    profile = os.environ.get("BENCH_PROFILE")
    wrapper = ["-m", "cProfile", "-o", f"{profile}.{kind}"] if profile else []
    server = await asyncio.create_subprocess_exec(
        sys.executable, *wrapper, __file__, "serve", kind, str(port), stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        assert (await server.stdout.readline()).strip() == b"ready"
        await wait_listening(port)
        baseline = rss_bytes(server.pid)
        processes = await start_clients(kind, port, connections // room_size, room_size, clients)
        await asyncio.sleep(1.0)  # rosters settle
        memory = (rss_bytes(server.pid) - baseline) / connections
    except BaseException:
        server.kill()
        raise
    return Rig(kind, server, processes, memory / 1024)


async def stop_rig(rig: Rig) -> None:
    for process in rig.clients:
        if process.stdin is not None:
            process.stdin.close()
    for process in rig.clients:
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
    rig.server.terminate()
    await asyncio.wait_for(rig.server.wait(), 10)


async def measure(
    kind: str,
    connections: int,
    room_size: int,
    seconds: float,
    interval: float,
    clients: int,
    rounds: int = 1,
) -> Result:
    """Both phases against one server."""
    rig = await start_rig(kind, connections, room_size, clients)
    try:
        saturated = [
            await phase_over(rig.server.pid, rig.clients, seconds, None) for _ in range(rounds)
        ]
        paced = await phase_over(rig.server.pid, rig.clients, seconds, interval)
    finally:
        await stop_rig(rig)
    return Result(kind, connections, clients, rig.memory_per_connection_kib, saturated, paced)


async def compare(kinds: list[str], args: argparse.Namespace) -> list[Result]:
    """All servers up at once, their saturated phases taken in turns (hub, echo, hub, echo, ...),
    so that a change in the machine's other load during the run falls on all of them alike."""
    rigs: list[Rig] = []
    try:
        for kind in kinds:
            rigs.append(await start_rig(kind, args.connections, args.room_size, args.clients))
        saturated: dict[str, list[Phase]] = {kind: [] for kind in kinds}
        for _ in range(args.rounds):
            for rig in rigs:
                phase = await phase_over(rig.server.pid, rig.clients, args.seconds, None)
                saturated[rig.kind].append(phase)
        paced = {
            rig.kind: await phase_over(rig.server.pid, rig.clients, args.seconds, args.interval)
            for rig in rigs
        }
    finally:
        for rig in rigs:
            await stop_rig(rig)
    return [
        Result(
            rig.kind,
            args.connections,
            args.clients,
            rig.memory_per_connection_kib,
            saturated[rig.kind],
            paced[rig.kind],
        )
        for rig in rigs
    ]


async def wait_listening(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError("server did not start")


SERVER_NAMES = {"hub": "signalling hub", "echo": "bare aiohttp echo", "relay": "bare relay"}


def ratio(a: Phase, b: Phase) -> str:
    return f"{a.messages_per_second / b.messages_per_second:.0%}"


def report(results: list[Result], args: argparse.Namespace) -> str:
    by_kind = {r.kind: r for r in results}
    hub, echo = by_kind["hub"], by_kind["echo"]
    offered = hub.connections * BURST / args.interval
    rounds = len(hub.saturated)
    lines = [
        f"Machine: {machine()}",
        f"{hub.connections} connections per server, rooms of {args.room_size}, bursts of {BURST} "
        f"messages (offer, answer, {CANDIDATES_PER_BURST} candidates), {args.seconds:.0f} s per "
        f"phase, load from {hub.clients} client processes per server; the saturated phases of "
        f"the servers taken in turns, {rounds} rounds.",
        "",
        "| server | phase | messages/s | median latency | p99 latency "
        "| server CPU per 1,000 msgs | server CPU busy | clients' CPU (cores) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        name = SERVER_NAMES[r.kind]
        phases = [(f"saturated, round {n}", phase) for n, phase in enumerate(r.saturated, 1)]
        phases.append((f"paced, {offered:,.0f} msgs/s offered", r.paced))
        for label, phase in phases:
            lines.append(
                f"| {name} | {label} | {phase.messages_per_second:,.0f} "
                f"| {phase.median_ms:.1f} ms | {phase.p99_ms:.1f} ms "
                f"| {phase.server_cpu_ms_per_1000:.0f} ms | {phase.server_cpu_share:.0%} "
                f"| {phase.client_cpu_cores:.2f} |"
            )
    pairs = list(zip(hub.saturated, echo.saturated, strict=True))
    lines += [
        "",
        "Server memory per connection (RSS growth over all connections): "
        + ", ".join(
            f"{SERVER_NAMES[r.kind]} {r.memory_per_connection_kib:.1f} KiB" for r in results
        )
        + ".",
        "",
        "Hub throughput (saturated) against the bare echo, round by round: "
        + ", ".join(ratio(h, e) for h, e in pairs)
        + " (target: at least 50%). Server CPU per message, round by round: hub "
        + ", ".join(f"{h.server_cpu_ms_per_1000:.0f}" for h, _ in pairs)
        + " µs; echo "
        + ", ".join(f"{e.server_cpu_ms_per_1000:.0f}" for _, e in pairs)
        + f" µs. Hub p99 at the paced load {hub.paced.p99_ms:.1f} ms (target: under 50 ms).",
    ]
    if "relay" in by_kind:
        relay = by_kind["relay"]
        lines.append(
            "Against the bare relay: hub throughput "
            + ", ".join(ratio(h, r) for h, r in zip(hub.saturated, relay.saturated, strict=True))
            + "; its server CPU per message "
            + ", ".join(f"{r.server_cpu_ms_per_1000:.0f}" for r in relay.saturated)
            + f" µs saturated, {relay.paced.server_cpu_ms_per_1000:.0f} µs paced (hub: "
            f"{hub.paced.server_cpu_ms_per_1000:.0f} µs paced)."
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    raise_open_files(65536)
    kinds = ["hub", "echo", *(["relay"] if args.bare_relay else [])]
    print(report(await compare(kinds, args), args))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) == 7 and sys.argv[1] == "client":
        kind, port, first, rooms, size = sys.argv[2], *map(int, sys.argv[3:])
        asyncio.run(client_process(kind, port, first, rooms, size))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--room-size", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--clients", type=int, default=2, help="load generator processes per server"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="saturated phases per server, taken in turns"
    )
    parser.add_argument(
        "--bare-relay",
        action="store_true",
        help="also measure a bare forwarding server (what relaying costs with nothing else)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=4.0,
        help="seconds between one participant's bursts in the paced phase",
    )
    args = parser.parse_args()
    if args.connections % args.room_size:
        parser.error("connections must be a multiple of the room size")
    if args.clients < 1 or args.clients > args.connections // args.room_size:
        parser.error("each client process needs at least one room")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
