"""The image is built from what the package needs: the Dockerfile (which cannot be built on this
machine) copies every file the package metadata names and every package; the licence is there."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_copies() -> set[str]:
    copied: set[str] = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
        if match:
            copied.update(match.group(1).split())
    return copied


def test_the_dockerfile_copies_what_the_package_build_reads() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {"pyproject.toml", project["readme"], *project.get("license-files", [])}
    packages = {"service", "signalling", "scheduler", "web"}
    assert needed | packages <= dockerfile_copies()
    for name in needed:
        assert (ROOT / name).is_file(), name


def test_the_license_is_the_agpl() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007")
