"""`curation export` leaves out discarded dialogues and overlap copies unless asked, and says
what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_app.cli import main
from tests.release.conftest import Corpus


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", db_url)
    monkeypatch.setenv("CURATION_USER", "tester")
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_export_leaves_out_discarded_and_copies_and_says_so(run, corpus: Corpus,
                                                           tmp_path: Path):
    out = tmp_path / "all.json"
    result = run("export", "--project", corpus.project, "--format", "extes", "-o", out)
    assert result.exit_code == 0, result.output
    total = len(corpus.approved) + len(corpus.drafts_unreviewed)
    assert len(json.loads(out.read_text())) == total
    assert result.stderr.strip() == (
        f"included: approved {len(corpus.approved)}, draft {len(corpus.drafts_unreviewed)}; "
        f"left out: {len(corpus.discarded)} discarded (--include-discarded adds them), "
        f"{len(corpus.copies)} overlap copies (--include-overlap-copies adds them)")

    both = tmp_path / "both.json"
    result = run("export", "--project", corpus.project, "--format", "extes", "-o", both,
                 "--include-discarded", "--include-overlap-copies")
    assert len(json.loads(both.read_text())) == \
        total + len(corpus.discarded) + len(corpus.copies)
    assert "2 overlap copies among them" in result.stderr and "left out" not in result.stderr

    refused = run("export", "--project", corpus.project, "--format", "extes",
                  "-o", tmp_path / "d.json", "--status", "discarded")
    assert refused.exit_code == 1 and "--include-discarded" in refused.stderr
    assert not (tmp_path / "d.json").exists()


def test_release_and_stats_commands(run, corpus: Corpus, tmp_path: Path):
    out = tmp_path / "exports"
    built = run("release", "--project", corpus.project, "--version", "0.1.0", "--out", out,
                "--seed", "2", "--license", "cc-by-4.0")
    assert built.exit_code == 0, built.output
    folder = out / corpus.project / "0.1.0"
    assert built.stdout.startswith(f"released {corpus.project} 0.1.0 to {folder}: 59 dialogues")
    assert "[1/11] select" in built.stderr
    assert "license: cc-by-4.0" in (folder / "README.md").read_text()
    bad = run("release", "--project", corpus.project, "--version", "0.2.0", "--out", out,
              "--license", "CC BY")
    assert bad.exit_code == 1 and "not a license id" in bad.stderr
    verified = run("release", "verify", folder)
    assert verified.exit_code == 0 and verified.stdout.startswith(f"{folder}: OK")
    again = run("release", "--project", corpus.project, "--version", "0.1.0", "--out", out)
    assert again.exit_code == 1 and "already exists" in again.stderr
    same = run("release", "diff", folder, folder)
    assert same.stdout.strip().endswith("0 added, 0 removed, 0 changed, 0 moved between "
                                        "splits, 59 unchanged")
    stats = run("stats", "--project", corpus.project, "--json")
    data = json.loads(stats.stdout)
    assert data["figures"]["dialogues"] == 59
    assert data["human_changes"]["edited"] == 1
    from_release = json.loads(run("stats", "--release", folder, "--json").stdout)
    assert from_release["figures"] == data["figures"]
    assert from_release["splits"] == {"train": 47, "validation": 6, "test": 6}
    table = run("stats", "--project", corpus.project)
    assert "## strategy shares (%) per phase" in table.stdout
    neither = run("stats")
    assert neither.exit_code == 1 and "--project" in neither.stderr
