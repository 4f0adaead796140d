"""Calendars and mail records over HTTP: the clinician's secret feed (create, poll without login,
replace, revoke), a consultation's .ics download, its list of mails and the .eml files, each
with the refusals: another GP sees nothing (404), an evaluator is refused (403)."""

from __future__ import annotations

from email import message_from_bytes, policy

from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.settings import Settings
from tests.factories import Client, build_world, login
from tests.mail_support import EVERYONE_WITH_MAIL, act, book, book_confirmed, deliver
from tests.test_invites import parse_with_icaljs

SLOT = "2026-01-07T10:00:00+01:00"
Db = async_sessionmaker[AsyncSession]


def uids(ics: bytes) -> list[str]:
    return [str(e["UID"]) for e in Calendar.from_ical(ics).walk("VEVENT")]


async def test_a_clinician_subscribes_to_a_secret_feed_and_can_revoke_it(
    client: Client, db: Db, settings: Settings
) -> None:
    world = await build_world(db)
    confirmed = await book_confirmed(client, world, SLOT)
    requested = await book(client, world, "2026-01-07T11:00:00+01:00")
    headers = await login(client, "specialist")
    assert (await (await client.get("/api/v1/me/calendar-feed")).json()) == {"active": False}

    resp = await client.post("/api/v1/me/calendar-feed", headers=headers)
    assert resp.status == 201
    created = await resp.json()
    path = created["url"].removeprefix(settings.base_url)
    assert path.startswith("/kalender/") and path.endswith(".ics")
    assert created["webcal_url"] == "webcal://" + created["url"].split("://", 1)[1]
    assert (await (await client.get("/api/v1/me/calendar-feed")).json()) == {"active": True}

    await client.delete("/api/v1/session", headers=headers)  # calendars poll without a login
    feed = await client.get(path)
    assert feed.status == 200
    assert feed.content_type == "text/calendar"
    ics = await feed.read()
    # Confirmed consultations are in it; a request still under negotiation is not.
    assert uids(ics) == [f"{confirmed}@samkons"]
    assert requested not in ics.decode()
    text = ics.decode()
    for private in ("Pasient Ein", "Oppfølging", "frail_elderly", "ATTENDEE"):
        assert private not in text
    (event,) = parse_with_icaljs(ics)["events"]
    assert event["start"]["utc"] == "2026-01-07T09:00:00Z"
    assert event["url"] == f"{settings.base_url}/samkonsultasjonar/{confirmed}"

    # A new feed replaces the old URL; revoking closes the new one.
    headers = await login(client, "specialist")
    renewed = await (await client.post("/api/v1/me/calendar-feed", headers=headers)).json()
    new_path = renewed["url"].removeprefix(settings.base_url)
    assert new_path != path
    assert (await client.get(path)).status == 404
    assert (await client.get(new_path)).status == 200
    assert (await client.delete("/api/v1/me/calendar-feed", headers=headers)).status == 204
    assert (await client.get(new_path)).status == 404
    assert (await (await client.get("/api/v1/me/calendar-feed")).json()) == {"active": False}


async def test_a_gp_feed_lists_their_own_consultations_only(
    client: Client, db: Db, settings: Settings
) -> None:
    world = await build_world(db)
    mine = await book_confirmed(client, world, SLOT)
    headers = await login(client, "gp2")
    other = await (await client.post("/api/v1/me/calendar-feed", headers=headers)).json()
    headers = await login(client, "gp")
    own = await (await client.post("/api/v1/me/calendar-feed", headers=headers)).json()
    own_feed = await client.get(own["url"].removeprefix(settings.base_url))
    other_feed = await client.get(other["url"].removeprefix(settings.base_url))
    assert uids(await own_feed.read()) == [f"{mine}@samkons"]
    assert uids(await other_feed.read()) == []


async def test_only_clinicians_have_feeds_and_unknown_tokens_find_nothing(
    client: Client, db: Db
) -> None:
    await build_world(db)
    headers = await login(client, "evaluator")
    assert (await client.post("/api/v1/me/calendar-feed", headers=headers)).status == 403
    assert (await client.get("/kalender/not-a-real-token.ics")).status == 404
    await client.delete("/api/v1/session", headers=headers)
    assert (await client.get("/api/v1/me/calendar-feed")).status == 401


