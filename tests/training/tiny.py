"""Test inputs for the training script, all made on the spot (no network, no downloads).

- :func:`write_release` writes a small release folder exactly as ``docs/release-layout.md`` lays
  it out (chat/*.jsonl, data/ and native/ placeholders, manifest.json with sha256s). It is the one
  place to swap for the real release builder once ``curation release`` is merged.
- :func:`tiny_model` trains a byte-level BPE tokenizer on the releases' text and saves it with a
  randomly initialised Qwen2- (ChatML template) or Llama-shaped (no template) model of a few
  thousand parameters, as a folder to pass as ``--base-model``.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

ZH_SYSTEM = "你是一位耐心的家长，倾听孩子的烦恼，先理解再支持。"
EN_SYSTEM = "You are a caring listener. Understand first, then support."
ZH_STRATEGIES = ["Validation", "Empathy", "Support"]
EN_STRATEGIES = ["Reflective Statements", "Emotional Validation", "Affirmation"]

_ZH_SEEKER = ["我今天考试没考好。", "同学不跟我玩了。", "我觉得好累。", "老师批评了我。",
              "我睡不着觉。", "我不想去上学。"]
_ZH_SUPPORTER = [("听起来你很难过。", ["Empathy"]), ("这种感觉很正常。", ["Validation"]),
                 ("我们一起想想办法。", ["Support"]),
                 ("你愿意多说一点吗？", ["Empathy", "Support"]), ("妈妈在这里陪你。", [])]
_EN_SEEKER = ["I failed my exam today.", "My friend stopped talking to me.",
              "I feel so tired lately.", "My boss yelled at me.", "I can't sleep at night.",
              "I don't want to go to work."]
_EN_SUPPORTER = [("That sounds really hard.", ["Reflective Statements"]),
                 ("It makes sense that you feel this way.", ["Emotional Validation"]),
                 ("You have handled hard days before.", ["Affirmation"]),
                 ("Would you tell me more about it?",
                  ["Reflective Statements", "Emotional Validation"]),
                 ("I am here with you.", [])]


def dialogue(i: int, language: str, turns: int = 2,
             supporter: list[tuple[str, list[str]]] | None = None) -> dict[str, Any]:
    """A chat-messages record: system, then ``turns`` seeker/supporter pairs (the last pair
    has two supporter messages in a row, as the layout allows)."""
    rng = random.Random(i * 7 + (language == "zh"))
    seekers = _ZH_SEEKER if language == "zh" else _EN_SEEKER
    replies = supporter or (_ZH_SUPPORTER if language == "zh" else _EN_SUPPORTER)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": ZH_SYSTEM if language == "zh" else EN_SYSTEM}]
    for t in range(turns):
        messages.append({"role": "user", "content": rng.choice(seekers)})
        text, strategies = replies[(i + t) % len(replies)]
        messages.append({"role": "assistant", "content": text, "strategies": list(strategies)})
    if turns > 1:
        text, strategies = replies[(i + turns) % len(replies)]
        messages.append({"role": "assistant", "content": text, "strategies": list(strategies)})
    return {"id": f"{language}-{i}", "language": language,
            "topic": "学习" if language == "zh" else "Work Stress", "emotion": None,
            "messages": messages}


def write_release(root: Path, language: str = "en", *, counts: tuple[int, int, int] = (8, 2, 2),
                  supporter: list[tuple[str, list[str]]] | None = None,
                  project: str | None = None, version: str = "v1") -> Path:
    """A release folder per docs/release-layout.md; returns it."""
    project = project or ("peconv-demo" if language == "zh" else "extes-demo")
    folder = root / project / version
    (folder / "chat").mkdir(parents=True)
    (folder / "native").mkdir()
    (folder / "data").mkdir()
    splits: dict[str, Any] = {}
    number = 0
    for split, count in zip(("train", "validation", "test"), counts, strict=True):
        records = []
        for _ in range(count):
            records.append(dialogue(number, language, turns=2 + number % 2, supporter=supporter))
            number += 1
        (folder / "chat" / f"{split}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
        (folder / "native" / f"{split}.json").write_text(json.dumps([], indent=1), "utf-8")
        splits[split] = {"ids": [r["id"] for r in records], "count": len(records)}
    (folder / "README.md").write_text(f"---\nconfigs: []\n---\n# {project} {version}\n", "utf-8")
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        files[path.relative_to(folder).as_posix()] = {
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest = {
        "format": "curation-release", "format_version": 1, "project": project,
        "version": version, "preset": "peconv" if language == "zh" else "extes",
        "language": language, "system_prompt": ZH_SYSTEM if language == "zh" else EN_SYSTEM,
        "strategies": ZH_STRATEGIES if language == "zh" else EN_STRATEGIES,
        "splits": splits, "files": files, "builder": "tests/training/tiny.py"}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                          "utf-8")
    return folder


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def _corpus(extra: list[str]) -> list[str]:
    texts = [ZH_SYSTEM, EN_SYSTEM, *_ZH_SEEKER, *_EN_SEEKER, *extra]
    texts += [t for t, _ in _ZH_SUPPORTER + _EN_SUPPORTER]
    texts += [f"[{s}]" for s in ZH_STRATEGIES + EN_STRATEGIES]
    return texts * 3


def tiny_model(folder: Path, kind: str = "qwen2", extra_text: list[str] | None = None,
               seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Save a tokenizer and a tiny random model of ``kind`` (qwen2 | llama) into ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    if kind == "qwen2":
        special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    else:
        special = ["<s>", "</s>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(_corpus(extra_text or []), trainer=trainer)
    if kind == "qwen2":
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                       pad_token="<|endoftext|>",
                                       additional_special_tokens=["<|im_start|>"])
        fast.chat_template = CHATML
    else:
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                       pad_token="<pad>")
    torch.manual_seed(seed)
    common = dict(vocab_size=len(fast), hidden_size=hidden, intermediate_size=2 * hidden,
                  num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=512, tie_word_embeddings=False,
                  pad_token_id=fast.pad_token_id, eos_token_id=fast.eos_token_id)
    if kind == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    else:
        model = LlamaForCausalLM(LlamaConfig(bos_token_id=fast.bos_token_id, **common))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    fast.save_pretrained(str(folder))
    return folder
