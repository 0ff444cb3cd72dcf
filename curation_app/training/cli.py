"""``curation-train``: fit, evaluate, chat, merge. Thin: options in, one of the modules out.

Errors the script raises on purpose (a changed release, a missing checkpoint) become one line on
stderr and exit code 2; nothing partial is left behind by a refused release, because the release
is checked before anything is written.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from curation_app.training.errors import TrainingError

_HELP = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _plain_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TrainingError as exc:
            raise click.ClickException(str(exc)) from exc
        except ImportError as exc:
            raise click.ClickException(
                f"{exc}. curation-train needs the train extra: pip install "
                "'curation-app[train]'") from exc

    return wrapper


click.ClickException.exit_code = 2


@click.group(context_settings=_HELP)
def main() -> None:
    """LoRA-tune a chat model on a curation release, evaluate it, and chat with it.

    Reads only release folders (exports/<project>/<version>, see docs/release-layout.md),
    checked against their manifest and the chat-messages schema.
    """
    # transformers 5 renamed gradient checkpointing and peft/TRL still call the old names: a
    # warning users can do nothing about
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing` is deprecated",
                            category=FutureWarning)


def _bf16_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--bf16/--no-bf16", default=None,
                        help="Compute in bfloat16 (default: when the GPU supports it).")(func)


@main.command(context_settings=_HELP)
@click.option("--release", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Release folder: exports/<project>/<version>.")
@click.option("--base-model", required=True,
              help="Base causal LM: a local folder or a Hugging Face Hub id.")
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the adapter, tokenizer, logs, checkpoints and model card.")
@click.option("--with-strategies", is_flag=True,
              help="Prefix each supporter reply with its strategy tags (ExTES 'strategies').")
@click.option("--examples", type=click.Choice(["per-turn", "per-dialogue"]), default="per-turn",
              show_default=True,
              help="One example per supporter turn with its history, or one per dialogue.")
@click.option("--lora-r", default=16, show_default=True, help="LoRA rank.")
@click.option("--lora-alpha", default=32, show_default=True, help="LoRA scaling alpha.")
@click.option("--lora-dropout", default=0.05, show_default=True, help="LoRA dropout.")
@click.option("--target-modules", default="all-linear", show_default=True,
              help="Modules to adapt: all-linear or a comma-separated list of names.")
@click.option("--epochs", default=3.0, show_default=True, help="Training epochs.")
@click.option("--lr", default=2e-4, show_default=True, help="Peak learning rate (cosine).")
@click.option("--batch-size", default=4, show_default=True, help="Examples per device step.")
@click.option("--grad-accum", default=1, show_default=True,
              help="Gradient accumulation steps.")
@click.option("--max-length", default=1024, show_default=True,
              help="Longest example in tokens; longer ones lose their oldest context.")
@click.option("--seed", default=42, show_default=True, help="Random seed.")
@click.option("--max-steps", default=-1, show_default=True,
              help="Stop after this many optimiser steps (-1: run the epochs).")
@click.option("--resume", is_flag=True,
              help="Go on from the last checkpoint in OUTPUT/checkpoints.")
@_bf16_option
@click.option("--gradient-checkpointing", is_flag=True,
              help="Recompute activations in the backward pass to save GPU memory.")
@click.option("--load-in-4bit", is_flag=True,
              help="QLoRA: load the base model in 4-bit NF4 (CUDA and bitsandbytes).")
@click.option("--logging-steps", default=10, show_default=True,
              help="Log (console and OUTPUT/log.jsonl) every N steps.")
@click.option("--save-steps", default=200, show_default=True,
              help="Write a checkpoint every N steps.")
@click.option("--merge", is_flag=True,
              help="Also write OUTPUT/merged: the base model with the adapter folded in.")
@click.option("--no-progress", is_flag=True, help="No progress bars (logs only).")
@_plain_errors
def fit(release: Path, base_model: str, output: Path, no_progress: bool,
        **options: Any) -> None:
    """Train a LoRA adapter on the release's train split (loss on supporter tokens only)."""
    from curation_app.training.fit import FitOptions
    from curation_app.training.fit import fit as run

    summary = run(FitOptions(release=str(release), base_model=base_model, output=str(output),
                             progress=not no_progress, **options))
    losses = (f"loss {summary['first_loss']:.4f} -> {summary['last_loss']:.4f}"
              if summary["first_loss"] is not None else f"mean loss {summary['train_loss']:.4f}")
    click.echo(f"trained {summary['global_step']} steps, {losses}; adapter in {output}")


