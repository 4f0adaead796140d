"""The HTTP access log, without secrets: join, feed and survey tokens never reach the log.

Paths that carry a token have it replaced, and query strings are dropped entirely (they may
carry a token, or search terms about a patient).
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

# Every path segment after these prefixes is a secret handed to a person.
_SECRET_PATHS = re.compile(r"^(/bli-med|/kalender|/sporjeskjema)/[^/]+")


def redact_path(path: str) -> str:
    return _SECRET_PATHS.sub(r"\1/[token]", path)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms",
            request.method,
            redact_path(request.rel_url.path),
            response.status,
            time * 1000,
        )


def access_logger() -> logging.Logger:
    return logging.getLogger("samkons.access")
