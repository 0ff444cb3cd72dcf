"""The training script's overhead: ``curation-train`` against a plain PyTorch loop, same batches.

Writes a release (``tests/training/tiny.py``, the same layout ``curation release`` writes) and a
small Qwen2-shaped model made from a config (no download), then measures in one process:

- training: ``fit`` as the ``curation-train fit`` command runs it (TRL's SFT trainer over
  transformers and peft), one epoch over the train split with sequential sampling, against a
  hand-written loop (the same LoRA model built with peft, AdamW, forward/backward/step) over the
  very same batches, padded the same way. Tokens per second count every non-padding token
  (context and supporter) of the batches; only the training loops are timed, not the loading.
- generation: ``evaluate``'s greedy batched ``generate`` (transformers' ``model.generate``)
  against a hand-written greedy loop with the key-value cache, same prompts and batches; tokens
  per second count generated tokens up to and including the end-of-turn token.
- the whole ``evaluate`` command (perplexity, generation, every metric) once, for scale.

Peak memory: the process's peak resident set (CPU) and torch's peak allocation on a GPU.

Run: ``.venv/bin/python benchmarks/bench_train.py [--dialogues 64 --hidden 64 --layers 2]``
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from curation_app.training import model as models  # noqa: E402
from curation_app.training.evaluate import EvalOptions, evaluate, generate  # noqa: E402
from curation_app.training.examples import (  # noqa: E402
    build_examples,
    ensure_chat_template,
    history_messages,
    padded_batch,
    prompt_ids,
    supporter_turns,
)
from curation_app.training.fit import FitOptions, fit  # noqa: E402
from curation_app.training.release import load_release  # noqa: E402
from tests.training.tiny import tiny_model, write_release  # noqa: E402


def _batches(examples: list, size: int, pad: int) -> list[tuple[torch.Tensor, ...]]:
    out = []
    for start in range(0, len(examples), size):
        out.append(padded_batch(examples[start:start + size], pad))
    return out


def plain_training(base: Path, batches: list, lr: float, r: int) -> float:
    """Seconds for one pass of a bare LoRA training loop over ``batches``."""
    from peft import get_peft_model

    model = get_peft_model(models.load_base(base), models.lora_config(r, 2 * r, 0.05,
                                                                      "all-linear"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    started = time.perf_counter()
    for ids, mask, labels in batches:
        loss = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                     labels=labels.to(device)).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def plain_generate(model, prompts: list[list[int]], pad: int, eos: int, max_new: int,
                   batch_size: int) -> tuple[list[list[int]], float]:
    """A bare greedy loop with the KV cache, left-padded like ``generate``."""
    device = models.device_of(model)
    out: list[list[int]] = []
    started = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            width = max(len(p) for p in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long, device=device)
            mask = torch.zeros((len(chunk), width), dtype=torch.long, device=device)
            for row, p in enumerate(chunk):
                ids[row, width - len(p):] = torch.tensor(p)
                mask[row, width - len(p):] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            result = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                           use_cache=True)
            done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
            tokens: list[list[int]] = [[] for _ in chunk]
            for _ in range(max_new):
                nxt = result.logits[:, -1].argmax(-1)
                nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
                for row, t in enumerate(nxt.tolist()):
                    if not done[row]:
                        tokens[row].append(t)
                done |= nxt == eos
                if bool(done.all()):
                    break
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                positions = positions[:, -1:] + 1
                result = model(input_ids=nxt[:, None], attention_mask=mask,
                               position_ids=positions, cache=result.cache, use_cache=True)
            out.extend(tokens)
    return out, time.perf_counter() - started


def _count_generated(texts_ids: list[list[int]], eos: int) -> int:
    total = 0
    for ids in texts_ids:
        total += (ids.index(eos) + 1) if eos in ids else len(ids)
    return total


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=64, help="train dialogues")
    parser.add_argument("--test", type=int, default=8, help="test dialogues")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--lang", default="en", choices=["en", "zh"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        release = write_release(work / "exports", args.lang,
                                counts=(args.dialogues, 2, args.test))
        base = tiny_model(work / "base", "qwen2", hidden=args.hidden, layers=args.layers)
        tokenizer = models.load_tokenizer(base)
        ensure_chat_template(tokenizer)
        records = load_release(release).splits
        examples = build_examples(records["train"], tokenizer, "per-turn", max_length=1024)
        batches = _batches(examples, args.batch_size, tokenizer.pad_token_id)
        tokens = int(sum(int(m.sum()) for _, m, _ in batches))
        params = sum(p.numel() for p in models.load_base(base).parameters())
        print(f"model: Qwen2-shaped, hidden {args.hidden}, {args.layers} layers, {params:,} "
              f"parameters; {len(examples)} per-turn examples in {len(batches)} batches of "
              f"{args.batch_size}, {tokens:,} tokens; torch threads {args.threads}; "
              f"device {'cuda' if torch.cuda.is_available() else 'cpu'}")

        # ---- training ----
        started = time.perf_counter()
        summary = fit(FitOptions(release=str(release), base_model=str(base),
                                 output=str(work / "adapter"), epochs=1, lr=2e-4,
                                 batch_size=args.batch_size, logging_steps=10_000,
                                 save_steps=10_000, progress=False, sampling="sequential",
                                 max_length=1024, seed=1))
        command = time.perf_counter() - started
        plain = plain_training(base, batches, 2e-4, 16)
        stack = summary["seconds"]
        print(f"train   curation-train fit : {tokens / stack:10.0f} tokens/s "
              f"({summary['global_step']} steps in {stack:.2f} s; whole command {command:.2f} s"
              " with loading and saving)")
        print(f"train   plain PyTorch loop : {tokens / plain:10.0f} tokens/s ({plain:.2f} s)")
        print(f"train   ratio stack / plain: {stack / plain:.2f}x the time")

        # ---- generation ----
        model = models.move_for_inference(models.with_adapter(models.load_base(base),
                                                              work / "adapter"))
        prompts = [prompt_ids(tokenizer, history_messages(r, i, False))
                   for r in records["test"] for i, _ in supporter_turns(r)]
        eos = tokenizer.eos_token_id
        # one warm-up call each, so that neither pays the first call's one-off costs
        generate(model, tokenizer, prompts[:1], max_new_tokens=2, batch_size=1)
        plain_generate(model, prompts[:1], tokenizer.pad_token_id, eos, 2, 1)
        started = time.perf_counter()
        generate(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens,
                 batch_size=args.batch_size)
        stack_gen = time.perf_counter() - started
        plain_ids, plain_gen = plain_generate(model, prompts, tokenizer.pad_token_id, eos,
                                              args.max_new_tokens, args.batch_size)
        generated = _count_generated(plain_ids, eos)
        print(f"generate evaluate's generate: {generated / stack_gen:10.0f} tokens/s "
              f"({len(prompts)} replies, {generated} tokens, {stack_gen:.2f} s)")
        print(f"generate plain greedy loop  : {generated / plain_gen:10.0f} tokens/s "
              f"({plain_gen:.2f} s)")
        print(f"generate ratio stack / plain: {stack_gen / plain_gen:.2f}x the time")

        started = time.perf_counter()
        metrics = evaluate(EvalOptions(release=str(release), base_model=str(base),
                                       adapter=str(work / "adapter"),
                                       max_new_tokens=args.max_new_tokens,
                                       batch_size=args.batch_size))
        print(f"evaluate command (PPL, generation, all metrics): "
              f"{time.perf_counter() - started:.2f} s; "
              + json.dumps({k: round(metrics[k], 2) for k in ("ppl", "bleu_2", "rouge_l")}))
        print(f"peak memory: {peak_rss_mib():.0f} MiB resident"
              + (f", {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB on the GPU"
                 if torch.cuda.is_available() else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
