"""The catalogs are complete and tidy: every text the pages, e-mails and calendar entries use is
translated to nynorsk and bokmål, no catalog holds texts nobody uses, and placeholders survive
translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from service.domain.i18n import load_translations, po_path

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [
    ("web/templates/**.html", "jinja2.ext:babel_extract"),
    ("web/**.py", "python"),
    ("service/**.py", "python"),
]
KEYWORDS = {"_": None, "gettext": None, "N_": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def used_msgids() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHOD_MAP, keywords=KEYWORDS
    ):
        assert isinstance(message, str), f"{filename}:{lineno}: plural forms are not expected"
        used.setdefault(message, []).append(f"{filename}:{lineno}")
    return used


def catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as po:
        return read_po(po, locale=language)


def translations_of(cat: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in cat if m.id}


def test_the_extractors_find_texts_in_templates_and_handlers() -> None:
    used = used_msgids()
    places = {loc.split(":")[0] for locs in used.values() for loc in locs}
    assert any(p.startswith("web/templates/") for p in places)
    assert any(p.startswith("web/pages/") for p in places)
    assert "Book a joint consultation" in used  # in a template
    assert "The consultation is cancelled." in used  # a flash message in a handler
    assert "Hello %(name)s," in used  # an e-mail's greeting
    assert "Joint consultations" in used  # a calendar feed's name


@pytest.mark.parametrize("language", ["nn", "nb"])
def test_every_text_in_use_is_translated(language: str) -> None:
    translated = translations_of(catalog(language))
    missing = {m: where for m, where in used_msgids().items() if not translated.get(m, "").strip()}
    assert not missing, f"untranslated in {language}: {missing}"


@pytest.mark.parametrize("language", ["nn", "nb"])
def test_no_catalog_has_unused_texts(language: str) -> None:
    unused = set(translations_of(catalog(language))) - set(used_msgids())
    assert not unused, f"unused in {language}: {unused}"


@pytest.mark.parametrize("language", ["nn", "nb"])
def test_placeholders_are_kept(language: str) -> None:
    for msgid, msgstr in translations_of(catalog(language)).items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid


@pytest.mark.parametrize("language", ["nn", "nb"])
def test_no_entry_is_fuzzy_or_obsolete(language: str) -> None:
    cat = catalog(language)
    assert not cat.obsolete
    assert not [m.id for m in cat if m.id and m.fuzzy]


def test_catalogs_load_in_memory_and_english_is_the_msgids() -> None:
    assert load_translations("nn").gettext("Log in") == "Logg inn"
    assert load_translations("nb").gettext("Name") == "Navn"
    assert load_translations("nn").gettext("Name") == "Namn"
    assert load_translations("en").gettext("Name") == "Name"
