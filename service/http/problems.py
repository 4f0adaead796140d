"""Turns every error into a clear answer: RFC 9457 problem details for the API, a page otherwise.

Handlers and the domain raise; only this middleware formats errors, so no route returns a 500
for bad input and no error text is built twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

from service.domain.errors import DomainError, MalformedBody
from service.http.accesslog import loggable_path
from service.http.logs import scrubbed_traceback

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PageRenderer = Callable[[web.Request, int, str, str], Awaitable[web.StreamResponse]]


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_slug: str,
    field: str | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": f"https://samkons.no/problems/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field:
        body["field"] = field
    if extra:
        body.update(extra)
    return web.json_response(body, status=status, content_type=PROBLEM_JSON)


def validation_problem(exc: ValidationError) -> web.Response:
    errors = [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return problem_response(
        422,
        "Invalid input",
        f"{first['field']}: {first['message']}",
        type_slug="invalid-input",
        field=first["field"],
        extra={"errors": errors},
    )


# aiohttp's own refusals say only "404: Not Found"; a client gets a sentence.
_HTTP_DETAILS = {
    404: "There is nothing at this address in the API; see /api/openapi.json.",
    405: "This address does not take that method; see /api/openapi.json.",
    413: "The request body is larger than the service accepts.",
}


def _slug(status: int) -> str:
    return {
        400: "bad-request",
        401: "not-authenticated",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        409: "conflict",
        413: "payload-too-large",
        415: "unsupported-media-type",
        429: "too-many-requests",
    }.get(status, "http-error")


def make_problem_middleware(
    render_page: PageRenderer | None = None,
    is_page: Callable[[str], bool] = lambda _path: True,
) -> Any:
    """`render_page` shows errors on page paths (those `is_page` accepts) to people."""

    @web.middleware
    async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        wants_json = request.path.startswith("/api/")
        try:
            try:
                return await handler(request)
            except HttpProcessingError as exc:
                # A body found malformed only as the handler reads it (a broken multipart form,
                # say) is the client's mistake like any other bad input.
                raise MalformedBody("The request body could not be read.") from exc
        except DomainError as exc:
            response: web.StreamResponse
            if wants_json or render_page is None:
                response = problem_response(
                    exc.status,
                    exc.title,
                    exc.detail,
                    type_slug=exc.type_slug,
                    field=exc.field,
                    extra=exc.problem_members() or None,
                )
            else:
                response = await render_page(request, exc.status, exc.title, exc.detail)
            retry_after = getattr(exc, "retry_after", None)
            if isinstance(retry_after, int):
                response.headers["Retry-After"] = str(retry_after)
            return response
        except ValidationError as exc:
            return validation_problem(exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            if not wants_json:
                # aiohttp's own errors (unknown path, wrong method) on a page get a page too.
                if render_page is None or not is_page(request.path):
                    raise
                return await render_page(request, exc.status, exc.reason, "")
            detail = _HTTP_DETAILS.get(exc.status) or exc.text or exc.reason
            return problem_response(exc.status, exc.reason, detail, type_slug=_slug(exc.status))
        except Exception as error:
            # The log gets the traceback, scrubbed of what it may quote, and no request body
            # (it may hold personal data); the path as the access log writes it.
            log.error(
                "unhandled error on %s %s\n%s",
                request.method,
                loggable_path(request.rel_url.raw_path),
                scrubbed_traceback(error),
            )
            if wants_json or render_page is None:
                return problem_response(
                    500,
                    "Internal error",
                    "Something went wrong; it has been logged.",
                    type_slug="internal",
                )
            return await render_page(request, 500, "Internal error", "")

    return problem_middleware
