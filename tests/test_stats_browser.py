"""Headless Chromium opens the statistics page over the demo data and checks that the charts
rendered: SVG bars with real size, the project's stylesheet applied, no CSP violation.

Uses the system Chromium only (never a downloaded browser); a missing Chromium fails the test.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from service.demo import seed_demo
from service.domain.clock import FakeClock
from service.http.app import create_app
from service.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.browser
async def test_statistics_page_renders_charts_in_chromium(
    aiohttp_client: Any, tmp_path: Path, sqlite_template: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is required at {CHROMIUM} for the browser tests", pytrace=False)
    database = tmp_path / "demo.sqlite3"
    shutil.copy(sqlite_template, database)
    settings = Settings(
        mode="test",
        database_url=f"sqlite+aiosqlite:///{database}",
        scheduler_enabled=False,
        outbox_dir=tmp_path / "outbox",
    )
    clock = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    logins = await seed_demo(settings, clock=clock)
    email, password = next((e, p) for role, e, p in logins if role == "evaluator")
    client = await aiohttp_client(create_app(settings, clock=clock))
    base = str(client.make_url("/")).rstrip("/")

    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            problems: list[str] = []
            page.on(
                "console",
                lambda msg: (
                    problems.append(msg.text)
                    if msg.type in ("error", "warning")
                    and "Failed to load resource" not in msg.text
                    else None
                ),
            )
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            resp = await page.request.post(
                f"{base}/api/v1/session", data={"email": email, "password": password}
            )
            assert resp.ok, await resp.text()
            response = await page.goto(f"{base}/statistikk")
            assert response is not None and response.status == 200
            await page.screenshot(path=str(tmp_path / "statistikk.png"), full_page=True)

            for chart in ("trend", "by-municipality", "by-group", "co2"):
                svg = page.locator(f'svg[data-chart="{chart}"]')
                await svg.wait_for()
                box = await svg.bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 100, chart
                drawn = await svg.evaluate(
                    "s => [...s.querySelectorAll('rect.bar')]"
                    ".filter(r => r.getBBox().width > 1 && r.getBBox().height > 1).length"
                )
                assert drawn >= 3, chart

            trend = page.locator('svg[data-chart="trend"] rect.bar')
            heights = await trend.evaluate_all("rs => rs.map(r => r.getBBox().height)")
            assert len(heights) == 12
            visible = [h for h in heights if h > 0]
            assert len(visible) >= 6
            assert sum(visible[-3:]) > 2 * sum(visible[:3])  # the pilot grew over the year
            labels = await page.locator(
                'svg[data-chart="by-municipality"] text'
            ).all_text_contents()
            assert {"Alver", "Fedje", "Vaksdal"} <= set(labels)
            # The stylesheet came from the project and reached the SVG.
            stroke = await page.locator("rect.bar").first.evaluate(
                "r => getComputedStyle(r).stroke"
            )
            assert stroke == "rgb(0, 90, 112)"  # --primary of samkons.css

            # In each language, figures in the reader's locale and labels inside their chart.
            patterns = {
                "nn": r"^\d{1,3}(\u00a0\d{3})*(,\d)?$",
                "nb": r"^\d{1,3}(\u00a0\d{3})*(,\d)?$",
                "en": r"^\d{1,3}(,\d{3})*(\.\d)?$",
            }
            for language, pattern in patterns.items():
                response = await page.goto(f"{base}/statistikk?lang={language}")
                assert response is not None and response.status == 200
                assert await page.locator("html").get_attribute("lang") == language
                cells = await page.locator("#travel-assumed tfoot td").all_text_contents()
                figures = [c.strip() for c in cells]
                assert figures and all(re.match(pattern, f) for f in figures), (language, figures)
                decimal = "." if language == "en" else ","
                assert any(decimal in f for f in figures), (language, figures)
                left = await page.locator('svg[data-chart="by-group"] text').evaluate_all(
                    "ts => ts.map(t => t.getBBox().x)"
                )
                assert left and min(left) >= 0, (language, left)
            assert not [m for m in problems if "Content Security Policy" in m], problems
            assert not problems, problems
        finally:
            await context.close()
