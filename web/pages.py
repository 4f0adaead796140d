"""Page handlers: the server-rendered web pages (plain HTML forms; JS only where it helps)."""

from __future__ import annotations

from aiohttp import web


async def render_error_page(
    request: web.Request, status: int, title: str, detail: str
) -> web.StreamResponse:
    text = f"<!doctype html><title>{status}</title><h1>{title}</h1><p>{detail}</p>"
    return web.Response(status=status, text=text, content_type="text/html")


def setup_web(app: web.Application) -> None:
    pass
