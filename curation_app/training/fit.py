"""``curation-train fit``: LoRA on a release's train split with TRL's SFT trainer.

The examples arrive pre-tokenised with their labels (see :mod:`.examples`), so TRL trains on
exactly the supporter tokens whatever the chat template; TRL, transformers and accelerate do the
rest (optimiser, schedule, checkpoints, several GPUs, DeepSpeed). Output in ``DIR``::

    adapter_config.json, adapter_model.safetensors   the LoRA adapter (save_pretrained)
    tokenizer files                                  with the chat template used in training
    training_args.json                               every option, library versions
    release.json                                     release project/version + manifest sha256
    README.md                                        model card naming the release
    log.jsonl                                        one line per logged step
    checkpoints/checkpoint-N/                        resumable with --resume
    merged/                                          with --merge: base + adapter in one model
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from curation_app.training import model as models
from curation_app.training.errors import TrainingSetupError
from curation_app.training.examples import build_examples, ensure_chat_template
from curation_app.training.release import Release, load_release


@dataclass
class FitOptions:
    release: str
    base_model: str
    output: str
    with_strategies: bool = False
    examples: str = "per-turn"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"
    epochs: float = 3.0
    lr: float = 2e-4
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 1024
    seed: int = 42
    max_steps: int = -1
    resume: bool = False
    bf16: bool | None = None
    gradient_checkpointing: bool = False
    load_in_4bit: bool = False
    logging_steps: int = 10
    save_steps: int = 200
    save_total_limit: int = 2
    warmup_ratio: float = 0.03
    merge: bool = False
    progress: bool = True
    # "random" (training) or "sequential" (the benchmark feeds both loops the same batches)
    sampling: str = "random"


def library_versions() -> dict[str, str]:
    import accelerate
    import peft
    import torch
    import transformers
    import trl

    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "trl": trl.__version__,
            "accelerate": accelerate.__version__}


def _log_callback(path: Path) -> Any:
    from transformers import TrainerCallback

    class JsonlLog(TrainerCallback):
        """Every log the trainer makes, one JSON line in DIR/log.jsonl (the trainer prints the
        same to the console, above its progress bar or alone when bars are off)."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kwargs: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            entry = {"step": state.global_step, "epoch": state.epoch, "time": time.time(),
                     **logs}
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    return JsonlLog()


def _checkpoint_dir(output: Path) -> Path:
    return output / "checkpoints"


def _resume_point(output: Path, release: Release) -> str:
    from transformers.trainer_utils import get_last_checkpoint

    folder = _checkpoint_dir(output)
    last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if last is None:
        raise TrainingSetupError(f"--resume: no checkpoint in {folder}")
    recorded = output / "release.json"
    if recorded.is_file():
        before = json.loads(recorded.read_text("utf-8")).get("manifest_sha256")
        if before and before != release.manifest_sha256:
            raise TrainingSetupError(
                f"--resume: {last} was trained on another release (manifest sha256 "
                f"{before[:12]}…, this one {release.manifest_sha256[:12]}…)")
    return last


def write_card(output: Path, options: FitOptions, release: Release,
               summary: dict[str, Any]) -> None:
    from curation_app.training.card import model_card

    (output / "README.md").write_text(model_card(options, release, summary), "utf-8")


def fit(options: FitOptions) -> dict[str, Any]:
    """Train, save everything into ``options.output``; return a summary."""
    with warnings.catch_warnings():
        # transformers 5 renamed gradient checkpointing; TRL still uses the old names
        warnings.filterwarnings("ignore", message=r".*gradient_checkpointing` is deprecated",
                                category=FutureWarning)
        return _fit(options)


