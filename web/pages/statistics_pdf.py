"""The evaluation report as a PDF (`/statistikk/rapport.pdf`, evaluators): ReportLab.

This module owns laying out one `StatisticsReport` (the same the page, the JSON and the CSV
show, for the same query string) as a printable report in the reader's language: the period and
filters, the protection used and the factor set, use by period with a chart, municipalities,
patient groups, travel avoided as assumed and as confirmed, and the survey. Charts are PNG
images drawn with Pillow, so a reader without colour or vector support still gets them; every
figure is written as the page writes it (Babel, the reader's locale).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from aiohttp import web
from PIL import Image as PILImage
from PIL import ImageDraw
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from service.domain.i18n import N_
from service.domain.statistics_report import COUNT_MEASURES, TRAVEL_MEASURES, Display, Row
from service.http.api.statistics import NO_STORE, report_for
from service.http.auth import require_actor
from service.usecases.statistics import EVALUATOR_ROLES
from web.charts import number, value_text
from web.pages import labels
from web.pages.context import translator
from web.pages.i18n import choose_language

PROTECTION = N_(
    "Every count is perturbed: a small amount (at most 3 either way) is added, always the same "
    "for the same people, so figures from different views cannot be subtracted to find anyone, "
    "and rows need not add up to the totals. Counts below 5 are shown as «<5»; travel and "
    "durations of such counts are marked «hidden»."
)


def bar_chart_png(
    items: Sequence[tuple[str, Display]], width: int = 900, height: int = 320
) -> bytes:
    """Bars with their values written above them (hidden values get no bar), as a PNG."""
    image = PILImage.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    left, bottom, top = 20, 40, 24
    values = [number(v) or 0.0 for _, v in items]
    top_value = max(values, default=0.0) or 1.0
    slot = (width - 2 * left) / max(len(items), 1)
    for i, ((label, value), v) in enumerate(zip(items, values, strict=True)):
        x0 = left + i * slot + slot * 0.2
        x1 = left + (i + 1) * slot - slot * 0.2
        y1 = height - bottom
        y0 = y1 - (height - bottom - top) * v / top_value
        if v:
            draw.rectangle((x0, y0, x1, y1), fill=(31, 95, 139), outline="black")
        text = value if isinstance(value, str) else f"{v:.0f}"
        draw.text((x0, y0 - 14), text, fill="black")
        draw.text((x0, y1 + 6), label[-7:], fill="black")
    draw.line((left, height - bottom, width - left, height - bottom), fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def build_pdf(report_rows: Callable[[], list[Flowable]]) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, title="samkons"
    )
    doc.build(report_rows())
    return out.getvalue()


async def statistics_pdf(request: web.Request) -> web.Response:
    require_actor(request, *EVALUATOR_ROLES)
    language = choose_language(request)
    _ = translator(request, language)
    report = await report_for(request)
    styles = getSampleStyleSheet()

    def show(value: Display) -> str:
        return value_text(value, _("hidden"), language)

    def table(header: list[str], rows: list[list[str]]) -> Table:
        t = Table([header, *rows], repeatRows=1, hAlign="LEFT")
        t.setStyle(
            TableStyle(
                [
                    ("FONTSIZE", (0, 0), (-1, -1), 8),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    def counts(rows: list[Row], label: Callable[[Row], str]) -> Table:
        header = [""] + [_(labels.MEASURE[m]) for m in COUNT_MEASURES]
        body = [[label(r)] + [show(r.counts[m]) for m in COUNT_MEASURES] for r in rows]
        body.append([_("Total")] + [show(report.total.counts[m]) for m in COUNT_MEASURES])
        return table(header, body)

    def rows() -> list[Flowable]:
        q = report.query
        fs = report.factor_set
        p = report.protection
        periods = report.tables["period"]
        chart = bar_chart_png([(r.label, r.counts["booked"]) for r in periods])
        travel = report.total.travel
        travel_rows = (
            [
                [_(labels.MEASURE[m]), show(travel["assumed"][m]), show(travel["confirmed"][m])]
                for m in TRAVEL_MEASURES
            ]
            if travel is not None
            else [[_("hidden"), "", ""]]
        )
        s = report.survey
        survey_rows = [
            [_("Invited"), show(s["invited"])],
            [_("Answered"), show(s["answered"])],
            [_("Not answered"), show(s["unanswered"])],
            *(
                [f"{_('Satisfaction (1–5)')}: {i}", show(s[f"satisfaction_{i}"])]
                for i in range(1, 6)
            ),
        ]
        return [
            Paragraph(_("Joint consultation statistics"), styles["Title"]),
            Paragraph(
                f"{q.date_from.isoformat()} – {q.date_to.isoformat()}"
                + "".join(
                    f" · {value}"
                    for value in (q.municipality, q.patient_group, q.hospital, q.department_id)
                    if value is not None
                ),
                styles["Normal"],
            ),
            Paragraph(_(PROTECTION), styles["Normal"]),
            Paragraph(
                f"{p.method}: {p.threshold} · ±{p.max_perturbation} · {p.variance}",
                styles["Normal"],
            ),
            Paragraph(f"{_('Factor set')}: {fs.id} {fs.version}", styles["Normal"]),
            Spacer(1, 6 * mm),
            Paragraph(_("Joint consultations per period"), styles["Heading2"]),
            Image(io.BytesIO(chart), width=170 * mm, height=60 * mm),
            counts(periods, lambda r: r.label),
            Paragraph(_("Completed joint consultations by municipality"), styles["Heading2"]),
            counts(report.tables["municipality"], lambda r: r.label),
            Paragraph(_("Completed joint consultations by patient group"), styles["Heading2"]),
            counts(
                report.tables["patient_group"],
                lambda r: _(labels.label(labels.PATIENT_GROUP, r.key)),
            ),
            Paragraph(_("Travel avoided («grønn helse»)"), styles["Heading2"]),
            table(["", _("Assumed"), _("Confirmed")], travel_rows),
            Paragraph(_("Survey"), styles["Heading2"]),
            table(["", ""], survey_rows),
        ]

    return web.Response(
        body=build_pdf(rows),
        content_type="application/pdf",
        headers={
            **NO_STORE,
            "Content-Disposition": 'attachment; filename="samkons-rapport.pdf"',
        },
    )
