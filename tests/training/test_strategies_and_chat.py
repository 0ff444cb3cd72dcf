"""The strategies variant round trip and ``curation-train chat`` behind the safety screen.

A tiny model is over-trained on a release whose supporter always answers with the same rude
reply tagged ``[Affirmation]``, so that greedy generation reproduces it: evaluate must read the
tag back (strategy accuracy) and strip it, and chat must never show the reply.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_app.training.chat import NOTICE, SafetyGate, chat_loop, model_replier
from curation_app.training.cli import main
from tests.openai_stub_server import OpenAIStub

RUDE = "Shut up, you idiot."


@pytest.fixture(scope="module")
def rude(tmp_path_factory) -> tuple[Path, Path, Path]:
    from tests.training.tiny import tiny_model, write_release

    root = tmp_path_factory.mktemp("rude")
    release = write_release(root / "exports", "en", supporter=[(RUDE, ["Affirmation"])],
                            counts=(6, 1, 1),
                            # a lead lets the flagged replies through as warnings, so that
                            # the trained model reproduces what the chat screen must catch
                            rules={"safety.contempt": {"severity": "warning"}})
    base = tiny_model(root / "base", "qwen2", extra_text=[RUDE])
    out = root / "adapter"
    result = CliRunner().invoke(main, [
        "fit", "--release", str(release), "--base-model", str(base), "--output", str(out),
        "--with-strategies", "--max-steps", "40", "--lr", "1e-2", "--batch-size", "8",
        "--lora-dropout", "0", "--save-steps", "1000", "--no-progress"],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return release, base, out


def test_the_strategy_prefix_round_trips_through_training_and_evaluation(rude):
    release, base, out = rude
    result = CliRunner().invoke(main, ["evaluate", "--release", str(release), "--base-model",
                                       str(base), "--adapter", str(out), "--max-new-tokens",
                                       "20"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    assert metrics["variant"] == "strategies"  # taken from the adapter's training options
    assert metrics["strategy_accuracy"] == pytest.approx(100.0)
    assert "Strategy acc." in result.stdout
    for line in (out / "generations.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        assert row["raw"] == f"[Affirmation] {RUDE}"
        assert row["generated"] == RUDE and row["generated_strategies"] == ["Affirmation"]
    assert metrics["bleu_4"] == pytest.approx(100.0)


def _chat(base: Path, adapter: Path | None, transcript: Path, lines: str, *extra: str):
    args = ["chat", "--base-model", str(base), "--transcript", str(transcript),
            "--max-new-tokens", "20", *extra]
    if adapter is not None:
        args += ["--adapter", str(adapter)]
    result = CliRunner().invoke(main, args, input=lines, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout, json.loads(transcript.read_text("utf-8"))


def test_chat_replaces_a_reply_the_local_screen_flags(rude, tmp_path, monkeypatch):
    monkeypatch.delenv("CURATION_MODERATION", raising=False)
    _, base, out = rude
    shown, saved = _chat(base, out, tmp_path / "t.json", "I had a bad day.\n/quit\n")
    assert NOTICE["en"] in shown and "idiot" not in shown
    from curation_app.presets import load_preset
    from curation_app.release.records import system_prompt

    assert saved["system_prompt"] == system_prompt(load_preset("extes"), {})  # the release's
    user, reply = saved["turns"]
    assert user == {"role": "user", "content": "I had a bad day.", "time": user["time"]}
    assert reply["flagged"] is True and reply["content"] == NOTICE["en"]
    assert reply["withheld"] == RUDE  # kept for review, never shown
    assert any(r.startswith("safety.contempt") for r in reply["reasons"])


def test_chat_notice_in_chinese(rude, tmp_path, monkeypatch):
    monkeypatch.delenv("CURATION_MODERATION", raising=False)
    _, base, out = rude
    shown, saved = _chat(base, out, tmp_path / "t.json", "你好\n", "--language", "zh")
    assert NOTICE["zh"] in shown and saved["turns"][1]["content"] == NOTICE["zh"]


def test_chat_asks_the_moderation_endpoint_when_configured(rude, tmp_path, monkeypatch):
    _, base, out = rude
    with OpenAIStub() as stub:
        monkeypatch.setenv("CURATION_MODERATION", "openai")
        monkeypatch.setenv("CURATION_MODERATION_URL", stub.url)
        monkeypatch.setenv("CURATION_MODERATION_API_KEY", "sk-test")
        _, saved = _chat(base, out, tmp_path / "t.json", "hello\n")
        assert len(stub.moderation_requests) == 1
        reasons = saved["turns"][1]["reasons"]
        assert "moderation: harassment" in reasons  # the stub flags "you idiot"
        stub.moderation_error = 500
        _, saved = _chat(base, out, tmp_path / "t2.json", "hello\n")
        assert any(r.startswith("moderation endpoint failed") for r in
                   saved["turns"][1]["reasons"])
        assert saved["turns"][1]["content"] == NOTICE["en"]


def test_a_clean_reply_is_shown_as_generated(qwen_base, tmp_path):
    import io

    from curation_app.training import model as models
    from curation_app.training.examples import ensure_chat_template

    tokenizer = models.load_tokenizer(qwen_base)
    ensure_chat_template(tokenizer)
    model = models.move_for_inference(models.load_base(qwen_base))
    reply = model_replier(model, tokenizer, with_strategies=False, max_new_tokens=6,
                          max_length=256)
    expected = reply([{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}])
    out = io.StringIO()
    log = chat_loop(reply, SafetyGate(), system_prompt="S", language="en", lines=["hi\n"],
                    out=out, transcript=tmp_path / "clean.json")
    assert log[1]["flagged"] is False and log[1]["content"] == expected
    assert f"model> {expected}" in out.getvalue()
    assert SafetyGate().check("You are such an idiot").flagged


def test_chat_without_a_system_prompt_says_how_to_give_one(qwen_base):
    result = CliRunner().invoke(main, ["chat", "--base-model", str(qwen_base)], input="")
    assert result.exit_code == 2 and "--system-prompt" in result.output