def _fit(options: FitOptions) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    models.set_threads()
    output = Path(options.output)
    release = load_release(options.release, splits=("train",))
    if options.resume:
        resume_from: str | None = _resume_point(output, release)
    else:
        resume_from = None
        if (output / "adapter_config.json").exists() or _checkpoint_dir(output).exists():
            raise TrainingSetupError(f"{output} already holds a training run; pass --resume to go "
                                     "on with it or choose another --output")
    set_seed(options.seed)
    bf16 = models.resolve_bf16(options.bf16)
    tokenizer = models.load_tokenizer(options.base_model)
    plain = ensure_chat_template(tokenizer)
    examples = build_examples(release.splits["train"], tokenizer, options.examples,
                              with_strategies=options.with_strategies,
                              max_length=options.max_length)
    if not examples:
        raise TrainingSetupError("the train split yields no example with a supporter token")
    dataset = Dataset.from_dict({"input_ids": [e.input_ids for e in examples],
                                 "labels": [e.labels for e in examples]})
    base = models.load_base(options.base_model, load_in_4bit=options.load_in_4bit, bf16=bf16)
    config = SFTConfig(
        output_dir=str(_checkpoint_dir(output)), num_train_epochs=options.epochs,
        max_steps=options.max_steps, learning_rate=options.lr,
        per_device_train_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum, seed=options.seed, bf16=bf16, fp16=False,
        gradient_checkpointing=options.gradient_checkpointing,
        logging_steps=options.logging_steps, save_steps=options.save_steps,
        save_total_limit=options.save_total_limit, warmup_steps=options.warmup_ratio,
        lr_scheduler_type="cosine", report_to="none", disable_tqdm=not options.progress,
        # examples are already tokenised and cut to --max-length, keeping the reply
        max_length=None, packing=False, dataset_num_proc=None,
        dataloader_num_workers=0, train_sampling_strategy=options.sampling,
        dataloader_pin_memory=models.has_cuda())
    try:
        trainer = SFTTrainer(model=base, args=config, train_dataset=dataset,
                             processing_class=tokenizer,
                             peft_config=models.lora_config(options.lora_r, options.lora_alpha,
                                                            options.lora_dropout,
                                                            options.target_modules),
                             callbacks=[_log_callback(output / "log.jsonl")])
    except ValueError as exc:  # e.g. --target-modules naming no module of this model
        raise TrainingSetupError(f"cannot set up training: {exc}") from exc
    # Nothing is written before the release, the model and the options have all been accepted.
    main_process = int(os.environ.get("RANK", "0")) == 0  # several under accelerate launch
    output.mkdir(parents=True, exist_ok=True)
    record = {"options": asdict(options), "bf16": bf16, "plain_template": plain,
              "train_examples": len(examples),
              "train_supporter_tokens": sum(sum(1 for x in e.labels if x != -100)
                                            for e in examples),
              "versions": library_versions()}
    if main_process:
        (output / "training_args.json").write_text(
            json.dumps(record, indent=2, ensure_ascii=False), "utf-8")
        (output / "release.json").write_text(
            json.dumps(release.summary(), indent=2, ensure_ascii=False), "utf-8")

    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started
    trainer.save_model(str(output))  # the adapter only; the trainer saves on rank 0 alone
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {"global_step": trainer.state.global_step, "train_loss": result.training_loss,
               "first_loss": losses[0] if losses else None,
               "last_loss": losses[-1] if losses else None, "seconds": seconds,
               "resumed_from": resume_from, "examples": len(examples)}
    if not trainer.is_world_process_zero():
        return summary
    tokenizer.save_pretrained(str(output))
    (output / "train_result.json").write_text(json.dumps(summary, indent=2), "utf-8")
    write_card(output, options, release, summary)
    if options.merge:
        summary["merged"] = str(merge(options.base_model, output, output / "merged"))
    return summary


def merge(base_model: str, adapter: str | Path, target: str | Path) -> Path:
    """Base weights with the adapter folded in (``merge_and_unload``), saved as a plain model
    with the adapter's tokenizer; loads without peft."""
    target = Path(target)
    model = models.with_adapter(models.load_base(base_model), adapter).merge_and_unload()
    model.save_pretrained(str(target))
    tokenizer = models.load_tokenizer(adapter)
    tokenizer.save_pretrained(str(target))
    return target
