"""``curation-train fit``, ``evaluate`` and ``merge`` end to end on a tiny model, offline."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_app.training.cli import main

METRICS = ("ppl", "meteor", "bleu_2", "bleu_4", "rouge_l", "vector_extrema", "distinct_1",
           "distinct_2", "distinct_3")


def run(*args: str) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _fit(release: Path, base: Path, out: Path, *extra: str) -> str:
    return run("fit", "--release", release, "--base-model", base, "--output", out,
               "--lr", "5e-3", "--batch-size", "4", "--logging-steps", "2", "--no-progress",
               *extra)


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, qwen_base):
    """One 24-step run on the Chinese release, shared by the tests that read its output."""
    from tests.training.tiny import write_release

    root = tmp_path_factory.mktemp("fit")
    release = write_release(root / "exports", "zh")
    out = root / "adapter"
    output = _fit(release, qwen_base, out, "--max-steps", "24", "--save-steps", "12")
    return release, out, output


def test_fit_writes_the_adapter_and_its_provenance(trained, qwen_base):
    release, out, output = trained
    assert "trained 24 steps" in output
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json",
                 "tokenizer_config.json", "training_args.json", "release.json", "README.md",
                 "log.jsonl"):
        assert (out / name).is_file(), name
    recorded = json.loads((out / "release.json").read_text("utf-8"))
    assert recorded["version"] == "1.0.0" and recorded["project"] == "peconv-demo"
    assert recorded["manifest_sha256"] == hashlib.sha256(
        (release / "manifest.json").read_bytes()).hexdigest()
    args = json.loads((out / "training_args.json").read_text("utf-8"))
    assert args["options"]["examples"] == "per-turn" and args["options"]["max_steps"] == 24
    assert args["versions"]["trl"] and args["train_supporter_tokens"] > 0
    card = (out / "README.md").read_text("utf-8")
    assert "peconv-demo 1.0.0" in card and recorded["manifest_sha256"] in card
    assert card.startswith("---\nlibrary_name: peft\n")


def test_the_loss_falls(trained):
    _, out, _ = trained
    losses = [e["loss"] for e in _log(out) if "loss" in e]
    assert len(losses) == 12
    assert losses[-1] < losses[0] - 0.05
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3


def test_the_adapter_reloads_and_merges_to_the_same_model(trained, qwen_base, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, out, _ = trained
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    base = AutoModelForCausalLM.from_pretrained(str(qwen_base))
    with torch.no_grad():
        plain = base(ids).logits
        tuned = PeftModel.from_pretrained(base, str(out)).eval()(ids).logits
    assert not torch.allclose(plain, tuned)  # the adapter changes the model
    run("merge", "--base-model", qwen_base, "--adapter", out, "--output", tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged")).eval()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, tuned, atol=1e-5)


def test_resume_goes_on_from_the_last_checkpoint(trained, qwen_base, tmp_path):
    import shutil

    release, out, _ = trained
    copy = tmp_path / "adapter"
    shutil.copytree(out, copy)
    refused = CliRunner().invoke(main, ["fit", "--release", str(release), "--base-model",
                                        str(qwen_base), "--output", str(copy)])
    assert refused.exit_code == 2 and "--resume" in refused.output
    output = _fit(release, qwen_base, copy, "--max-steps", "30", "--resume")
    assert "trained 30 steps" in output
    result = json.loads((copy / "train_result.json").read_text("utf-8"))
    assert result["resumed_from"].endswith("checkpoint-24")
    steps = [e["step"] for e in _log(copy) if "loss" in e]
    assert steps[-3:] == [26, 28, 30] and steps.count(24) == 1


def test_resume_refuses_another_release(trained, qwen_base, make_release, tmp_path):
    import shutil

    _, out, _ = trained
    copy = tmp_path / "adapter"
    shutil.copytree(out, copy)
    other = make_release("zh", counts=(5, 1, 1))
    result = CliRunner().invoke(main, ["fit", "--release", str(other), "--base-model",
                                       str(qwen_base), "--output", str(copy), "--resume"])
    assert result.exit_code == 2 and "trained on another release" in result.output


def test_a_changed_release_is_refused_before_anything_is_written(make_release, qwen_base,
                                                                 tmp_path):
    release = make_release("en")
    with (release / "chat" / "train.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    result = CliRunner().invoke(main, ["fit", "--release", str(release), "--base-model",
                                       str(qwen_base), "--output", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "chat/train.jsonl" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def _metrics_ok(folder: Path, release: Path, *, responses: int) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text("utf-8"))
    for key in METRICS:
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key]), key
    assert metrics["ppl"] > 1 and metrics["ppl_tokens"] > 0
    assert "input embeddings of the base model" in metrics["vector_extrema_embeddings"]
    lines = (folder / "generations.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == metrics["responses"] == responses
    first = json.loads(lines[0])
    assert {"id", "turn", "context", "reference", "generated"} <= set(first)
    return metrics


def test_evaluate_with_and_without_the_adapter(trained, qwen_base, tmp_path):
    release, out, _ = trained
    from curation_app.training.release import load_release

    responses = sum(1 for r in load_release(release).splits["test"] for m in r.messages
                    if m.role == "assistant")
    base_out = tmp_path / "zero-shot"
    printed = run("evaluate", "--release", release, "--base-model", qwen_base,
                  "--output", base_out, "--max-new-tokens", "8")
    base = _metrics_ok(base_out, release, responses=responses)
    assert base["model"] == "base (zero-shot)" and base["adapter"] is None
    printed = run("evaluate", "--release", release, "--base-model", qwen_base,
                  "--adapter", out, "--max-new-tokens", "8",
                  "--baseline", base_out / "metrics.json")
    tuned = _metrics_ok(out, release, responses=responses)
    assert tuned["model"] == "LoRA" and tuned["strategy_accuracy"] is None
    assert tuned["ppl"] < base["ppl"]  # the adapter learned the supporter's replies
    lines = printed.splitlines()
    header, rule, *rows = lines[lines.index(next(x for x in lines if x.startswith("Model"))):][:4]
    assert header.split()[:11] == ["Model", "Variant", "PPL", "METEOR", "B-2", "B-4", "R-L",
                                   "Extrema", "D-1", "D-2", "D-3"]
    assert rows[0].startswith("base (zero-shot)") and rows[1].startswith("LoRA")
    assert "metrics.json" in printed
    card = (out / "README.md").read_text("utf-8")
    assert card.count("## Evaluation") == 1 and rows[1].split()[2] in card  # the tuned PPL


def test_evaluate_without_adapter_or_output_says_what_is_missing(trained, qwen_base):
    release, _, _ = trained
    result = CliRunner().invoke(main, ["evaluate", "--release", str(release), "--base-model",
                                       str(qwen_base)])
    assert result.exit_code == 2 and "--output" in result.output


def test_per_dialogue_on_a_model_without_chat_template(make_release, llama_base, tmp_path):
    release = make_release("en")
    out = tmp_path / "plain"
    _fit(release, llama_base, out, "--max-steps", "6", "--examples", "per-dialogue",
         "--save-steps", "100", "--merge", "--gradient-checkpointing", "--logging-steps", "1")
    assert all(e["grad_norm"] > 0 for e in _log(out) if "loss" in e)  # gradients flow
    assert (out / "merged" / "config.json").is_file()
    assert "### assistant" in (out / "merged" / "chat_template.jinja").read_text("utf-8")
    args = json.loads((out / "training_args.json").read_text("utf-8"))
    assert args["plain_template"] is True
    assert "### assistant" in (out / "chat_template.jinja").read_text("utf-8")
    run("evaluate", "--release", release, "--base-model", llama_base, "--adapter", out,
        "--max-new-tokens", "4", "--limit", "1")
    assert json.loads((out / "metrics.json").read_text("utf-8"))["dialogues"] == 1


def test_accelerate_launch_runs_fit_in_two_processes(make_release, qwen_base, tmp_path):
    """Data parallel as on several GPUs, here two CPU processes (gloo): the same module path
    the README gives for ``accelerate launch``."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    release = make_release("en")
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "CURATION_TRAIN_THREADS": "1",
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "curation_app.training", "fit", "--release", str(release), "--base-model",
         str(qwen_base), "--output", str(out), "--max-steps", "3", "--logging-steps", "1",
         "--batch-size", "2", "--no-progress"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained 3 steps" in proc.stdout
    assert [e["step"] for e in _log(out) if "loss" in e] == [1, 2, 3]  # logged once, by rank 0
    assert (out / "adapter_model.safetensors").is_file()


