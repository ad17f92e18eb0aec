"""``biopair report DIR -o SITE/``: one page per scenario and an index by topic, written
atomically, never through a link; a bad scenario is one line and the rest are written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from biopair import cli
from biopair.views import html

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "tls/tls13-full-handshake.toml": "scenarios/tls/tls13-full-handshake.toml",
    "manpage/connect-returns-1.toml": "scenarios/manpage/connect-returns-1.toml",
    "faults/tampered-application-data.toml": "scenarios/faults/tampered-application-data.toml",
}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    for rel, src in SOURCES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / src, root / rel)
    return root


def test_report_writes_a_page_per_scenario_and_an_index_by_topic(
        library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    assert cli.main(["report", str(library), "-o", str(site)]) == 0
    assert "wrote 4 files" in capsys.readouterr().out
    for rel in SOURCES:
        page = (site / rel).with_suffix(".html").read_text()
        assert 'id="diagram"' in page and 'href="../index.html"' in page
    index = (site / "index.html").read_text()
    # sections in the index's reading order (man pages first), topics from the tags
    assert index.index("The man pages, executable") < index.index("TLS behaviour")
    assert "<h3>SSL_connect(3)</h3>" in index and "<h3>Handshakes</h3>" in index
    for rel in SOURCES:
        assert f'href="{Path(rel).with_suffix(".html").as_posix()}"' in index


def test_a_bad_scenario_is_one_line_and_the_others_are_written(
        library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (library / "tls" / "bad.toml").write_text('title = "x"\nabout = "y"\nbogus = 1\n')
    site = tmp_path / "site"
    assert cli.main(["report", str(library), "-o", str(site)]) == 2
    captured = capsys.readouterr()
    # One line per problem: the unknown key and the missing steps.
    lines = captured.err.splitlines()
    assert len(lines) == 2 and all("bad.toml: " in line for line in lines)
    assert "bogus" in captured.err
    assert (site / "tls" / "tls13-full-handshake.html").exists()
    assert not (site / "tls" / "bad.html").exists()


def test_a_link_inside_the_site_is_never_written_through(
        library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    elsewhere = tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    (site / "tls").symlink_to(elsewhere)
    assert cli.main(["report", str(library), "-o", str(site)]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and err.count("\n") == 1
    assert list(elsewhere.iterdir()) == []


def test_an_index_that_is_a_link_is_refused_before_any_run(
        library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    site.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (site / "index.html").symlink_to(victim)
    assert cli.main(["report", str(library), "-o", str(site)]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "keep"
    assert not (site / "tls").exists()  # nothing ran, nothing was written


def test_report_needs_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", str(tmp_path / "nope"), "-o", str(tmp_path / "s")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_a_top_level_index_scenario_does_not_replace_the_index() -> None:
    assert html.page_name(Path("index.toml")) == Path("index.toml.html")
    assert html.page_name(Path("tls/index.toml")) == Path("tls/index.html")
    assert html.page_name(Path("a.toml")) == Path("a.html")
