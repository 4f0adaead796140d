"""The survey after a consultation: invitations, the public page and its refusals, one answer per
link, and the answer about travelling correcting the booking's assumption."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import FakeClock
from service.domain.tokens import hash_token
from service.storage.models import Consultation, Participant, Survey
from service.usecases.survey import create_survey_invitations
from tests.factories import Client, booking_body, build_world, login

SLOT = "2026-01-07T10:00:00+01:00"


async def completed_consultation(
    client: Client, db: async_sessionmaker[AsyncSession], *, relatives: int = 1
) -> str:
    world = await build_world(db)
    gp = await login(client, "gp")
    body = booking_body(
        world,
        SLOT,
        relatives=[
            {"name": f"Pårørande {i}", "email": f"rel{i}@test.no", "travel": {"would_travel": True}}
            for i in range(relatives)
        ]
        + [{"name": "Utan E-post"}],
    )
    resp = await client.post("/api/v1/consultations", json=body, headers=gp)
    assert resp.status == 201, await resp.text()
    cid: str = (await resp.json())["id"]
    await client.delete("/api/v1/session", headers=gp)
    async with db() as s, s.begin():
        await s.execute(
            update(Consultation).where(Consultation.id == cid).values(status="completed")
        )
    return cid


async def invite(
    db: async_sessionmaker[AsyncSession], cid: str, clock: FakeClock
) -> dict[str, str]:
    async with db() as s, s.begin():
        invitations = await create_survey_invitations(s, cid, clock.now())
    return {
        r.attendee.role if r.attendee.role != "relative" else r.attendee.name: token
        for r, token in invitations
    }


async def test_invitations_go_to_participants_with_an_address_once(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    cid = await completed_consultation(client, db)
    tokens = await invite(db, cid, clock)
    # "Utan E-post" has no address; the specialist takes part through their account.
    assert set(tokens) == {"gp", "specialist", "patient", "Pårørande 0"}
    assert len({len(t) for t in tokens.values()}) == 1 and len(tokens["gp"]) >= 43
    async with db() as s:
        stored = (await s.scalars(select(Survey.token_hash))).all()
    assert sorted(stored) == sorted(hash_token(t) for t in tokens.values())
    assert not set(tokens.values()) & set(stored)  # only hashes are stored
    assert await invite(db, cid, clock) == {}


async def test_no_survey_for_a_consultation_not_completed(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    cid = await completed_consultation(client, db)
    async with db() as s, s.begin():
        await s.execute(
            update(Consultation).where(Consultation.id == cid).values(status="cancelled")
        )
    assert await invite(db, cid, clock) == {}
    async with db() as s, s.begin():
        assert await create_survey_invitations(s, "no-such-id", clock.now()) == []


async def test_survey_page_in_nynorsk_by_default_and_other_languages(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    cid = await completed_consultation(client, db)
    token = (await invite(db, cid, clock))["patient"]
    resp = await client.get(f"/sporjeskjema/{token}")
    assert resp.status == 200
    html = await resp.text()
    assert "Kor nøgd var du med samkonsultasjonen?" in html
    assert "onsdag 7. januar 2026" in html
    assert 'lang="nn"' in html
    assert "<script" not in html and "style=" not in html
    # The site's own layout: header, language switch to this very page, no logout for a guest.
    assert 'class="site-header"' in html
    assert f'href="/sporjeskjema/{token}?lang=en"' in html
    assert "/logg-ut" not in html
    english = await (await client.get(f"/sporjeskjema/{token}?lang=en")).text()
    assert "How satisfied were you" in english
    assert "Wednesday, 7 January 2026" in english
    assert f'action="/sporjeskjema/{token}?lang=en"' in english  # the answer stays in English
    bokmal = await (await client.get(f"/sporjeskjema/{token}?lang=nb")).text()
    assert "Hvor fornøyd var du" in bokmal


async def test_survey_page_speaks_the_participants_language_unless_asked_otherwise(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    cid = await completed_consultation(client, db)
    async with db() as s, s.begin():
        await s.execute(
            update(Participant)
            .where(Participant.consultation_id == cid, Participant.role == "patient")
            .values(language="nb")
        )
    token = (await invite(db, cid, clock))["patient"]
    html = await (await client.get(f"/sporjeskjema/{token}")).text()
    assert 'lang="nb"' in html and "Hvor fornøyd var du" in html
    form = {"satisfaction": "9"}
    english = await client.post(f"/sporjeskjema/{token}?lang=en", data=form)
    assert english.status == 422
    assert "Choose a number from 1 to 5." in await english.text()
    thanks = await client.post(f"/sporjeskjema/{token}", data={"satisfaction": "4"})
    assert "Svaret ditt er lagret." in await thanks.text()


async def test_answer_is_stored_once_and_corrects_the_travel_assumption(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    cid = await completed_consultation(client, db)
    tokens = await invite(db, cid, clock)
    clock.advance(timedelta(hours=3))
    # The GP says the patient would have travelled; the patient then says not.
    form = {"satisfaction": "4", "would_travel": "yes", "physical_visit_needed": "no"}
    resp = await client.post(f"/sporjeskjema/{tokens['gp']}", data=form)
    assert resp.status == 200, await resp.text()
    async with db() as s:
        assert (await s.get(Consultation, cid)).patient_travel_confirmed is True  # type: ignore[union-attr]

    text = "Fint å sleppe bussen til Bergen. Helsing Pasient Ein"
    form = {"satisfaction": "5", "would_travel": "no", "free_text": text}
    resp = await client.post(f"/sporjeskjema/{tokens['patient']}", data=form)
    assert resp.status == 200
    assert "Takk for svaret" in await resp.text()
    # A relative's later answer does not outrank the patient's own.
    form = {"satisfaction": "3", "would_travel": "yes"}
    assert (await client.post(f"/sporjeskjema/{tokens['Pårørande 0']}", data=form)).status == 200
    async with db() as s:
        consultation = await s.get(Consultation, cid)
        assert consultation is not None and consultation.patient_travel_confirmed is False
        survey = await s.scalar(
            select(Survey).where(Survey.token_hash == hash_token(tokens["patient"]))
        )
    assert survey is not None
    assert survey.satisfaction == 5
    assert survey.would_travel is False
    assert survey.physical_visit_needed is None
    assert survey.free_text == text and survey.has_free_text
    assert survey.answered_at == clock.now()

    again = await client.post(f"/sporjeskjema/{tokens['patient']}", data={"satisfaction": "1"})
    assert again.status == 410
    assert "Allereie svart" in await again.text()
    used = await client.get(f"/sporjeskjema/{tokens['patient']}")
    assert used.status == 410
    async with db() as s:
        survey = await s.scalar(
            select(Survey).where(Survey.token_hash == hash_token(tokens["patient"]))
        )
    assert survey is not None and survey.satisfaction == 5


@pytest.mark.parametrize("token", ["x" * 43, "a", "x" * 500, "%00%ff", "..%2F..%2Fetc"])
async def test_wrong_link_is_a_readable_404(
    client: Client, db: async_sessionmaker[AsyncSession], token: str
) -> None:
    await build_world(db)
    for resp in (
        await client.get(f"/sporjeskjema/{token}"),
        await client.post(f"/sporjeskjema/{token}", data={"satisfaction": "3"}),
    ):
        assert resp.status == 404
        assert "Lenkja verkar ikkje" in await resp.text()


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({}, "satisfaction", "Vel eit tal frå 1 til 5."),
        ({"satisfaction": "9"}, "satisfaction", "Vel eit tal frå 1 til 5."),
        ({"satisfaction": "tre"}, "satisfaction", "Vel eit tal frå 1 til 5."),
        ({"satisfaction": "3", "would_travel": "kanskje"}, "would_travel", "Vel eit av svara."),
        (
            {"satisfaction": "3", "physical_visit_needed": "1"},
            "physical_visit_needed",
            "Vel eit av svara.",
        ),
        ({"satisfaction": "3", "free_text": "x" * 2001}, "free_text", "høgst 2000 teikn"),
        ({"satisfaction": "3", "unexpected": "field"}, None, None),
    ],
)
async def test_bad_answers_get_the_form_back_with_a_message(
    client: Client,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    form: dict[str, str],
    field: str | None,
    message: str | None,
) -> None:
    cid = await completed_consultation(client, db, relatives=0)
    token = (await invite(db, cid, clock))["patient"]
    resp = await client.post(f"/sporjeskjema/{token}", data=form)
    html = await resp.text()
    if field is None:  # unknown form fields are ignored, not an error
        assert resp.status == 200
        return
    assert resp.status == 422
    assert message is not None and message in html
    assert f'href="#q-{field}"' in html
    async with db() as s:
        survey = await s.scalar(select(Survey).where(Survey.token_hash == hash_token(token)))
    assert survey is not None and survey.answered_at is None


async def test_survey_needs_no_login_or_csrf_and_shows_no_names(
    client: Client, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    cid = await completed_consultation(client, db)
    token = (await invite(db, cid, clock))["patient"]
    html = await (await client.get(f"/sporjeskjema/{token}")).text()
    async with db() as s:
        names = (await s.scalars(select(Participant.name))).all()
    for name in names:
        assert name not in html
    resp = await client.post(
        f"/sporjeskjema/{token}", data={"satisfaction": "2"}, headers={"Origin": "http://x"}
    )
    assert resp.status == 200
