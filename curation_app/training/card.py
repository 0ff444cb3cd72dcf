"""The model card (README.md) written beside an adapter: what it was trained on, and how."""

from __future__ import annotations

from typing import Any

from curation_app.training.release import Release


def model_card(options: Any, release: Release, summary: dict[str, Any]) -> str:
    variant = "strategies" if options.with_strategies else "no-strategies"
    language = {"zh": "zh", "en": "en"}.get(release.language, release.language)
    lines = [
        "---",
        "library_name: peft",
        f"base_model: {options.base_model}",
        f"language: [{language}]",
        "tags: [lora, emotional-support, curation-app]",
        "---",
        "",
        f"# LoRA adapter: {release.project} {release.version} ({variant})",
        "",
        f"A LoRA adapter for `{options.base_model}`, trained by `curation-train fit` on release "
        f"**{release.project} {release.version}** of the curation tool.",
        "",
        "## Training data",
        "",
        f"- Release: `{release.project}/{release.version}` (preset "
        f"`{release.manifest.get('preset')}`, language `{release.language}`)",
        f"- Manifest SHA-256: `{release.manifest_sha256}`",
        f"- Train split: {len(release.splits.get('train', []))} dialogues, "
        f"{summary.get('examples')} examples ({options.examples})",
        "- Loss on the supporter's tokens only; the seeker's turns and the system prompt are "
        "context.",
    ]
    if options.with_strategies:
        lines.append("- Each supporter reply is preceded by its strategy tags in brackets, "
                     "`[Strategy] reply`; generation strips them.")
    lines += [
        "",
        "## Training",
        "",
        f"- LoRA r={options.lora_r}, alpha={options.lora_alpha}, dropout={options.lora_dropout},"
        f" target modules `{options.target_modules}`",
        f"- Learning rate {options.lr}, batch {options.batch_size} x {options.grad_accum} "
        f"accumulation, epochs {options.epochs}, max steps {options.max_steps}, "
        f"max length {options.max_length}, seed {options.seed}",
        f"- Steps run: {summary.get('global_step')}; mean training loss "
        f"{summary.get('train_loss'):.4f}" if summary.get("train_loss") is not None else
        f"- Steps run: {summary.get('global_step')}",
        "",
        "## Use",
        "",
        "```",
        f"curation-train evaluate --release {release.root} --base-model {options.base_model} "
        f"--adapter {options.output}",
        f"curation-train chat --base-model {options.base_model} --adapter {options.output}",
        "```",
        "",
        "Replies in `chat` pass the project's safety screen; a flagged reply is replaced by a "
        "fixed notice. The model is a research artefact, not a counsellor.",
        "",
    ]
    return "\n".join(lines)


EVALUATION = "\n## Evaluation\n"


def with_evaluation(card: str, table: str, result: dict[str, Any]) -> str:
    """``card`` with its evaluation section (re)written from an ``evaluate`` run."""
    head = card.split(EVALUATION, 1)[0].rstrip("\n") + "\n"
    release = result["release"]
    return (head + EVALUATION + "\n"
            f"`curation-train evaluate` on the {release['split']} split of "
            f"{release['project']} {release['version']} ({result['responses']} supporter turns, "
            "greedy decoding; Vector Extrema with the base model's input embeddings):\n\n"
            "```\n" + table + "\n```\n")
