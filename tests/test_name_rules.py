"""One rule for names and free text, at the edge: a name with a line break, tab, form feed, DEL,
zero-width space or right-to-left override is refused at booking (422 naming the field), in the
API and on the booking page alike; free text may have line breaks but no control or invisible
characters. A consultation whose names were stored before the rule can still be confirmed,
moved and cancelled, and its mails carry the names made printable. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.domain.schemas import is_printable_name, is_printable_text, printable_name
from service.settings import Settings
from service.storage.models import Consultation, Participant, User
from tests.factories import Client, booking_body, build_world, login
from tests.mail_support import SmtpSink, act, book, deliver
from tests.test_pages import booking_form, page_login, text_of

Db = async_sessionmaker[AsyncSession]
SLOT = "2026-01-07T10:00:00+01:00"

BAD_NAMES = {
    "crlf": "Ola\r\nBcc: x@y.example",
    "lf": "Ola\nNordmann",
    "tab": "Ola\tNordmann",
    "form feed": "Ola\fNordmann",
    "del": "Ola\x7fNordmann",
    "zero-width space": "Ola\u200bNordmann",
    "rtl override": "Ola\u202eNordmann",
}


async def consultations(db: Db) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(Consultation)) or 0)


def test_the_rules() -> None:
    for name in BAD_NAMES.values():
        assert not is_printable_name(name)
        assert is_printable_name(printable_name(name))
    assert printable_name("Ola\r\nNordmann") == "Ola Nordmann"
    assert printable_name("\u200b") == "-"
    assert is_printable_name("Åse Ødegård-Ündal")
    assert is_printable_text("Linje ein\r\nlinje to\tmed tabulator")
    assert not is_printable_text("bell\x07")
    assert not is_printable_text("skjult\u202etekst")


@pytest.mark.parametrize("bad", BAD_NAMES.values(), ids=BAD_NAMES.keys())
async def test_a_bad_name_is_refused_at_booking(client: Client, db: Db, bad: str) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    cases: dict[str, dict[str, Any]] = {
        "patient.name": {
            "patient_id": None,
            "patient": {"name": bad, "email": "ny@test.no", "postal_code": "5003"},
        },
        "relatives.0.name": {"relatives": [{"name": bad, "email": "rel@test.no"}]},
        "interpreter.name": {"interpreter": {"name": bad}},
        "municipal_staff.0.name": {"municipal_staff": [{"name": bad}]},
    }
    for field, overrides in cases.items():
        body = booking_body(world, SLOT, **overrides)
        resp = await client.post("/api/v1/consultations", json=body, headers=gp)
        assert resp.status == 422, (field, await resp.text())
        problem = await resp.json()
        assert problem["field"] == field
        assert "printable" in problem["detail"]
    assert await consultations(db) == 0


async def test_the_booking_page_refuses_a_bad_name_at_its_field(client: Client, db: Db) -> None:
    world = await build_world(db)
    csrf = await page_login(client, "gp")
    form = booking_form(world, csrf, **{"relatives.0.name": "Ola\u202eNordmann"})
    resp = await client.post("/bestill", data=form)
    assert resp.status == 422
    assert "Feil: Sjå over dette feltet." in text_of(await resp.text())
    assert await consultations(db) == 0
    form["relatives.0.name"] = "Ola Nordmann"
    form["confirm_no_invite"] = "yes"  # the relative has no address: the GP was told
    resp = await client.post("/bestill", data=form, allow_redirects=False)
    assert resp.status == 303, text_of(await resp.text())
    assert await consultations(db) == 1


@pytest.mark.parametrize(
    ("field", "text", "status"),
    [
        ("purpose", "Første linje\nandre linje\tmed tabulator", 201),
        ("purpose", "Oppfølging\x07", 422),
        ("purpose", "Oppfølging\u202e", 422),
    ],
)
async def test_free_text_may_break_lines_but_not_hide_characters(
    client: Client, db: Db, field: str, text: str, status: int
) -> None:
    world = await build_world(db)
    gp = await login(client, "gp")
    body = booking_body(world, SLOT, **{field: text})
    resp = await client.post("/api/v1/consultations", json=body, headers=gp)
    assert resp.status == status, await resp.text()
    if status == 422:
        assert (await resp.json())["field"] == field


async def test_a_cancel_reason_with_control_characters_is_refused(client: Client, db: Db) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    gp = await login(client, "gp")
    resp = await client.post(
        f"/api/v1/consultations/{cid}/cancel", json={"reason": "nei\x1b[31m"}, headers=gp
    )
    assert resp.status == 422
    assert (await resp.json())["field"] == "reason"


async def test_names_stored_before_the_rule_never_block_a_consultation(
    client: Client, db: Db, settings: Settings, clock: FakeClock, smtp: SmtpSink
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    # As an older version let them in: every person's name with characters the rule refuses.
    async with db() as s, s.begin():
        await s.execute(
            update(Participant)
            .where(Participant.consultation_id == cid)
            .values(name=Participant.name + "\u202e\r\n\x7f")
        )
        await s.execute(update(User).values(name=User.name + "\t\u200b"))

    confirmed = await act(client, "specialist", cid, "accept")
    assert confirmed["status"] == "confirmed"
    report = await deliver(db, clock, settings, smtp)
    assert report.sent == 5 and report.failed == 0
    (patient_mail,) = smtp.to("p1@test.no")
    assert patient_mail["To"].addresses[0].display_name == "Pasient Ein"

    moved = await act(client, "gp", cid, "reschedule", {"starts_at": "2026-01-08T11:00:00+01:00"})
    assert moved["status"] in ("requested", "confirmed")
    if moved["status"] == "requested":
        await act(client, "specialist", cid, "accept")
    cancelled = await act(client, "gp", cid, "cancel")
    assert cancelled["status"] == "cancelled"
    report = await deliver(db, clock, settings, smtp)
    assert report.failed == 0
