"""`make run`'s demo has a video call open for joining now, whatever the hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.demo import DEMO_CALL_ID, open_demo_call, seed_demo
from service.domain.clock import FakeClock
from service.http.app import create_app
from service.settings import Settings
from service.storage.models import Consultation
from tests.signalling_support import receive_type
from tests.video_support import ORIGIN


@pytest.mark.parametrize("hour", [3, 23])  # at night too: no working hours apply to it
async def test_the_demo_call_is_open_at_any_hour_and_its_links_let_people_in(
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    aiohttp_client: Any,
    hour: int,
) -> None:
    clock = FakeClock(datetime(2026, 1, 10, hour, 17, tzinfo=UTC))  # a Saturday
    await seed_demo(settings, clock=clock)
    first = await open_demo_call(settings, clock=clock)
    clock.advance(timedelta(days=3))  # `make run` again, days later
    call = await open_demo_call(settings, clock=clock)
    assert set(call.guest_links) == {"patient", "relative"}
    assert call.guest_links["patient"] != first.guest_links["patient"]  # fresh links
    async with db() as s:
        consultation = await s.get(Consultation, DEMO_CALL_ID)
        assert consultation is not None and consultation.status == "confirmed"
        assert consultation.starts_at == clock.now().replace(second=0)

    app: web.Application = create_app(settings, clock=clock)
    client = await aiohttp_client(app)
    token = call.guest_links["patient"].rsplit("/", 1)[1]
    page = await client.get(f"/bli-med/{token}")
    assert page.status == 200
    ws = await client.ws_connect(
        f"/ws/{consultation.room_id}?token={token}", headers={"Origin": ORIGIN}
    )
    await ws.send_json({"type": "join", "protocol": 1})
    joined = await receive_type(ws, "joined")
    assert joined["you"]["role"] == "patient"
    await ws.close()
    old_token = first.guest_links["patient"].rsplit("/", 1)[1]
    assert (await client.get(f"/bli-med/{old_token}")).status == 404
