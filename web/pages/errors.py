"""Error pages in the reader's language: 403, 404, 500, CSRF failures and the rest.

`render_error_page` is what `service.http.problems` calls for errors on page paths: domain errors
and
aiohttp's own HTTP errors (unknown path, wrong method).
A request that needs a login is sent to the login page instead of being shown an error.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from yarl import URL

from service.domain.i18n import N_
from web.pages.context import render
from web.pages.form_errors import KNOWN_DETAILS
from web.pages.navigation import see_other

log = logging.getLogger(__name__)

TITLES: Final = {
    400: N_("Something is wrong with the request"),
    403: N_("No access"),
    404: N_("Page not found"),
    405: N_("Not possible here"),
    409: N_("Not possible right now"),
    413: N_("Too much data"),
    422: N_("Something in the form is not right"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
    503: N_("Not available right now"),
}

EXPLANATIONS: Final = {
    403: N_("You do not have access to this page."),
    404: N_("The page does not exist, or you do not have access to it."),
    500: N_("Something went wrong on our side. It has been logged. Try again later."),
    503: N_("This part of the service is not available right now. Try again later."),
}
GO_BACK: Final = N_("Go back and try again.")


def login_url(request: web.Request) -> str:
    if request.method == "GET" and request.path != "/":
        return str(URL("/logg-inn").with_query(neste=request.path_qs))
    return "/logg-inn"


async def render_error_page(
    request: web.Request, status: int, title: str, detail: str
) -> web.StreamResponse:
    """An error as a page; `title` and `detail` are the domain's English words."""
    if status == 401:
        return see_other(login_url(request))
    explanation = KNOWN_DETAILS.get(detail) or EXPLANATIONS.get(status, GO_BACK)
    return await render(
        request,
        "error.html",
        {
            "status": status,
            "title": TITLES.get(status, TITLES[500] if status >= 500 else TITLES[400]),
            "explanation": explanation,
        },
        status=status,
        take_flashes=False,
    )