async def test_consultation_ics_download_for_those_who_may_see_it(client: Client, db: Db) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    url = f"/api/v1/consultations/{cid}/invite.ics"
    for who in ("gp", "specialist", "specialist2", "coordinator"):
        await login(client, who)
        resp = await client.get(url)
        assert resp.status == 200, who
        assert resp.content_type == "text/calendar"
        assert "attachment" in resp.headers["Content-Disposition"]
        assert resp.headers["Content-Disposition"].endswith('"samkonsultasjon-2026-01-07-1000.ics"')
        ics = await resp.read()
        assert uids(ics) == [f"{cid}@samkons"]
        assert parse_with_icaljs(ics)["events"][0]["sequence"] == 1
    await login(client, "gp2")
    assert (await client.get(url)).status == 404
    await login(client, "psychiatrist")
    assert (await client.get(url)).status == 404
    evaluator = await login(client, "evaluator")
    assert (await client.get(url)).status == 403
    await client.delete("/api/v1/session", headers=evaluator)
    assert (await client.get(url)).status == 401


def ics_status(ics: bytes) -> str:
    (event,) = Calendar.from_ical(ics).walk("VEVENT")
    return str(event["STATUS"])


async def test_the_download_says_what_the_mail_says_tentative_until_confirmed(
    client: Client, db: Db
) -> None:
    world = await build_world(db)
    cid = await book(client, world, SLOT)
    url = f"/api/v1/consultations/{cid}/invite.ics"
    page_url = f"/samkonsultasjonar/{cid}"
    assert ics_status(await (await client.get(url)).read()) == "TENTATIVE"
    assert url in await (await client.get(page_url)).text()

    await act(client, "specialist", cid, "accept")
    assert ics_status(await (await client.get(url)).read()) == "CONFIRMED"
    # Moved by the hospital to another time: a request again, tentative again.
    await act(client, "specialist", cid, "propose", {"starts_at": "2026-01-09T13:00:00+01:00"})
    ics = await (await client.get(url)).read()
    assert ics_status(ics) == "TENTATIVE"
    assert parse_with_icaljs(ics)["events"][0]["status"] == "TENTATIVE"

    await act(client, "gp", cid, "cancel")
    assert ics_status(await (await client.get(url)).read()) == "CANCELLED"
    page = await (await client.get(page_url)).text()
    assert url not in page  # a cancelled consultation offers nothing to add to a calendar


async def test_the_consultation_lists_its_mails_and_serves_each_eml(
    client: Client, db: Db, settings: Settings, clock: FakeClock
) -> None:
    world = await build_world(db)
    cid = await book_confirmed(client, world, SLOT)
    await login(client, "gp")
    listed = await (await client.get(f"/api/v1/consultations/{cid}/mails")).json()
    invites = [m for m in listed if m["kind"] == "invite"]
    assert {m["status"] for m in invites} == {"pending"}
    assert {m["eml_url"] for m in invites} == {None}
    assert len([m for m in listed if m["kind"] == "reminder"]) == 2 * len(EVERYONE_WITH_MAIL)

    await deliver(db, clock, settings)
    listed = await (await client.get(f"/api/v1/consultations/{cid}/mails")).json()
    sent = [m for m in listed if m["status"] == "sent"]
    assert sorted(m["recipient"] for m in sent) == sorted(EVERYONE_WITH_MAIL)
    patient_mail = next(m for m in sent if m["recipient_role"] == "patient")
    assert patient_mail["recipient_name"] == "Pasient Ein"
    assert patient_mail["sent_at"] == "2026-01-05T09:00:00+01:00"
    eml_url = patient_mail["eml_url"]
    assert eml_url == f"/samkonsultasjonar/{cid}/e-post/{patient_mail['id']}.eml"

    resp = await client.get(eml_url)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "message/rfc822"
    message = message_from_bytes(await resp.read(), policy=policy.default)
    assert message["To"] == "Pasient Ein <p1@test.no>"

    await login(client, "specialist2")  # same department: may see it
    assert (await client.get(eml_url)).status == 200
    await login(client, "gp2")
    assert (await client.get(eml_url)).status == 404
    assert (await client.get(f"/api/v1/consultations/{cid}/mails")).status == 404
    await login(client, "evaluator")
    assert (await client.get(eml_url)).status == 403
    await login(client, "gp")
    assert (await client.get(f"/samkonsultasjonar/{cid}/e-post/999999.eml")).status == 404
    assert (await client.get(f"/samkonsultasjonar/{cid}/e-post/x.eml")).status == 404
