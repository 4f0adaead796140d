"""Templates are compiled once per process: apps share an environment per language and time
zone, and each language keeps its own catalog, escaping and local time."""

from __future__ import annotations

from datetime import UTC, datetime

from service.domain.i18n import LANGUAGES
from service.http.app import create_app
from service.settings import Settings
from web.pages.context import ENV_KEYS, TRANSLATION_KEYS

NOON_UTC = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def test_two_apps_share_the_compiled_templates() -> None:
    first = create_app(Settings(mode="test"))
    second = create_app(Settings(mode="test"))
    for language in LANGUAGES:
        env = first[ENV_KEYS[language]]
        assert second[ENV_KEYS[language]] is env
        # The same Template object: the second app compiles nothing.
        assert second[ENV_KEYS[language]].get_template("login.html") is env.get_template(
            "login.html"
        )
        assert second[TRANSLATION_KEYS[language]] is first[TRANSLATION_KEYS[language]]


def test_each_language_keeps_its_catalog_and_escaping() -> None:
    app = create_app(Settings(mode="test"))
    source = '{{ _("Statistics") }} {{ value }}'
    rendered = {
        language: app[ENV_KEYS[language]].from_string(source).render(value="<b>")
        for language in LANGUAGES
    }
    assert rendered["en"] == "Statistics &lt;b&gt;"
    assert rendered["nn"] == "Statistikk &lt;b&gt;"
    assert len({app[ENV_KEYS[language]] for language in LANGUAGES}) == len(LANGUAGES)


def test_another_time_zone_gets_its_own_environment() -> None:
    oslo = create_app(Settings(mode="test"))
    utc = create_app(Settings(mode="test", timezone="UTC"))
    assert oslo[ENV_KEYS["en"]] is not utc[ENV_KEYS["en"]]
    template = "{{ moment | time }}"
    assert oslo[ENV_KEYS["en"]].from_string(template).render(moment=NOON_UTC) == "13:00"
    assert utc[ENV_KEYS["en"]].from_string(template).render(moment=NOON_UTC) == "12:00"
