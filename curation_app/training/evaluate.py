"""``curation-train evaluate``: ExTES table 6's metrics on a release's test split.

For every supporter turn of every test dialogue the model sees the gold history (system prompt,
seeker turns, earlier supporter turns; tagged with strategies in the strategies variant) and
generates a reply greedily. Perplexity is measured on the same examples teacher-forced, over the
supporter tokens only (with strategies, the tags are part of those tokens, as in training).
Writes ``DIR/metrics.json`` and ``DIR/generations.jsonl`` and returns the metrics.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from curation_app.training import metrics as M
from curation_app.training import model as models
from curation_app.training.errors import TrainingSetupError
from curation_app.training.examples import (
    IGNORE,
    build_examples,
    ensure_chat_template,
    history_messages,
    padded_batch,
    prompt_ids,
    split_strategies,
    supporter_turns,
)
from curation_app.training.release import load_release


@dataclass
class EvalOptions:
    release: str
    base_model: str
    adapter: str | None = None
    output: str | None = None
    with_strategies: bool | None = None  # None: as the adapter was trained
    split: str = "test"
    max_new_tokens: int = 64
    batch_size: int = 8
    max_length: int = 1024
    limit: int | None = None  # evaluate the first N dialogues only (smoke runs)
    bf16: bool | None = None
    load_in_4bit: bool = False


def _trained_on(adapter: str | None) -> dict[str, Any]:
    path = Path(adapter) / "release.json" if adapter else None
    if path is None or not path.is_file():
        return {}
    return json.loads(path.read_text("utf-8"))


def _trained_with(adapter: str | None) -> dict[str, Any]:
    if adapter is None:
        return {}
    path = Path(adapter) / "training_args.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text("utf-8")).get("options", {})


def _perplexity(model: Any, examples: list[Any], pad_id: int, batch_size: int) -> tuple[float, int]:
    import torch

    device = models.device_of(model)
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = examples[start:start + batch_size]
            ids, mask, labels = padded_batch(batch, pad_id)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            shifted = logits[:, :-1].float()
            target = labels[:, 1:].to(device)
            nll = torch.nn.functional.cross_entropy(
                shifted.reshape(-1, shifted.size(-1)), target.reshape(-1),
                ignore_index=IGNORE, reduction="sum")
            total += float(nll)
            count += int((target != IGNORE).sum())
    return total, count


def generate(model: Any, tokenizer: Any, prompts: list[list[int]], *, max_new_tokens: int,
             batch_size: int) -> list[str]:
    """Greedy replies for token-id prompts, batched with left padding."""
    import torch

    device = models.device_of(model)
    pad = tokenizer.pad_token_id
    out: list[str] = []
    with torch.no_grad():
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start:start + batch_size]
            width = max(len(p) for p in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, p in enumerate(batch):
                ids[row, width - len(p):] = torch.tensor(p)
                mask[row, width - len(p):] = 1
            generated = model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id)
            for row in generated[:, width:]:
                out.append(tokenizer.decode(row.tolist(), skip_special_tokens=True).strip())
    return out


def evaluate(options: EvalOptions) -> dict[str, Any]:
    models.set_threads()
    trained = _trained_with(options.adapter)
    with_strategies = (options.with_strategies if options.with_strategies is not None
                       else bool(trained.get("with_strategies", False)))
    if options.output is None and options.adapter is None:
        raise TrainingSetupError("evaluate without --adapter needs --output DIR for the metrics")
    output = Path(options.output or options.adapter)  # type: ignore[arg-type]
    release = load_release(options.release, splits=(options.split,))
    records = release.splits[options.split][:options.limit]
    if not records:
        raise TrainingSetupError(f"the {options.split} split of {release.root} is empty")
    # the adapter's tokenizer carries the template it was trained with
    tokenizer = models.load_tokenizer(options.adapter or options.base_model)
    ensure_chat_template(tokenizer)
    bf16 = models.resolve_bf16(options.bf16)
    model = models.load_base(options.base_model, load_in_4bit=options.load_in_4bit, bf16=bf16)
    embeddings = model.get_input_embeddings().weight.detach().float().cpu().numpy()
    model = models.move_for_inference(models.with_adapter(model, options.adapter))

    started = time.perf_counter()
    examples = build_examples(records, tokenizer, "per-turn", with_strategies=with_strategies,
                              max_length=options.max_length)
    nll, tokens = _perplexity(model, examples, tokenizer.pad_token_id, options.batch_size)

    spots, prompts = [], []
    for record in records:
        for index, message in supporter_turns(record):
            ids = prompt_ids(tokenizer, history_messages(record, index, with_strategies))
            keep = max(1, options.max_length - options.max_new_tokens)
            spots.append((record, index, message))
            prompts.append(ids[-keep:])
    raw = generate(model, tokenizer, prompts, max_new_tokens=options.max_new_tokens,
                   batch_size=options.batch_size)
    predicted, replies = [], []
    for text in raw:
        tags, reply = split_strategies(text) if with_strategies else ([], text.strip())
        predicted.append(tags)
        replies.append(reply)
    references = [m.content for _, _, m in spots]
    seconds = time.perf_counter() - started

    def encode(text: str) -> list[int]:
        return [i for i in tokenizer(text, add_special_tokens=False)["input_ids"]
                if i < len(embeddings)]

    result: dict[str, Any] = {
        "model": "LoRA" if options.adapter else "base (zero-shot)",
        "variant": "strategies" if with_strategies else "no-strategies",
        "base_model": options.base_model, "adapter": options.adapter,
        "release": {"project": release.project, "version": release.version,
                    "manifest_sha256": release.manifest_sha256, "split": options.split},
        # which release the adapter learned from; another project's test split is a transfer
        # test (ExTES table 8), the same release's is the usual one
        "adapter_release": ({k: _trained_on(options.adapter).get(k)
                             for k in ("project", "version", "manifest_sha256")}
                            if _trained_on(options.adapter) else None),
        "language": release.language, "dialogues": len(records), "responses": len(replies),
        "ppl": M.perplexity(nll, tokens), "ppl_tokens": tokens,
        **M.text_metrics(replies, references, release.language, embed=embeddings,
                         encode=encode),
        "strategy_accuracy": (M.strategy_accuracy(predicted, [m.strategies for _, _, m in spots])
                              if with_strategies else None),
        "vector_extrema_embeddings": "input embeddings of the base model "
                                     f"{options.base_model}",
        "tokenisation": ("characters" if release.language == "zh"
                         else "nltk words (Punkt sentences, NLTKWordTokenizer), lowercased"),
        "generation": {"decoding": "greedy", "max_new_tokens": options.max_new_tokens,
                       "seconds": seconds},
        "options": asdict(options),
    }
    output.mkdir(parents=True, exist_ok=True)
    with (output / "generations.jsonl").open("w", encoding="utf-8") as fh:
        for (record, index, message), text, reply, tags in zip(spots, raw, replies, predicted,
                                                               strict=True):
            fh.write(json.dumps({
                "id": record.id, "turn": index, "language": record.language,
                "context": history_messages(record, index, False)[1:],
                "reference": message.content, "generated": reply, "raw": text,
                "reference_strategies": list(message.strategies),
                "generated_strategies": tags if with_strategies else None,
                "model": result["model"], "variant": result["variant"]},
                ensure_ascii=False) + "\n")
    (output / "metrics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False),
                                         "utf-8")
    card = output / "README.md"
    if options.adapter and output.resolve() == Path(options.adapter).resolve() and card.is_file():
        from curation_app.training.card import with_evaluation

        card.write_text(with_evaluation(card.read_text("utf-8"), M.table([row(result)]), result),
                        "utf-8")
    return result


def row(result: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    return (result["model"], result["variant"], result)
