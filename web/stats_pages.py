"""The statistics page (`/statistikk`, evaluators) and the public survey page
(`/sporjeskjema/{token}`), with their own templates, words and stylesheet.

Call `setup_stats_pages(app)` from `create_app`. The pages render server-side with Jinja2
(autoescaped); charts are inline SVG built from `web.charts`, styled from `/static/stats.css`,
with no script at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web
from pydantic import ValidationError

from service import appkeys
from service.api.statistics import report_for
from service.auth import csrf_exempt, csrf_token, current_actor, require_actor
from service.errors import InvalidInput, NotFound
from service.models import PATIENT_GROUPS
from service.schemas import SurveyAnswerInput
from service.statistics import COUNT_MEASURES, EVALUATOR_ROLES, TRAVEL_MEASURES, Display, Row
from service.storage import statistics as stats_store
from service.survey import OpenSurvey, SurveyAnswered, answer_survey, open_survey
from web.charts import horizontal_bars, value_text, vertical_bars
from web.stats_texts import LANGUAGES, pick_language, texts

WEB_DIR = Path(__file__).resolve().parent
STATS_TEMPLATES = web.AppKey("stats_templates", jinja2.Environment)
NO_STORE = {"Cache-Control": "no-store"}
REGION_FIRST = ("4631", "4632", "4633", "4634", "4635", "4629", "4630", "4628")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


async def _render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    # A logged-in reader gets the way back and out of the site; the public survey does not.
    logout_csrf = await csrf_token(request) if current_actor(request) is not None else None
    html = (
        request.app[STATS_TEMPLATES]
        .get_template(template)
        .render(**context, logout_csrf=logout_csrf)
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=NO_STORE)


def _languages(request: web.Request) -> list[tuple[str, str, str]]:
    links = []
    for code in LANGUAGES:
        query = {k: v for k, v in request.query.items() if k != "lang"}
        query["lang"] = code
        links.append((code, texts(code)["lang_name"], f"{request.path}?{urlencode(query)}"))
    return links


# --------------------------------------------------------------------------- statistics


def _show(t: Mapping[str, str]) -> Any:
    def show(value: Display) -> str:
        return value_text(value, t["suppressed"])

    return show


def _chart_items(rows: list[Row], label: Any, measure: str = "completed") -> list[Any]:
    return [(label(r), r.counts[measure]) for r in rows]


async def statistics_page(request: web.Request) -> web.Response:
    actor = require_actor(request, *EVALUATOR_ROLES)
    lang = pick_language(request.query.get("lang"), actor.language)
    t = texts(lang)
    app = request.app
    ref = app[appkeys.REFERENCE_DATA]
    async with app[appkeys.READ_DB]() as db:
        departments = await stats_store.departments(db)
    municipalities = sorted(
        ((m.number, m.name) for m in ref.municipalities.values()),
        key=lambda m: (m[0] not in REGION_FIRST, m[1]),
    )
    hospitals = sorted({(d.hospital_code, d.hospital_name) for d in departments})
    context: dict[str, Any] = {
        "lang": lang,
        "t": t,
        "title": t["stats_title"],
        "languages": _languages(request),
        "form": {
            name: request.query.get(name, "")
            for name in (
                "from",
                "to",
                "group_by",
                "municipality",
                "patient_group",
                "hospital",
                "department_id",
            )
        },
        "municipalities": municipalities,
        "patient_groups": PATIENT_GROUPS,
        "hospitals": hospitals,
        "departments": departments,
        "count_measures": COUNT_MEASURES,
        "travel_measures": TRAVEL_MEASURES,
        "show": _show(t),
        "percent": lambda share: f"{share * 100:.0f} %",
        "report": None,
        "error": None,
    }
    try:
        report = await report_for(request)
    except InvalidInput as exc:
        context["error"] = exc.detail
        return await _render(request, "stats/statistics.html", context, status=422)

    def period_label(row: Row) -> str:
        return row.label

    def municipality_label(row: Row) -> str:
        return t["unknown_municipality"] if row.label == "unknown" else row.label

    def group_label(row: Row) -> str:
        return t["group_" + row.key]

    def plain_label(row: Row) -> str:
        return row.label

    form = context["form"]
    form["from"] = form["from"] or report.query.date_from.isoformat()[:7]
    form["to"] = form["to"] or report.query.date_to.isoformat()[:7]
    form["group_by"] = report.query.group_by
    periods = report.tables["period"]
    query = urlencode({k: v for k, v in request.query.items() if k != "lang"})
    co2 = [
        (r.label, r.travel["assumed"]["co2e_kg"] if r.travel else t["suppressed"]) for r in periods
    ]
    context.update(
        report=report,
        period_label=period_label,
        municipality_label=municipality_label,
        group_label=group_label,
        plain_label=plain_label,
        csv_url=f"/api/v1/statistics.csv?{query}",
        json_url=f"/api/v1/statistics?{query}",
        trend_chart=vertical_bars(
            _chart_items(periods, period_label, "booked"),
            [r.counts["completed"] for r in periods],
            hidden_text=t["suppressed"],
        ),
        municipality_chart=horizontal_bars(
            _chart_items(report.tables["municipality"], municipality_label),
            hidden_text=t["suppressed"],
        ),
        group_chart=horizontal_bars(
            _chart_items(report.tables["patient_group"], group_label),
            hidden_text=t["suppressed"],
        ),
        co2_chart=vertical_bars(co2, hidden_text=t["suppressed"]),
    )
    return await _render(request, "stats/statistics.html", context)


# --------------------------------------------------------------------------- survey


def _date_text(starts_at: datetime, request: web.Request) -> str:
    return starts_at.astimezone(request.app[appkeys.SETTINGS].tz).strftime("%d.%m.%Y")


async def _message(
    request: web.Request, lang: str, heading: str, text: str, status: int
) -> web.Response:
    t = texts(lang)
    return await _render(
        request,
        "survey/message.html",
        {
            "lang": lang,
            "t": t,
            "title": t[heading],
            "heading": t[heading],
            "text": t[text],
            "languages": _languages(request),
        },
        status=status,
    )


async def _form(
    request: web.Request,
    lang: str,
    date_text: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status: int,
) -> web.Response:
    t = texts(lang)
    return await _render(
        request,
        "survey/form.html",
        {
            "lang": lang,
            "t": t,
            "title": t["survey_page_title"],
            "languages": _languages(request),
            "date_text": date_text,
            "values": values,
            "errors": errors,
            "action": f"{request.path}?{urlencode({'lang': lang})}",
        },
        status=status,
    )


async def _open(request: web.Request) -> OpenSurvey | web.Response:
    """The survey behind the link, or the page saying why it cannot be answered."""
    lang = pick_language(request.query.get("lang"), "nn")
    try:
        return await open_survey(request.app[appkeys.DB], request.match_info["token"])
    except NotFound:
        return await _message(request, lang, "invalid_title", "invalid_text", 404)
    except SurveyAnswered:
        return await _message(request, lang, "used_title", "used_text", 410)


async def survey_page(request: web.Request) -> web.Response:
    survey = await _open(request)
    if isinstance(survey, web.Response):
        return survey
    lang = pick_language(request.query.get("lang"), survey.language)
    values = {"satisfaction": "", "would_travel": "", "physical_visit_needed": "", "free_text": ""}
    return await _form(
        request, lang, _date_text(survey.consultation_starts_at, request), values, {}, 200
    )


FORM_FIELDS = ("satisfaction", "would_travel", "physical_visit_needed", "free_text")
ERROR_TEXTS = {
    "satisfaction": "error_satisfaction",
    "would_travel": "error_choice",
    "physical_visit_needed": "error_choice",
    "free_text": "error_free_text",
}


@csrf_exempt  # The secret token in the URL is the authority; there is no session to ride on.
async def survey_submit(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    survey = await _open(request)
    if isinstance(survey, web.Response):
        return survey
    lang = pick_language(request.query.get("lang"), survey.language)
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in FORM_FIELDS}
    data: dict[str, str] = {k: v for k, v in values.items() if v != ""}
    try:
        answer = SurveyAnswerInput.model_validate(data)
    except ValidationError as exc:
        t = texts(lang)
        errors: dict[str, str] = {}
        for err in exc.errors(include_url=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else "satisfaction"
            errors.setdefault(name, t[ERROR_TEXTS.get(name, "error_choice")])
        date_text = _date_text(survey.consultation_starts_at, request)
        return await _form(request, lang, date_text, values, errors, 422)
    try:
        await answer_survey(request.app[appkeys.DB], request.app[appkeys.CLOCK], token, answer)
    except SurveyAnswered:
        return await _message(request, lang, "used_title", "used_text", 410)
    return await _message(request, lang, "thanks_title", "thanks_text", 200)


# --------------------------------------------------------------------------- wiring


async def stats_css(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "static" / "stats.css")


def setup_stats_pages(app: web.Application) -> None:
    app[STATS_TEMPLATES] = _environment()
    app.router.add_get("/statistikk", statistics_page)
    app.router.add_get("/sporjeskjema/{token}", survey_page)
    app.router.add_post("/sporjeskjema/{token}", survey_submit)
    app.router.add_get("/static/stats.css", stats_css)
