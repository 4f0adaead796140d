"""The server-rendered pages: routes, templates, static files and translations.

`setup_web(app)` wires everything in; `render_error_page` is what `service.http.problems` uses to
show
an error to a person rather than to an API client.
"""

from __future__ import annotations

from aiohttp import web

from web.pages.accessibility import setup_accessibility_routes
from web.pages.booking import setup_booking_routes
from web.pages.calendar import setup_calendar_routes
from web.pages.consultations import setup_consultation_routes
from web.pages.context import STATIC_DIR, setup_templates
from web.pages.errors import render_error_page
from web.pages.navigation import LOGIN
from web.pages.session import home, login_form, login_submit, logout, setup_session_routes
from web.pages.statistics import setup_statistics_routes
from web.pages.survey import setup_survey_routes

__all__ = ["render_error_page", "setup_web"]


def setup_web(app: web.Application) -> None:
    setup_templates(app)
    app.router.add_get("/", home)
    app.router.add_get(LOGIN, login_form)
    app.router.add_post(LOGIN, login_submit)
    app.router.add_post("/logg-ut", logout)
    setup_session_routes(app)
    setup_booking_routes(app)
    setup_consultation_routes(app)
    setup_calendar_routes(app)
    setup_statistics_routes(app)
    setup_survey_routes(app)
    setup_accessibility_routes(app)
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=False)
