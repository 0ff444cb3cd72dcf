"""From the data tool's commands to the training script's, with nothing in between: ``curation
init``, ``projects create``, ``import --status approved`` and ``release`` write a release, and
``curation-train fit`` reads it (manifest, hashes, schema) and trains two steps on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_app import formats
from curation_app.cli import main as curation
from curation_app.presets import load_preset
from curation_app.training.cli import main as curation_train
from tests.training.tiny import dialogue


def test_curation_train_fits_on_a_release_written_by_curation_release(
        tmp_path: Path, qwen_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATION_DATABASE_URL", f"sqlite:///{tmp_path / 'curation.db'}")
    monkeypatch.setenv("CURATION_USER", "lead")
    runner = CliRunner()

    def run(main, *args: object) -> str:
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    vocab = load_preset("extes")
    source = tmp_path / "extes.json"
    formats.write_file([dialogue(n, "en", turns=2 + n % 2) for n in range(8)], "extes", vocab,
                       source)
    run(curation, "init")
    run(curation, "projects", "create", "extes-cli", "--preset", "extes")
    run(curation, "import", source, "--format", "extes", "--project", "extes-cli",
        "--status", "approved")
    printed = run(curation, "release", "--project", "extes-cli", "--version", "0.1.0",
                  "--out", tmp_path / "exports", "--splits", "0.75,0.125,0.125")
    assert "8 dialogues (train 6, validation 1, test 1)" in printed
    folder = tmp_path / "exports" / "extes-cli" / "0.1.0"

    out = tmp_path / "adapter"
    printed = run(curation_train, "fit", "--release", folder, "--base-model", qwen_base,
                  "--output", out, "--max-steps", "2", "--batch-size", "2",
                  "--logging-steps", "1", "--no-progress")
    assert "trained 2 steps" in printed
    assert (out / "adapter_model.safetensors").is_file()
    recorded = json.loads((out / "release.json").read_text("utf-8"))
    assert (recorded["project"], recorded["version"]) == ("extes-cli", "0.1.0")
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    args = json.loads((out / "training_args.json").read_text("utf-8"))
    # every supporter turn of the six train dialogues became one per-turn example
    supporter_turns = sum(1 for line in (folder / "chat" / "train.jsonl").read_text(
        "utf-8").splitlines() for m in json.loads(line)["messages"] if m["role"] == "assistant")
    assert supporter_turns > 0 and manifest["splits"]["train"]["count"] == 6
    assert args["train_examples"] == supporter_turns
