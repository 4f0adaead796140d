"""The invites benchmark runs its real paths and updates only its own section of the doc."""

from __future__ import annotations

from pathlib import Path

from bench.invites import HEADING, Results, build_invites, queue_mails, report, write_section


async def test_build_and_queue_measure_the_real_paths(tmp_path: Path) -> None:
    assert build_invites(3) > 0
    mails, seconds = await queue_mails(2, tmp_path)
    assert mails == 2 * 15  # five participants: an invite and two reminders each
    assert seconds > 0


def test_write_section_replaces_its_own_section_and_keeps_the_others(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# Benchmarks\n\n## Signalling\n\nfast\n\n" + HEADING + "\n\nold\n\n## Zzz\n\nz\n"
    )
    text = report(Results(10, 1.0, 2, 30, 0.5))
    write_section(text, doc)
    result = doc.read_text()
    assert "## Signalling\n\nfast" in result
    assert "## Zzz\n\nz" in result
    assert "old" not in result
    assert result.count(HEADING) == 1
    assert "| 10 | 1.00 | 10 |" in result
    assert "| 30 | 0.50 | 60 |" in result


def test_write_section_creates_the_file(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    write_section(report(Results(1, 1.0, 1, 15, 1.0)), doc)
    assert doc.read_text().startswith("# Benchmarks\n\n" + HEADING)
