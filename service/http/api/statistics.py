"""The evaluators' statistics as JSON and CSV: `GET /api/v1/statistics` and `.csv`.

Both are built from one `StatisticsReport`, which holds no personal data and only perturbed
counts (cell-key method); this module only lays it out. Each count says it is perturbed: the
JSON's `protection` block, and the CSV's `perturbed` column, line by line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from aiohttp import web

from service.domain.statistics_query import parse_query
from service.domain.statistics_report import Display, Row, StatisticsReport
from service.http import appkeys
from service.http.auth import require_actor
from service.usecases.statistics import EVALUATOR_ROLES, compute_statistics

STATISTICS_QUERY = (
    ("from", "string", False, "first day or month (YYYY-MM-DD or YYYY-MM)"),
    ("to", "string", False, "last day or month; default: the last 12 whole months"),
    ("group_by", "string", False, "month (default) or quarter"),
    ("municipality", "string", False, "municipality number, e.g. 4631"),
    ("patient_group", "string", False, "patient group"),
    ("hospital", "string", False, "hospital code: haukeland or haraldsplass"),
    ("department_id", "integer", False, "department"),
)
NO_STORE = {"Cache-Control": "no-store"}


async def report_for(request: web.Request) -> StatisticsReport:
    """The report for the request's query string, for an evaluator (403 for anyone else)."""
    actor = require_actor(request, *EVALUATOR_ROLES)
    app = request.app
    settings = app[appkeys.SETTINGS]
    ref = app[appkeys.REFERENCE_DATA]
    today = app[appkeys.CLOCK].now().astimezone(settings.tz).date()
    query = parse_query(request.query, today, ref)
    return await compute_statistics(
        app[appkeys.READ_DB],
        actor,
        query,
        tz=settings.tz,
        ref=ref,
        factors=app[appkeys.FACTOR_SET],
        travel=app[appkeys.TRAVEL_PER_KEY],
    )


def _row_json(row: Row) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": row.key,
        "label": row.label,
        "counts": row.counts,
        "travel": row.travel if row.travel is not None else "suppressed",
    }
    if row.duration is not None or row.relatives is not None:
        body["duration_minutes"] = row.duration if row.duration is not None else "suppressed"
        body["relatives"] = row.relatives
    return body


def report_json(report: StatisticsReport) -> dict[str, Any]:
    q = report.query
    return {
        "query": {
            "from": q.date_from.isoformat(),
            "to": q.date_to.isoformat(),
            "group_by": q.group_by,
            "municipality": q.municipality,
            "patient_group": q.patient_group,
            "hospital": q.hospital,
            "department_id": q.department_id,
        },
        "factor_set": asdict(report.factor_set),
        # Every count in this report is perturbed (cell-key method); these are its parameters.
        "protection": {
            **asdict(report.protection),
            "perturbed": "every count",
            "small": f"a count perturbed below {report.protection.threshold}",
            "suppressed": "travel or durations of a count below the threshold",
        },
        "total": _row_json(report.total),
        "by": {table: [_row_json(r) for r in rows] for table, rows in report.tables.items()},
        "participants_by_role": report.participants_by_role,
        "travel_confirmation": report.travel_confirmation,
        "survey": report.survey,
        "not_costed": report.not_costed,
    }


def _safe(value: Display | str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report_csv(report: StatisticsReport) -> str:
    """Long format: one figure per line (table, key, label, measure, value, perturbed): every
    count is perturbed ("yes"); travel amounts, durations and the share with relatives (computed
    from perturbed counts) are "no"."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["table", "key", "label", "measure", "value", "perturbed"])
    fs = report.factor_set
    p = report.protection
    for name, text in (
        ("factor_set_id", fs.id),
        ("factor_set_version", fs.version),
        ("from", report.query.date_from.isoformat()),
        ("to", report.query.date_to.isoformat()),
        ("group_by", report.query.group_by),
        ("protection", p.method),
        ("protection_threshold", str(p.threshold)),
        ("protection_max_perturbation", str(p.max_perturbation)),
        ("protection_variance", str(p.variance)),
    ):
        writer.writerow(["meta", "", "", name, _safe(text), ""])

    def rows(table: str, row: Row) -> None:
        def put(measure: str, value: Display, perturbed: bool) -> None:
            writer.writerow(
                [
                    table,
                    _safe(row.key),
                    _safe(row.label),
                    measure,
                    _safe(value),
                    "yes" if perturbed else "no",
                ]
            )

        for measure, value in row.counts.items():
            put(measure, value, True)
        if row.duration is not None:
            for measure, value in row.duration.items():
                put(f"duration_minutes_{measure}", value, False)
        if row.relatives is not None:
            for measure, value in row.relatives.items():
                put(f"relatives_{measure}", value, measure != "share")
        if row.travel is None:
            put("travel", "suppressed", False)
        else:
            for basis, figures in row.travel.items():
                for measure, value in figures.items():
                    put(f"travel_{basis}_{measure}", value, False)

    rows("total", report.total)
    for table, table_rows in report.tables.items():
        for row in table_rows:
            rows(table, row)
    for section, values in (
        ("participants_by_role", report.participants_by_role),
        ("travel_confirmation", report.travel_confirmation),
        ("survey", report.survey),
    ):
        for measure, value in values.items():
            writer.writerow([section, "", "", measure, _safe(value), "yes"])
    return out.getvalue()


async def get_statistics(request: web.Request) -> web.Response:
    report = await report_for(request)
    return web.json_response(report_json(report), headers=NO_STORE)


async def get_statistics_csv(request: web.Request) -> web.Response:
    report = await report_for(request)
    return web.Response(
        text=report_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={
            **NO_STORE,
            "Content-Disposition": 'attachment; filename="samkons-statistikk.csv"',
        },
    )
