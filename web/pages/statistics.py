"""The statistics page (`/statistikk`, evaluators): filters, charts and tables of the report
the JSON and CSV exports also give.

Charts are inline SVG built from `web.charts` and styled from `/static/stats.css`, with no
script at all. The words are in the page catalogs; the exports keep their machine keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from service.domain.errors import InvalidInput
from service.domain.i18n import N_
from service.domain.statistics_query import PATIENT_GROUPS
from service.domain.statistics_report import COUNT_MEASURES, HIDDEN, TRAVEL_MEASURES, Display, Row
from service.http import appkeys
from service.http.api.statistics import report_for
from service.http.auth import require_actor
from service.usecases.statistics import EVALUATOR_ROLES, filter_departments
from web.charts import horizontal_bars, percent_text, value_text, vertical_bars
from web.pages import labels
from web.pages.context import render, translator
from web.pages.i18n import choose_language
from web.pages.statistics_pdf import statistics_pdf

RANGE_ERROR = N_(
    "Choose «From» and «To» as months in the years the statistics cover, «From» no later than «To», at most 60 periods."  # noqa: E501
)
# The page's own words for a filter the query refused (the API's problem details are English).
FILTER_ERROR = N_("Check the filters and try again.")
FILTER_ERRORS = {
    "from": RANGE_ERROR,
    "to": RANGE_ERROR,
    "group_by": N_("Group by month or by quarter."),
    "municipality": N_("Choose a municipality from the list."),
    "patient_group": N_("Choose a patient group from the list."),
    "department_id": N_("Choose a department from the list."),
}

REGION_FIRST = ("4631", "4632", "4633", "4634", "4635", "4629", "4630", "4628")
HIDDEN_TEXT = N_("hidden")
UNKNOWN_MUNICIPALITY = N_("Unknown")
# Travel modes, for the factors that could not be costed ("ambulance").
TRAVEL_MODE = {
    "car": N_("Car"),
    "bus": N_("Bus"),
    "boat": N_("Boat"),
    "taxi_pasientreiser": N_("Taxi (patient travel)"),
    "ambulance": N_("Ambulance"),
}
# One definition per word on the page: "not answered" is an invitation nobody answered; an
# answer that skipped a question "left it blank".
SURVEY_ANSWER = {
    "yes": labels.ANSWER["yes"],
    "no": labels.ANSWER["no"],
    "blank": N_("Left blank"),
}


def _chart_items(
    rows: list[Row], label: Callable[[Row], str], measure: str = "completed"
) -> list[tuple[str, Display]]:
    return [(label(r), r.counts[measure]) for r in rows]


async def statistics_page(request: web.Request) -> web.Response:
    actor = require_actor(request, *EVALUATOR_ROLES)
    language = choose_language(request)
    gettext = translator(request, language)
    hidden = gettext(HIDDEN_TEXT)
    app = request.app
    ref = app[appkeys.REFERENCE_DATA]
    departments = await filter_departments(app[appkeys.READ_DB], actor)
    municipalities = sorted(
        ((m.number, m.name) for m in ref.municipalities.values()),
        key=lambda m: (m[0] not in REGION_FIRST, m[1]),
    )
    hospitals = sorted({(d.hospital_code, d.hospital_name) for d in departments})
    context: dict[str, Any] = {
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
        "show": lambda value: value_text(value, hidden, language),
        "hidden": HIDDEN_TEXT,
        "percent": lambda share: percent_text(share, language),
        "travel_mode": lambda mode: gettext(TRAVEL_MODE[mode]) if mode in TRAVEL_MODE else mode,
        "survey_answer": SURVEY_ANSWER,
        "report": None,
        "error": None,
    }
    try:
        report = await report_for(request)
    except InvalidInput as exc:
        context["error"] = gettext(FILTER_ERRORS.get(exc.field or "", FILTER_ERROR))
        return await render(request, "stats/statistics.html", context, status=422)

    def period_label(row: Row) -> str:
        return row.label

    def municipality_label(row: Row) -> str:
        return gettext(UNKNOWN_MUNICIPALITY) if row.label == "unknown" else row.label

    def group_label(row: Row) -> str:
        return gettext(labels.label(labels.PATIENT_GROUP, row.key))

    def plain_label(row: Row) -> str:
        return row.label

    form = context["form"]
    form["from"] = form["from"] or report.query.date_from.isoformat()[:7]
    form["to"] = form["to"] or report.query.date_to.isoformat()[:7]
    form["group_by"] = report.query.group_by
    periods = report.tables["period"]
    query = urlencode({k: v for k, v in request.query.items() if k != "lang"})
    co2 = [(r.label, r.travel["assumed"]["co2e_kg"] if r.travel else HIDDEN) for r in periods]
    context.update(
        report=report,
        period_label=period_label,
        municipality_label=municipality_label,
        group_label=group_label,
        plain_label=plain_label,
        csv_url=f"/api/v1/statistics.csv?{query}",
        pdf_url=f"/statistikk/rapport.pdf?{urlencode(dict(request.query))}",
        json_url=f"/api/v1/statistics?{query}",
        trend_chart=vertical_bars(
            _chart_items(periods, period_label, "booked"),
            [r.counts["completed"] for r in periods],
            hidden_text=hidden,
            language=language,
        ),
        municipality_chart=horizontal_bars(
            _chart_items(report.tables["municipality"], municipality_label),
            hidden_text=hidden,
            language=language,
        ),
        group_chart=horizontal_bars(
            _chart_items(report.tables["patient_group"], group_label),
            hidden_text=hidden,
            language=language,
        ),
        co2_chart=vertical_bars(co2, hidden_text=hidden, language=language),
    )
    return await render(request, "stats/statistics.html", context)


def setup_statistics_routes(app: web.Application) -> None:
    app.router.add_get("/statistikk", statistics_page)
    app.router.add_get("/statistikk/rapport.pdf", statistics_pdf)