@main.command(context_settings=_HELP)
@click.option("--release", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Release folder whose test split is evaluated.")
@click.option("--base-model", required=True, help="Base causal LM: local folder or Hub id.")
@click.option("--adapter", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Adapter folder from fit; without it the base model is evaluated (zero-shot).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where metrics.json and generations.jsonl go (default: the adapter folder).")
@click.option("--with-strategies/--no-strategies", default=None,
              help="Expect strategy tags before replies (default: as the adapter was trained).")
@click.option("--split", type=click.Choice(["test", "validation", "train"]), default="test",
              show_default=True, help="Split to evaluate.")
@click.option("--max-new-tokens", default=64, show_default=True,
              help="Longest generated reply in tokens.")
@click.option("--batch-size", default=8, show_default=True, help="Prompts per forward pass.")
@click.option("--max-length", default=1024, show_default=True, help="Longest prompt in tokens.")
@click.option("--limit", type=int, default=None, help="Only the first N dialogues (smoke runs).")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="Another run's metrics.json to print as a row above this one (repeatable).")
@_bf16_option
@click.option("--load-in-4bit", is_flag=True, help="Load the base model in 4-bit (CUDA).")
@_plain_errors
def evaluate(release: Path, base_model: str, adapter: Path | None, output: Path | None,
             baseline: tuple[Path, ...], **options: Any) -> None:
    """Perplexity, METEOR, BLEU-2/4, ROUGE-L, Vector Extrema, Distinct-1/2/3 on the test split."""
    from curation_app.training import metrics
    from curation_app.training.evaluate import EvalOptions, row
    from curation_app.training.evaluate import evaluate as run

    rows = []
    for path in baseline:
        try:
            rows.append(row(json.loads(path.read_text("utf-8"))))
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(f"--baseline {path}: not a metrics.json ({exc})") from exc
    result = run(EvalOptions(release=str(release), base_model=base_model,
                             adapter=str(adapter) if adapter else None,
                             output=str(output) if output else None, **options))
    rows.append(row(result))
    click.echo(metrics.table(rows))
    if result.get("meteor_synonyms") is None:
        click.echo("METEOR: no WordNet found (install Debian's wordnet-base or nltk's wordnet "
                   "data); exact and stem matches only.")
    click.echo(f"Vector Extrema uses the {result['vector_extrema_embeddings']}.")
    where = Path(output or adapter)  # type: ignore[arg-type]
    click.echo(f"wrote {where / 'metrics.json'} and {where / 'generations.jsonl'}")


@main.command(context_settings=_HELP)
@click.option("--base-model", required=True, help="Base causal LM: local folder or Hub id.")
@click.option("--adapter", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Adapter folder from fit (omit to chat with the base model).")
@click.option("--system-prompt", default=None,
              help="System prompt (default: the preset's, recorded with the adapter).")
@click.option("--language", type=click.Choice(["en", "zh"]), default=None,
              help="Language of the safety notice (default: the release's).")
@click.option("--transcript", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the conversation (JSON, withheld replies included) to this file.")
@click.option("--max-new-tokens", default=128, show_default=True,
              help="Longest reply in tokens.")
@click.option("--max-length", default=2048, show_default=True, help="Longest prompt in tokens.")
@_plain_errors
def chat(base_model: str, adapter: Path | None, system_prompt: str | None,
         language: str | None, transcript: Path | None, max_new_tokens: int,
         max_length: int) -> None:
    """Chat in the terminal; replies the safety screen flags are replaced by a fixed notice."""
    from curation_app.training import model as models
    from curation_app.training.chat import SafetyGate, chat_loop, model_replier
    from curation_app.training.examples import ensure_chat_template

    models.set_threads()
    recorded: dict[str, Any] = {}
    trained: dict[str, Any] = {}
    if adapter is not None and (adapter / "release.json").is_file():
        recorded = json.loads((adapter / "release.json").read_text("utf-8"))
    if adapter is not None and (adapter / "training_args.json").is_file():
        trained = json.loads((adapter / "training_args.json").read_text("utf-8"))["options"]
    prompt = system_prompt if system_prompt is not None else recorded.get("system_prompt")
    if prompt is None:
        raise click.ClickException("no system prompt: pass --system-prompt (the adapter folder "
                                   "has no release.json to take the preset's from)")
    tokenizer = models.load_tokenizer(adapter or base_model)
    ensure_chat_template(tokenizer)
    model = models.move_for_inference(models.with_adapter(models.load_base(base_model), adapter))
    gate = SafetyGate.from_env()
    try:
        chat_loop(model_replier(model, tokenizer,
                                with_strategies=bool(trained.get("with_strategies")),
                                max_new_tokens=max_new_tokens, max_length=max_length),
                  gate, system_prompt=prompt, language=language or recorded.get("language", "en"),
                  lines=sys.stdin, out=sys.stdout, transcript=transcript)
    finally:
        gate.close()
    if transcript is not None:
        click.echo(f"transcript saved to {transcript}", err=True)


@main.command(context_settings=_HELP)
@click.option("--base-model", required=True, help="Base causal LM: local folder or Hub id.")
@click.option("--adapter", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Adapter folder from fit.")
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the merged model and its tokenizer.")
@_plain_errors
def merge(base_model: str, adapter: Path, output: Path) -> None:
    """Fold the adapter into the base weights and save a plain model (loads without peft)."""
    from curation_app.training.fit import merge as run

    click.echo(f"merged model in {run(base_model, adapter, output)}")


if __name__ == "__main__":  # pragma: no cover
    main()
