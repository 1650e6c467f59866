"""The PDF the city publishes as a barrier-free document: its text as pdftotext reads it, and
its structure as a screen reader meets it (PDF/UA-1: tagged, titled, in a language, headings,
tables with header cells, charts as figures with a text alternative)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest

from bot.app import App
from bot.report import build_report
from testkit.support import Resident
from tests.report_support import pdf_text, structure

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None and not os.environ.get("CI"),
    reason="pdftotext (poppler-utils) is not installed; .ci/run installs it",
)


@pytest.fixture
async def pdf(coordination: App, tmp_path: Path) -> Path:
    app = coordination
    await Resident(app.handle, "alice").submit("Abendkurse Deutsch, Mail an alice@example.org")
    await Resident(app.handle, "bob").submit("Mehr Kita-Plätze", anonymity="Mit meinem Namen")
    await Resident(app.handle, "cora").command(
        "/state F-2026-0001 implemented Die VHS bietet ab März zwei Abendkurse an."
    )
    assert app.deps is not None
    report = await build_report(app.deps, 2026, "pdf")
    path = tmp_path / report.file_name
    path.write_bytes(report.data)
    return path


def test_the_text_reads_as_the_report(pdf: Path) -> None:
    text = pdf_text(pdf.read_bytes(), layout=True)

    assert "Rückmeldungen aus der Bürgerschaft 2026" in text
    assert "Empfehlungen und was aus ihnen wurde" in text
    assert "F-2026-0001" in text and "Die VHS bietet ab März zwei Abendkurse an." in text
    assert "Abendkurse Deutsch, Mail an […]" in text
    for secret in ("alice@example.org", "Alice", "Bob", "u-bob"):
        assert secret not in text


def test_it_is_a_tagged_pdf_ua_document(pdf: Path) -> None:
    with pikepdf.open(pdf) as document:
        root = document.Root
        assert root.MarkInfo.Marked is True
        assert str(root.Lang) == "de"
        assert root.ViewerPreferences.DisplayDocTitle is True
        assert str(document.docinfo.Title) == "Rückmeldungen aus der Bürgerschaft 2026"
        with document.open_metadata() as xmp:
            assert xmp.get("pdfuaid:part") == "1"
        tags = [str(e.S) for e in structure(document)]
        figures = [e for e in structure(document) if e.S == "/Figure"]

    for tag in ("/H1", "/H2", "/H3", "/Table", "/TH", "/TD", "/Caption", "/L", "/LI"):
        assert tag in tags, f"no {tag} in the structure tree"
    alternatives = sorted(str(f.Alt) for f in figures)
    assert len(alternatives) == 2
    assert alternatives[0].startswith("Balkendiagramm der Rückmeldungen je Handlungsfeld: ")
    assert "Bildung und Sprache 2" in alternatives[0]
    assert alternatives[1].startswith("Gestapeltes Balkendiagramm der Rückmeldungen je Monat")
    assert "Juni 2" in alternatives[1]


def test_the_pages_render(pdf: Path, tmp_path: Path) -> None:
    """The first page as a picture (what the README shows), via poppler."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm missing")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    (page,) = tmp_path.glob("p*.png")
    assert page.stat().st_size > 5_000
