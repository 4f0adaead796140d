"""The web pages driven like a browser without JavaScript, on SQLite and PostgreSQL: login with
CSRF, booking through the form, who may open which page, the actions on a consultation, and
readable errors in the reader's language."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.travel.keys import decode_travel_key
from service.storage.models import Consultation, Participant, Patient, User
from tests.factories import (
    EMAILS,
    PASSWORD,
    Client,
    World,
    booking_body,
    build_world,
    login,
)

CONSULTATION_URL = re.compile(r"^/samkonsultasjonar/([0-9a-f]{32})$")

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML_LANG = re.compile(r'<html lang="([a-z]{2})">')

# Wednesday 7 January 2026, 10:00 in Oslo; the test clock stands at Monday 5 January 09:00.
SLOT = "2026-01-07T10:00:00+01:00"


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def html_lang(html: str) -> str:
    match = HTML_LANG.search(html)
    assert match, "the page has no <html lang>"
    return match.group(1)


def text_of(html: str) -> str:
    """The page's text with tags removed and whitespace collapsed, for checking what it says."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def page_login(client: Client, who: str) -> str:
    """Log in through the login form; returns the new session's CSRF token."""
    form = await client.get("/logg-inn")
    token = csrf_of(await form.text())
    resp = await client.post(
        "/logg-inn",
        data={"csrf_token": token, "email": EMAILS[who], "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    start = await client.get("/")
    assert start.status == 200
    return csrf_of(await start.text())


async def page_logout(client: Client, csrf: str) -> None:
    resp = await client.post("/logg-ut", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 303


def booking_form(world: World, csrf: str, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf,
        "intent": "book",
        "kind": "joint",
        "department_id": str(world.geriatrics),
        "specialist_id": str(world.specialist),
        "duration_minutes": "30",
        "patient_mode": "existing",
        "patient_id": str(world.patient),
        "patient.name": "",
        "patient.postal_code": "",
        "patient.language": "nn",
        "patient_location": "home",
        "patient_group": "frail_elderly",
        "purpose": "Oppfølging etter innlegging",
        "relatives.0.name": "",
        "relatives.0.email": "",
        "relatives.1.name": "",
        "interpreter.name": "",
        "interpreter.language": "nn",
        "municipal_staff.0.name": "",
        "starts_at": SLOT,
    }
    data.update(overrides)
    return data


async def count(db: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def book_via_api(client: Client, world: World, **overrides: object) -> str:
    headers = await login(client, "gp")
    resp = await client.post(
        "/api/v1/consultations", json=booking_body(world, SLOT, **overrides), headers=headers
    )
    assert resp.status == 201, await resp.text()
    await client.delete("/api/v1/session", headers=headers)
    return str((await resp.json())["id"])


# --- logging in and out ----------------------------------------------------------------------


async def test_login_form_with_csrf_leads_to_the_start_page_of_the_role(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/logg-inn"
    form = await client.get("/logg-inn")
    assert form.status == 200
    html = await form.text()
    assert 'type="hidden" name="csrf_token"' in html
    assert '<label for="f-email">E-post</label>' in html
    resp = await client.post(
        "/logg-inn",
        data={"csrf_token": csrf_of(html), "email": "gp@test.no", "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    home = await client.get("/", allow_redirects=False)
    assert home.headers["Location"] == "/samkonsultasjonar"

    csrf = csrf_of(await (await client.get("/samkonsultasjonar")).text())
    await page_logout(client, csrf)
    assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/logg-inn"

    await page_login(client, "evaluator")
    assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/statistikk"
    stats = await client.get("/statistikk")
    assert stats.status == 200
    assert 'action="/logg-ut"' in await stats.text()


async def test_login_without_csrf_token_is_refused_with_a_readable_page(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    await client.get("/logg-inn")  # a session with a token exists, but the form omits it
    resp = await client.post("/logg-inn", data={"email": "gp@test.no", "password": PASSWORD})
    assert resp.status == 403
    assert resp.content_type == "text/html"
    text = text_of(await resp.text())
    assert "Skjemaet manglar ein gyldig tryggleikskode (CSRF)" in text
    assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/logg-inn"

    forged = await client.post(
        "/logg-inn", data={"csrf_token": "forged", "email": "gp@test.no", "password": PASSWORD}
    )
    assert forged.status == 403


async def test_wrong_password_and_too_many_attempts_are_explained(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    token = csrf_of(await (await client.get("/logg-inn")).text())
    for _ in range(5):
        wrong = await client.post(
            "/logg-inn", data={"csrf_token": token, "email": "gp@test.no", "password": "nope"}
        )
        assert wrong.status == 401
        html = await wrong.text()
        assert "Feil e-post eller passord." in html
        assert 'value="gp@test.no"' in html  # the e-mail is kept, the password is not
    blocked = await client.post(
        "/logg-inn", data={"csrf_token": token, "email": "gp@test.no", "password": PASSWORD}
    )
    assert blocked.status == 429
    assert "For mange innloggingsforsøk. Vent ei stund og prøv igjen." in await blocked.text()


async def test_empty_login_form_marks_the_fields(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    token = csrf_of(await (await client.get("/logg-inn")).text())
    resp = await client.post("/logg-inn", data={"csrf_token": token, "email": "", "password": ""})
    assert resp.status == 422
    html = await resp.text()
    assert 'id="f-email-error"' in html
    assert 'id="f-password-error"' in html
    assert "Dette feltet må fyllast ut." in html


async def test_a_page_needing_login_sends_to_login_and_back(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    resp = await client.get("/bestill", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/logg-inn?neste=/bestill"
    form = await client.get(resp.headers["Location"])
    html = await form.text()
    assert 'name="neste" value="/bestill"' in html
    done = await client.post(
        "/logg-inn",
        data={
            "csrf_token": csrf_of(html),
            "email": "gp@test.no",
            "password": PASSWORD,
            "neste": "/bestill",
        },
        allow_redirects=False,
    )
    assert done.headers["Location"] == "/bestill"


async def test_login_does_not_redirect_off_site(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    token = csrf_of(await (await client.get("/logg-inn")).text())
    resp = await client.post(
        "/logg-inn",
        data={
            "csrf_token": token,
            "email": "gp@test.no",
            "password": PASSWORD,
            "neste": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/"


# --- booking ---------------------------------------------------------------------------------


async def test_booking_through_the_form_ends_on_the_consultation_page(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    csrf = await page_login(client, "gp")
    # The choices in the query give the free slots, as a plain GET form would.
    page = await client.get(
        "/bestill",
        params={
            "department_id": world.geriatrics,
            "specialist_id": world.specialist,
            "patient_id": world.patient,
            "duration_minutes": 30,
        },
    )
    assert page.status == 200
    html = await page.text()
    assert f'name="starts_at" value="{SLOT}"' in html
    assert "onsdag 7. januar 2026" in html
    assert "Haukeland universitetssjukehus" in html  # departments grouped by hospital

    resp = await client.post(
        "/bestill",
        data=booking_form(
            world,
            csrf,
            **{"relatives.0.name": "Dotter Ein", "relatives.0.email": "dotter@test.no"},
        ),
        allow_redirects=False,
    )
    assert resp.status == 303, text_of(await resp.text())
    location = resp.headers["Location"]
    match = CONSULTATION_URL.match(location)
    assert match
    consultation_id = match.group(1)

    detail = await client.get(location)
    html = await detail.text()
    text = text_of(html)
    # Everyone taking part, in role order; the named specialist too (an account, not a row).
    people = text_of(html.split('id="participants-title"', 1)[1].split("</section>", 1)[0])
    assert "Siri Spesialist Spesialist" in people
    assert (
        people.index("Kari Fastlege")
        < people.index("Siri Spesialist")
        < people.index("Pasient Ein")
        < people.index("Dotter Ein")
    )
    assert "Samkonsultasjonen er bestilt. Sjukehuset svarar på førespurnaden." in text
    assert "onsdag 7. januar 2026, 10:00–10:30" in text
    assert "Førespurd" in text and "Ventar på sjukehuset" in text
    assert "Dotter Ein" in text and "Pårørande" in text
    assert "Oppfølging etter innlegging" in text
    # The flash message is shown once.
    assert "Samkonsultasjonen er bestilt" not in text_of(await (await client.get(location)).text())

    await page_logout(client, csrf_of(await detail.text()))
    await page_login(client, "specialist")
    listing = text_of(await (await client.get("/samkonsultasjonar")).text())
    assert "Pasient Ein" in listing
    assert "Kari Fastlege" in listing
    assert "Ventar på svar frå deg" in listing
    assert (
        f"/samkonsultasjonar/{consultation_id}"
        in await (await client.get("/samkonsultasjonar")).text()
    )


async def test_booking_without_javascript_keeps_what_was_typed(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    csrf = await page_login(client, "gp")
    first = await client.get("/bestill")
    html = await first.text()
    assert "Vel avdeling for å sjå ledige tider." in html
    assert 'name="starts_at"' not in html

    typed = booking_form(
        world,
        csrf,
        intent="slots",
        patient_mode="new",
        patient_id="",
        specialist_id="",
        starts_at="",
        **{
            "patient.name": "Ny Pasient",
            "patient.postal_code": "5914",
            "patient.email": "ny@test.no",
        },
    )
    shown = await client.post("/bestill", data=typed)
    assert shown.status == 200
    html = await shown.text()
    assert 'value="Ny Pasient"' in html
    assert 'value="ny@test.no"' in html
    assert f'name="starts_at" value="{SLOT}"' in html
    assert await count(db, Consultation) == 0

    booked = await client.post(
        "/bestill", data={**typed, "intent": "book", "starts_at": SLOT}, allow_redirects=False
    )
    assert booked.status == 303, text_of(await booked.text())
    async with db() as s:
        patient = await s.scalar(select(Patient).where(Patient.name == "Ny Pasient"))
        consultation = await s.scalar(select(Consultation))
    assert patient is not None and patient.gp_office_id == world.knarvik
    assert consultation is not None and consultation.specialist_id is None
    assert consultation.patient_id == patient.id


async def test_form_errors_are_shown_by_the_fields_and_nothing_is_written(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    csrf = await page_login(client, "gp")
    patients = await count(db, Patient)
    resp = await client.post(
        "/bestill",
        data=booking_form(
            world,
            csrf,
            patient_mode="new",
            patient_id="",
            patient_group="",
            **{
                "patient.name": "Ny Pasient",
                "patient.postal_code": "59",
                "patient.fnr": "12345678901",
                "relatives.0.name": "Dotter",
                "relatives.0.email": "not-an-email",
            },
        ),
    )
    assert resp.status == 422
    html = await resp.text()
    text = text_of(html)
    assert 'class="error-summary"' in html
    for field, message in [
        ("patient-postal_code", "Skriv eit postnummer med fire siffer."),
        ("patient-fnr", "Dette er ikkje eit gyldig fødselsnummer eller D-nummer."),
        ("relatives-0-email", "Skriv ei gyldig e-postadresse."),
        ("patient_group", "Dette feltet må fyllast ut."),
    ]:
        assert f'<p class="field-error" id="f-{field}-error">' in html, field
        assert re.search(f'aria-describedby="[^"]*f-{field}-error"', html), field
        assert f'<a href="#f-{field}">{message}</a>' in html, field
    assert message in text
    # Values are kept, and the chosen time stays chosen.
    assert 'value="Ny Pasient"' in html and 'value="not-an-email"' in html
    assert f'value="{SLOT}" checked' in html
    assert await count(db, Consultation) == 0
    assert await count(db, Patient) == patients
    assert await count(db, Participant) == 0


async def test_a_taken_time_is_explained_and_fresh_times_offered(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await book_via_api(client, world)
    csrf = await page_login(client, "gp")
    resp = await client.post("/bestill", data=booking_form(world, csrf))
    assert resp.status == 409
    html = await resp.text()
    assert 'id="f-starts_at-error"' in html
    assert "har alt ein avtale på dette tidspunktet" in html
    assert f'value="{SLOT}"' not in html  # the taken time is no longer offered
    assert 'value="2026-01-07T10:30:00+01:00"' in html
    assert await count(db, Consultation) == 1


async def test_choosing_no_patient_is_explained(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    csrf = await page_login(client, "gp")
    resp = await client.post("/bestill", data=booking_form(world, csrf, patient_id=""))
    assert resp.status == 422
    assert "Vel pasienten, eller registrer ein ny pasient." in await resp.text()
    assert await count(db, Consultation) == 0


async def test_a_specialist_of_another_department_is_refused_by_the_field(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    csrf = await page_login(client, "gp")
    resp = await client.post(
        "/bestill", data=booking_form(world, csrf, specialist_id=str(world.psychiatrist))
    )
    assert resp.status == 422
    html = await resp.text()
    assert 'id="f-specialist_id-error"' in html
    assert "Spesialisten høyrer ikkje til den avdelinga." in html
    assert await count(db, Consultation) == 0


async def test_only_gps_book(client: Client, db: async_sessionmaker[AsyncSession]) -> None:
    await build_world(db)
    await page_login(client, "specialist")
    resp = await client.get("/bestill")
    assert resp.status == 403
    assert "Du har ikkje tilgang til denne sida." in text_of(await resp.text()) or (
        "Rolla di gir ikkje tilgang til dette." in text_of(await resp.text())
    )


# --- who sees what ---------------------------------------------------------------------------


async def test_another_gp_gets_not_found_and_an_evaluator_no_access(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)
    csrf = await page_login(client, "gp2")
    other = await client.get(f"/samkonsultasjonar/{cid}")
    assert other.status == 404
    text = text_of(await other.text())
    assert "Fann ikkje samkonsultasjonen." in text
    assert "Pasient Ein" not in text
    listing = text_of(await (await client.get("/samkonsultasjonar")).text())
    assert "Ingen komande samkonsultasjonar." in listing
    await page_logout(client, csrf)

    await page_login(client, "evaluator")
    denied = await client.get(f"/samkonsultasjonar/{cid}")
    assert denied.status == 403
    assert "Rolla di gir ikkje tilgang til dette." in text_of(await denied.text())
    assert (await client.get("/samkonsultasjonar")).status == 403


async def test_unknown_page_is_a_readable_404(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    resp = await client.get("/finst-ikkje?lang=en")
    assert resp.status == 404
    html = await resp.text()
    assert html_lang(html) == "en"
    assert "Page not found" in html
    assert (await client.get("/api/v1/finst-ikkje")).content_type == "application/problem+json"


# --- actions on a consultation ---------------------------------------------------------------


async def test_specialist_accepts_from_the_page(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)
    csrf = await page_login(client, "specialist")
    page = await client.get(f"/samkonsultasjonar/{cid}")
    html = await page.text()
    assert f'action="/samkonsultasjonar/{cid}/godta"' in html
    assert f'action="/samkonsultasjonar/{cid}/ny-tid"' in html
    resp = await client.post(
        f"/samkonsultasjonar/{cid}/godta", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert resp.status == 303
    after = text_of(await (await client.get(resp.headers["Location"])).text())
    assert "Samkonsultasjonen er stadfesta." in after
    assert "Stadfesta" in after
    assert "Godteke – Siri Spesialist" in after  # the history names who did it
    async with db() as s:
        assert (await s.get(Consultation, cid)).status == "confirmed"  # type: ignore[union-attr]


async def test_coordinator_must_choose_the_specialist(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world, specialist_id=None)
    csrf = await page_login(client, "coordinator")
    html = await (await client.get(f"/samkonsultasjonar/{cid}")).text()
    assert 'name="specialist_id"' in html
    assert "Per Spesialist" in html and "Siri Spesialist" in html

    missing = await client.post(f"/samkonsultasjonar/{cid}/godta", data={"csrf_token": csrf})
    assert missing.status == 422
    assert "Vel kva spesialist som tek denne samkonsultasjonen." in await missing.text()

    chosen = await client.post(
        f"/samkonsultasjonar/{cid}/godta",
        data={"csrf_token": csrf, "specialist_id": str(world.specialist2)},
        allow_redirects=False,
    )
    assert chosen.status == 303
    async with db() as s:
        c = await s.get(Consultation, cid)
    assert c is not None and (c.status, c.specialist_id) == ("confirmed", world.specialist2)


async def test_propose_a_time_then_the_gp_accepts_it(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)
    csrf = await page_login(client, "specialist")

    past = await client.post(
        f"/samkonsultasjonar/{cid}/ny-tid",
        data={"csrf_token": csrf, "starts_at_local": "2026-01-02T10:00", "duration_minutes": "30"},
    )
    assert past.status == 422
    html = await past.text()
    assert "Starttidspunktet har alt vore." in html
    # The error summary points at the field this form has (the typed time), and that field
    # is there to be reached.
    assert 'href="#f-starts_at_local"' in html and 'id="f-starts_at_local"' in html
    assert 'href="#f-starts_at"' not in html

    resp = await client.post(
        f"/samkonsultasjonar/{cid}/ny-tid",
        data={"csrf_token": csrf, "starts_at_local": "2026-01-08T11:00", "duration_minutes": "45"},
        allow_redirects=False,
    )
    assert resp.status == 303
    await page_logout(client, csrf)

    csrf = await page_login(client, "gp")
    page = text_of(await (await client.get(f"/samkonsultasjonar/{cid}")).text())
    assert "torsdag 8. januar 2026, 11:00–11:45" in page
    assert "Ventar på svar frå deg" in page
    assert "Nytt tidspunkt føreslått – Siri Spesialist" in page
    accepted = await client.post(
        f"/samkonsultasjonar/{cid}/godta", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert accepted.status == 303
    async with db() as s:
        c = await s.get(Consultation, cid)
    assert c is not None and c.status == "confirmed"


async def test_the_page_says_who_gets_no_invitation(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(
        client,
        world,
        relatives=[{"name": "Son Utan Post"}, {"name": "Dotter Med", "email": "d@test.no"}],
    )
    await page_login(client, "gp")
    html = await (await client.get(f"/samkonsultasjonar/{cid}")).text()
    people = html.split('id="participants-title"', 1)[1].split("</section>", 1)[0]
    lines = [text_of(li) for li in re.findall(r"<li[^>]*>(.*?)</li>", people, re.S)]
    items = {line.split(" Pårørande")[0]: line for line in lines}
    warning = "Inga e-postadresse: får inga invitasjon og inga lenkje til samtalen."
    assert warning in items["Son Utan Post"]
    assert warning not in items["Dotter Med"]
    clinicians = [line for line in lines if line.startswith(("Kari Fastlege", "Siri Spesialist"))]
    assert len(clinicians) == 2 and not [c for c in clinicians if warning in c]  # log in instead


async def test_gp_reschedules_to_an_offered_free_time(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)
    csrf = await page_login(client, "gp")
    html = await (await client.get(f"/samkonsultasjonar/{cid}")).text()
    new_time = "2026-01-09T09:00:00+01:00"
    assert f'<option value="{new_time}">fr. 9. jan. 2026 09:00</option>' in html
    # Its own time (10:00-10:30 on the 7th) does not block a move by a quarter of an hour.
    assert '<option value="2026-01-07T10:15:00+01:00">' in html
    assert '<option value="2026-01-07T10:00:00+01:00">' not in html  # no move at all
    resp = await client.post(
        f"/samkonsultasjonar/{cid}/ny-tid",
        data={"csrf_token": csrf, "starts_at": new_time},
        allow_redirects=False,
    )
    assert resp.status == 303
    after = text_of(await (await client.get(resp.headers["Location"])).text())
    assert "Det nye tidspunktet er sendt til godkjenning." in after
    assert "fredag 9. januar 2026, 09:00–09:30" in after


async def test_gp_moves_a_consultation_by_less_than_its_length(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)  # 10:00-10:30 on Wednesday 7 January
    csrf = await page_login(client, "gp")
    resp = await client.post(
        f"/samkonsultasjonar/{cid}/ny-tid",
        data={"csrf_token": csrf, "starts_at": "2026-01-07T10:15:00+01:00"},
        allow_redirects=False,
    )
    assert resp.status == 303, text_of(await resp.text())
    after = text_of(await (await client.get(resp.headers["Location"])).text())
    assert "onsdag 7. januar 2026, 10:15–10:45" in after


async def test_cancel_asks_first_then_cancels(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)
    csrf = await page_login(client, "gp")
    confirm = await client.get(f"/samkonsultasjonar/{cid}/avlys")
    assert confirm.status == 200
    assert "Avlyse samkonsultasjonen?" in await confirm.text()
    async with db() as s:
        assert (await s.get(Consultation, cid)).status == "requested"  # type: ignore[union-attr]

    resp = await client.post(
        f"/samkonsultasjonar/{cid}/avlys", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert resp.status == 303
    after = await (await client.get(resp.headers["Location"])).text()
    assert "Samkonsultasjonen er avlyst." in after
    assert f'action="/samkonsultasjonar/{cid}/godta"' not in after
    assert "Du har ingenting å gjere med denne samkonsultasjonen no." in after
    listing = text_of(await (await client.get("/samkonsultasjonar")).text())
    assert "Ingen komande samkonsultasjonar." in listing
    assert "Avlyst" in listing

    again = await client.post(f"/samkonsultasjonar/{cid}/avlys", data={"csrf_token": csrf})
    assert again.status == 409
    assert "Dette er ikkje mogleg slik samkonsultasjonen står no." in await again.text()


async def test_actions_need_the_csrf_token(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)
    await page_login(client, "specialist")
    resp = await client.post(f"/samkonsultasjonar/{cid}/godta", data={})
    assert resp.status == 403
    async with db() as s:
        assert (await s.get(Consultation, cid)).status == "requested"  # type: ignore[union-attr]


# --- languages -------------------------------------------------------------------------------


async def test_language_switch_by_query_and_cookie(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    for lang, phrase in [
        ("nn", "Gå til hovudinnhaldet"),
        ("nb", "Gå til hovedinnholdet"),
        ("en", "Skip to main content"),
    ]:
        resp = await client.get(f"/logg-inn?lang={lang}")
        html = await resp.text()
        assert html_lang(html) == lang
        assert phrase in html
        assert resp.cookies["samkons_lang"].value == lang
        # The cookie keeps the choice on the next page.
        assert html_lang(await (await client.get("/logg-inn")).text()) == lang
    english = await (await client.get("/logg-inn")).text()
    assert "Password" in english and 'aria-current="true">English<' in english
    # The switcher keeps the page and its other query parameters.
    assert (
        'href="/logg-inn?neste=/bestill&amp;lang=nb"'
        in await (await client.get("/logg-inn?neste=/bestill")).text()
    )


async def test_default_language_is_nynorsk_then_the_users_own(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    assert html_lang(await (await client.get("/logg-inn")).text()) == "nn"
    async with db() as s, s.begin():
        user = await s.get(User, world.specialist)
        assert user is not None
        user.language = "nb"
    await page_login(client, "specialist")
    html = await (await client.get("/samkonsultasjonar")).text()
    assert html_lang(html) == "nb"
    assert "Ingen kommende samkonsultasjoner." in html


async def test_dates_follow_the_language(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)
    await page_login(client, "gp")
    english = text_of(await (await client.get(f"/samkonsultasjonar/{cid}?lang=en")).text())
    assert "Wednesday, 7 January 2026, 10:00–10:30" in english
    assert "Waiting for the hospital" in english
    bokmal = text_of(await (await client.get(f"/samkonsultasjonar/{cid}?lang=nb")).text())
    assert "onsdag 7. januar 2026, 10:00–10:30" in bokmal
    assert "Venter på sykehuset" in bokmal


async def test_pages_are_not_cached_and_keep_the_csp(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    resp = await client.get("/logg-inn")
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
    html = await resp.text()
    assert "<style" not in html and " style=" not in html
    assert "<script>" not in html
    css = await client.get("/static/samkons.css")
    assert css.status == 200


async def test_no_inline_script_or_style_on_the_pages_with_forms(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    cid = await book_via_api(client, world)
    await page_login(client, "gp")
    for url in (f"/bestill?department_id={world.geriatrics}", f"/samkonsultasjonar/{cid}"):
        html = await (await client.get(url)).text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert "<style" not in html and " style=" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url  # no inline event handlers
    booking_page = await (await client.get("/bestill")).text()
    assert 'data-slots-url="/api/v1/slots"' in booking_page
    assert (await client.get("/static/booking.js")).status == 200


async def test_an_unexpected_failure_is_a_readable_500_page(
    client: Client, db: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    await build_world(db)
    await page_login(client, "gp")

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("service.usecases.booking.overview", broken)
    resp = await client.get("/samkonsultasjonar")
    assert resp.status == 500
    text = text_of(await resp.text())
    assert "Noko gjekk gale" in text
    assert "boom" not in text


async def test_an_island_patient_is_taken_to_come_by_boat_unless_the_gp_says_otherwise(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    csrf = await page_login(client, "gp")
    typed = booking_form(
        world,
        csrf,
        intent="slots",
        patient_mode="new",
        patient_id="",
        **{
            "patient.name": "Ny Fedjebu",
            "patient.postal_code": "5947",
            "patient.email": "f@test.no",
        },
    )
    html = await (await client.post("/bestill", data=typed)).text()
    assert "Frå: <strong data-travel-from>Fedje</strong>" in html
    assert '<option value="boat" selected>' in html
    booked = await client.post(
        "/bestill",
        # As a browser sends the form: the preselected way, and the GP's "no".
        data={
            **typed,
            "intent": "book",
            "starts_at": SLOT,
            "patient_travel.mode": "boat",
            "patient_travel.would_travel": "no",
        },
        allow_redirects=False,
    )
    assert booked.status == 303, text_of(await booked.text())
    async with db() as s:
        key = await s.scalar(select(Consultation.travel_key))
    assert key is not None
    facts = decode_travel_key(key)
    assert (facts.patient.would_travel, facts.patient.mode) == (False, "boat")
