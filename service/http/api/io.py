"""Reading request bodies and query parameters into validated inputs."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from service.domain.errors import DomainError, InvalidInput
from service.domain.schemas import ROW_ID_RULE, as_row_id, as_whole_number

M = TypeVar("M", bound=BaseModel)


class MalformedJson(DomainError):
    status = 400
    title = "Malformed JSON"
    type_slug = "malformed-json"


class UnsupportedMediaType(DomainError):
    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse a JSON body into `model`, strictly: JSON's own types only, so `true` is no id and
    `"11"` no number. Pydantic's errors become 422 problems with the field; a body that is not
    JSON (or nests deeper than the parser allows) is a 400."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.", field="body")
    raw = await request.read()  # aiohttp refuses bodies over client_max_size with 413
    try:
        return model.model_validate_json(raw or b"null", strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if errors and errors[0]["type"] == "json_invalid":
            reason = errors[0].get("ctx", {}).get("error", errors[0]["msg"])
            raise MalformedJson(f"The body is not valid JSON: {reason}", field="body") from exc
        if errors and errors[0]["type"] == "model_type" and not errors[0]["loc"]:
            raise InvalidInput("The body must be a JSON object.", field="body") from exc
        raise


def query_flag(request: web.Request, name: str) -> bool:
    """A true/false switch from the query string; left out is false."""
    value = request.query.get(name, "false")
    if value not in ("true", "false"):
        raise InvalidInput(f"{name} must be true or false.", field=name)
    return value == "true"


def query_number(request: web.Request, name: str, low: int, high: int, *, default: int) -> int:
    """A whole number from low to high from the query string, or `default` when left out."""
    value = request.query.get(name) or None
    if value is None:
        return default
    number = as_whole_number(value, low, high)
    if number is None:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}.", field=name)
    return number


def query_int(request: web.Request, name: str, *, required: bool = False) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"The query parameter {name} is required.", field=name)
        return None
    return parse_row_id(value, name)


def parse_row_id(value: str, name: str) -> int:
    """An id from a query string or path: a whole number that can name a row."""
    number = as_row_id(value)
    if number is None:
        raise InvalidInput(f"{name} must be {ROW_ID_RULE}.", field=name)
    return number


def query_datetime(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be an ISO 8601 date-time.", field=name) from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name} must include a time zone offset.", field=name)
    return parsed
