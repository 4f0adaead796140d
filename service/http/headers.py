"""Security headers on every response, errors and static files included.

Set in `on_response_prepare`, which aiohttp runs for every response it sends (raised HTTP
errors too), so no path can skip them:

- a CSP that lets scripts connect only to this origin (`connect-src 'self'`, which covers its
  WebSockets) plus `csp_connect_sources`;
- HSTS in production mode (a year, subdomains included);
- `Permissions-Policy`: camera and microphone only on the call pages and the equipment check;
- `Referrer-Policy: no-referrer` everywhere: join, survey and mail-view links carry secrets in
  their URL, and no page needs to tell another site where the reader came from;
- `Server: samkons`, without aiohttp's and Python's versions.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import hdrs, web

from service.http import appkeys
from service.settings import Settings

# Pages that use the camera and microphone: a participant's call, a clinician's call, the check.
MEDIA_PAGES: Final = re.compile(r"^/(bli-med(/[^/]*)?|samkonsultasjonar/[^/]+/video|test-utstyr)$")
_DENY_ALL: Final = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), display-capture=()"
)
_MEDIA: Final = (
    "camera=(self), microphone=(self), geolocation=(), payment=(), usb=(), display-capture=()"
)
HSTS: Final = "max-age=31536000; includeSubDomains"
# What the `Server` header says: no product version for a scanner to match against advisories.
SERVER_NAME: Final = "samkons"


def content_security_policy(settings: Settings) -> str:
    connect = " ".join(["'self'", *settings.csp_connect_sources])
    return (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; "
        f"connect-src {connect}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
        "object-src 'none'"
    )


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    settings = request.app[appkeys.SETTINGS]
    headers = response.headers
    headers[hdrs.SERVER] = SERVER_NAME
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers["Referrer-Policy"] = "no-referrer"
    headers.setdefault("Content-Security-Policy", content_security_policy(settings))
    headers["Permissions-Policy"] = _MEDIA if MEDIA_PAGES.match(request.path) else _DENY_ALL
    if settings.mode == "production":
        headers["Strict-Transport-Security"] = HSTS


def setup_security_headers(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