def test_the_zero2_config_names_its_deepspeed_file():
    import yaml

    from tests.conftest import REPO_ROOT

    folder = REPO_ROOT / "curation_app" / "training" / "configs"
    config = yaml.safe_load((folder / "accelerate_zero2.yaml").read_text("utf-8"))
    assert config["distributed_type"] == "DEEPSPEED"
    ds_file = REPO_ROOT / config["deepspeed_config"]["deepspeed_config_file"]
    ds = json.loads(ds_file.read_text("utf-8"))
    assert ds["zero_optimization"]["stage"] == 2
    # batch sizes and precision come from curation-train's own options
    assert ds["train_micro_batch_size_per_gpu"] == ds["gradient_accumulation_steps"] == "auto"
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    assert "curation_app/training/configs/accelerate_zero2.yaml" in readme


@pytest.mark.parametrize("option, value, message", [
    ("--base-model", "/nonexistent/model", "cannot load a tokenizer from /nonexistent/model"),
    ("--target-modules", "no_such_proj", "cannot set up training"),
])
def test_unusable_options_are_one_line_and_write_nothing(make_release, qwen_base, tmp_path,
                                                         option, value, message):
    args = {"--release": str(make_release("en")), "--base-model": str(qwen_base),
            "--output": str(tmp_path / "out"), "--max-steps": "1", option: value}
    result = CliRunner().invoke(main, ["fit", *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag, message", [("--bf16", "--bf16 needs a GPU"),
                                           ("--load-in-4bit", "needs a CUDA GPU")])
