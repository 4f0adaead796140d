"""The HTTP access log, without secrets: join, feed and survey tokens never reach the log.

Paths that carry a token have it replaced, and query strings are dropped entirely (they may
carry a token, or search terms about a patient). The path is logged as sent, percent-encoded:
decoded, a `%0A` would start a forged log line and a `%00` would put a NUL in the log.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

# Every path segment after these prefixes is a secret handed to a person.
_SECRET_PATHS = re.compile(r"^(/bli-med|/kalender|/sporjeskjema)/[^/]+")
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def redact_path(path: str) -> str:
    return _SECRET_PATHS.sub(r"\1/[token]", path)


def loggable_path(path: str) -> str:
    """A raw (percent-encoded) request path, redacted, with nothing that could break a line."""
    redacted = redact_path(path)
    return _UNPRINTABLE.sub(lambda m: f"%{ord(m.group()):02X}", redacted)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms",
            request.method,
            loggable_path(request.rel_url.raw_path),
            response.status,
            time * 1000,
        )


def access_logger() -> logging.Logger:
    return logging.getLogger("samkons.access")
