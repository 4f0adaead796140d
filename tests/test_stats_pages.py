"""The statistics page: evaluators only, charts as inline SVG that the CSP allows, the same
suppressed figures as the API, no personal data, readable errors; and the chart geometry."""

from __future__ import annotations

import io
import re
from typing import get_args

import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.i18n import load_translations
from service.domain.travel.calculation import Mode
from tests.factories import Client, build_world, login
from tests.test_statistics import POSTAL_CODES, seed
from web.charts import (
    LABEL_CHAR_WIDTH,
    horizontal_bars,
    nice_ticks,
    percent_text,
    value_text,
    vertical_bars,
)
from web.pages.statistics import TRAVEL_MODE

PARAMS = {"from": "2025-01", "to": "2025-12"}


async def test_page_draws_the_charts_and_tables(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    seeded = await seed(db, world, n=120)
    await login(client, "evaluator")
    resp = await client.get("/statistikk", params=PARAMS)
    assert resp.status == 200
    html = await resp.text()
    assert 'lang="nn"' in html
    for chart in ("trend", "by-municipality", "by-group", "co2"):
        assert f'data-chart="{chart}"' in html
    assert html.count('class="bar"') >= 12 + 4 + 5
    body = await (await client.get("/api/v1/statistics", params=PARAMS)).json()
    total = body["total"]["counts"]["booked"]
    assert re.search(rf'<td class="num">{total:,}</td>'.replace(",", "\u202f"), html)
    assert "samkons-green-health 2024.1" in html
    # Every count is perturbed, and the page says so where the tables begin.
    assert 'id="protection"' in html and "Alle tal er perturberte" in html
    # Decimals in the reader's locale: a comma in nynorsk, never a point.
    co2 = body["total"]["travel"]["assumed"]["co2e_kg"]
    assert isinstance(co2, float) and not co2.is_integer()
    assert f">{value_text(co2, '', 'nn')}<" in html and "," in value_text(co2, "", "nn")
    assert f">{co2}<" not in html
    # CSP: no inline script or style anywhere.
    assert "<script" not in html
    assert "style=" not in html
    assert "<style" not in html
    for secret in [*seeded.personal, *POSTAL_CODES.values()]:
        assert secret not in html


async def test_page_in_english_and_with_filters(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await seed(db, world, n=60)
    await login(client, "evaluator")
    html = await (
        await client.get(
            "/statistikk",
            params={**PARAMS, "lang": "en", "group_by": "quarter", "municipality": "4631"},
        )
    ).text()
    assert "Joint consultations per period" in html
    assert "2025-Q3" in html
    assert 'value="4631" selected' in html


async def test_page_has_the_sites_layout_and_words_in_each_language(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await seed(db, world, n=60)
    await login(client, "evaluator")
    html = await (await client.get("/statistikk", params=PARAMS)).text()
    assert 'class="site-header"' in html
    assert '<a href="/statistikk" aria-current="page">Statistikk</a>' in html
    assert 'action="/logg-ut"' in html  # logout, as on every page of a logged-in reader
    assert "/static/samkons.css?v=" in html and "/static/stats.css?v=" in html
    assert "Statistikk for samkonsultasjon" in html
    assert "Skrøpelege eldre" in html  # a patient group, from the shared labels
    assert "Ikkje avslutta" in html  # a measure
    assert 'hreflang="nb"' in html
    bokmal = await (await client.get("/statistikk", params={**PARAMS, "lang": "nb"})).text()
    assert "Reiser som ble spart" in bokmal
    # The choice is remembered like on every other page.
    assert "Reiser som ble spart" in await (await client.get("/statistikk", params=PARAMS)).text()
    # The exports keep their machine keys whatever the page's language.
    body = await (await client.get("/api/v1/statistics", params={**PARAMS, "lang": "nb"})).json()
    assert {"booked", "completed", "no_show"} <= set(body["total"]["counts"])
    csv = await (await client.get("/api/v1/statistics.csv", params={**PARAMS, "lang": "nb"})).text()
    assert "co2e_kg" in csv


async def test_bad_filter_gives_the_form_back_with_the_reason(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    await build_world(db)
    await login(client, "evaluator")
    resp = await client.get("/statistikk", params={"from": "2025-99", "lang": "en"})
    assert resp.status == 422
    html = await resp.text()
    assert 'role="alert"' in html
    assert "Choose «From» and «To» as months" in html


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("nn", "Vel «Frå» og «Til» som månader"),
        ("nb", "Velg «Fra» og «Til» som måneder"),
        ("en", "«From» no later than «To»"),
    ],
)
async def test_a_refused_filter_is_explained_in_the_readers_language(
    client: Client, db: async_sessionmaker[AsyncSession], lang: str, words: str
) -> None:
    await build_world(db)
    await login(client, "evaluator")
    resp = await client.get(
        "/statistikk", params={"from": "2026-11", "to": "2026-01", "lang": lang}
    )
    assert resp.status == 422
    html = await resp.text()
    assert words in html
    # The API's English detail stays in the API.
    assert "from must not be after to" not in html
    resp = await client.get("/statistikk", params={"municipality": "9999", "lang": lang})
    assert resp.status == 422
    assert "Unknown municipality number" not in await resp.text()


@pytest.mark.parametrize("who", ["gp", "specialist", "coordinator"])
async def test_page_is_for_evaluators(
    client: Client, db: async_sessionmaker[AsyncSession], who: str
) -> None:
    await build_world(db)
    anonymous = await client.get("/statistikk", allow_redirects=False)
    assert anonymous.status == 303
    assert anonymous.headers["Location"] == "/logg-inn?neste=/statistikk"
    await login(client, who)
    assert (await client.get("/statistikk")).status == 403


async def test_stylesheet_is_served_from_the_project() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from service.http.app import create_app
    from service.settings import Settings

    # No scheduler: its jobs would try the default database and hold the shutdown for 10 s.
    app = create_app(Settings(mode="test", scheduler_enabled=False))
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/static/stats.css")
        assert resp.status == 200
        assert resp.content_type == "text/css"
        assert ".bar" in await resp.text()


def test_vertical_bars_scale_to_the_largest_value_and_skip_hidden_ones() -> None:
    chart = vertical_bars(
        [("2025-01", 10), ("2025-02", "<5"), ("2025-03", 40), ("2025-04", "suppressed")],
        [12, "<5", 41, 50],
        hidden_text="skjult",
        height=280,
    )
    bars = chart.bars
    assert [b.value_text for b in bars] == ["10", "<5", "40", "skjult"]
    assert bars[1].height == 0 and bars[3].height == 0
    assert bars[2].height == pytest.approx(4 * bars[0].height, rel=0.01)
    assert chart.ticks[-1].text == "60"  # 50 rounds up to a nice axis top
    assert len(chart.markers) == 3  # the hidden marker is not drawn
    assert chart.marker_path.count(",") == 3


def test_horizontal_bars_put_labels_left_and_values_at_the_end() -> None:
    chart = horizontal_bars([("Alver", 30), ("Fedje", 3), ("Gulen", 0)], hidden_text="x")
    alver, fedje, gulen = chart.bars
    assert alver.width > fedje.width > gulen.width == 0
    assert alver.value_x == pytest.approx(alver.x + alver.width + 6)
    assert alver.label_x < alver.x


@pytest.mark.parametrize(
    ("maximum", "top"), [(0, 1), (7, 8), (40, 40), (95, 100), (1234, 1500), (0.4, 0.4)]
)
def test_nice_ticks(maximum: float, top: float) -> None:
    ticks = nice_ticks(maximum)
    assert ticks[0] == 0
    assert ticks[-1] == pytest.approx(top)
    assert ticks[-1] >= maximum


def test_value_text_is_written_for_the_readers_locale() -> None:
    # Babel: a no-break space between thousands and a decimal comma in nynorsk and bokmål.
    assert value_text(1234567, "h") == "1\xa0234\xa0567"
    assert value_text(1138.25, "h", "nb") == "1\xa0138,2"
    assert value_text(24.8, "h", "nn") == "24,8"
    assert value_text(1138.25, "h", "en") == "1,138.2"
    assert percent_text(0.423, "nn") == "42\xa0%"
    assert percent_text(0.423, "en") == "42%"
    assert value_text("<5", "h") == "<5"
    assert value_text("suppressed", "h") == "h"
    assert value_text(None, "h") == "–"


def test_long_labels_fit_beside_the_bars() -> None:
    label = "Alvorlege psykiske lidingar og rusproblem"
    chart = horizontal_bars([(label, 12), ("Andre", 30)], hidden_text="skjult")
    # The label is drawn right-aligned at label_x: its estimated width fits inside the chart.
    assert chart.bars[0].label_x - LABEL_CHAR_WIDTH * len(label) >= 0
    assert all(b.x >= b.label_x for b in chart.bars)


async def test_survey_and_travel_answers_have_one_meaning_each(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(db)
    await seed(db, world, n=120)
    await login(client, "evaluator")
    html = await (await client.get("/statistikk", params={**PARAMS, "lang": "en"})).text()
    # "Not answered" is an invitation nobody answered, "Left blank" a skipped question, and
    # the travel table counts consultations, saying which answer it uses.
    assert "Not answered</th>" in html
    assert html.count("Left blank") == 2
    assert "No answer" not in html
    assert "Completed joint consultations by the answer about travelling" in html
    # No heading repeats itself as its table's caption.
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", html)
    captions = re.findall(r"<caption>(.*?)</caption>", html)
    assert len(headings) == len(set(headings))
    assert not {h for h in headings if "Survey" in h} & set(captions)


@pytest.mark.parametrize("language", ["nn", "nb"])
def test_every_travel_mode_has_a_translated_label(language: str) -> None:
    # "ambulance" appears on the page when it could not be costed: in words, not as a code.
    catalog = load_translations(language)
    assert set(TRAVEL_MODE) == set(get_args(Mode))
    for mode, msgid in TRAVEL_MODE.items():
        assert catalog.gettext(msgid) != msgid, mode


@pytest.mark.parametrize("language", ["nn", "en"])
async def test_the_pdf_report_holds_the_figures_the_json_gives_and_its_chart(
    client: Client, db: async_sessionmaker[AsyncSession], language: str
) -> None:
    world = await build_world(db)
    seeded = await seed(db, world, n=120)
    await login(client, "evaluator")
    params = {**PARAMS, "hospital": "haukeland", "lang": language}
    resp = await client.get("/statistikk/rapport.pdf", params=params)
    assert resp.status == 200
    assert resp.content_type == "application/pdf"
    pdf = PdfReader(io.BytesIO(await resp.read()))
    text = " ".join(page.extract_text() for page in pdf.pages)
    body = await (await client.get("/api/v1/statistics", params=params)).json()
    # The same report as the JSON for the same query, written in the reader's locale.
    total = body["total"]["counts"]["booked"]
    assert value_text(total, "", language) in text
    for row in body["by"]["period"]:
        assert row["label"] in text
    co2 = body["total"]["travel"]["assumed"]["co2e_kg"]
    assert value_text(co2, "", language) in text
    assert body["factor_set"]["version"] in text
    assert "cell-key perturbation" in text
    title = (
        "Statistikk for samkonsultasjon" if language == "nn" else "Joint consultation statistics"
    )
    assert title in text
    # The chart is an image in the PDF.
    assert sum(len(page.images) for page in pdf.pages) >= 1
    for secret in [*seeded.personal, *POSTAL_CODES.values()]:
        assert secret not in text
    # Evaluators only.
    await login(client, "gp")
    assert (await client.get("/statistikk/rapport.pdf", params=params)).status == 403