def test_gpu_options_without_a_gpu_are_refused_plainly(make_release, qwen_base, tmp_path, flag,
                                                       message):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: these options are accepted there")
    result = CliRunner().invoke(main, ["fit", "--release", str(make_release("en")),
                                       "--base-model", str(qwen_base), "--output",
                                       str(tmp_path / "out"), flag])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out").exists()


def test_the_training_room_imports_only_the_schemas_and_the_safety_screen():
    import ast

    from tests.conftest import REPO_ROOT

    allowed = {"curation_app.resources", "curation_app.checks", "curation_app.checks.safety",
               "curation_app.checks.moderation"}
    for path in (REPO_ROOT / "curation_app" / "training").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith("curation_app") and not name.startswith(
                        "curation_app.training"):
                    assert name in allowed, f"{path.name} imports {name}"


def test_batched_generation_with_left_padding_equals_one_prompt_at_a_time(trained, qwen_base):
    from curation_app.training import model as models
    from curation_app.training.evaluate import generate
    from curation_app.training.examples import ensure_chat_template, prompt_ids

    _, out, _ = trained
    tokenizer = models.load_tokenizer(out)
    ensure_chat_template(tokenizer)
    model = models.move_for_inference(models.with_adapter(models.load_base(qwen_base), out))
    prompts = [prompt_ids(tokenizer, [{"role": "system", "content": "S"},
                                      {"role": "user", "content": "我今天考试没考好。" * k}])
               for k in (1, 2, 4, 7)]
    assert len({len(p) for p in prompts}) == 4
    together = generate(model, tokenizer, prompts, max_new_tokens=8, batch_size=4)
    alone = generate(model, tokenizer, prompts, max_new_tokens=8, batch_size=1)
    assert together == alone and all(together)
