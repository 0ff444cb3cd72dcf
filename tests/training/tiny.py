"""Test inputs for the training script, all made on the spot (no network, no downloads).

- :func:`write_release` makes a small release with the real release builder: a project in a
  fresh SQLite database, its dialogues imported as approved, then ``build_release`` (what
  ``curation release`` runs), so the training script reads exactly what the builder writes.
- :func:`tiny_model` trains a byte-level BPE tokenizer on the releases' text and saves it with a
  randomly initialised Qwen2- (ChatML template) or Llama-shaped (no template) model of a few
  thousand parameters, as a folder to pass as ``--base-model``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

ZH_SYSTEM = "你是一位耐心的家长，倾听孩子的烦恼，先理解再支持。"
EN_SYSTEM = "You are a caring listener. Understand first, then support."
ZH_STRATEGIES = ["validation", "empathy", "support"]  # the peconv preset's names
EN_STRATEGIES = ["Reflective Statements", "Emotional Validation", "Affirmation",
                 "Clarification"]

_ZH_SEEKER = ["我今天考试没考好。", "同学不跟我玩了。", "我觉得好累。", "老师批评了我。",
              "我睡不着觉。", "我不想去上学。"]
_ZH_SUPPORTER = [("听起来你很难过。", ["empathy"]), ("这种感觉很正常。", ["validation"]),
                 ("我们一起想想办法。", ["support"]),
                 ("你愿意多说一点吗？", ["empathy", "support"]), ("妈妈在这里陪你。", [])]
_EN_SEEKER = ["I failed my exam today.", "My friend stopped talking to me.",
              "I feel so tired lately.", "My boss yelled at me.", "I can't sleep at night.",
              "I don't want to go to work."]
_EN_SUPPORTER = [("That sounds really hard.", ["Reflective Statements"]),
                 ("It makes sense that you feel this way.", ["Emotional Validation"]),
                 ("You have handled hard days before.", ["Affirmation"]),
                 ("Would you tell me more about it?", ["Clarification"]),  # ExTES: one tag
                 ("I am here with you.", [])]


_CJK = "".join(chr(0x4E00 + i) for i in range(0, 3000, 7))
_SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "pel", "dun", "sir", "ba", "qua", "ze"]


def _unique(rng: random.Random, language: str) -> str:
    """A clause no other dialogue has, so the builder's near-duplicate search keeps the
    dialogues apart (the fixed sentences alone would make them twins)."""
    if language == "zh":
        return "".join(rng.choice(_CJK) for _ in range(12)) + "。"
    return " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
                    for _ in range(10)) + "."


def dialogue(i: int, language: str, turns: int = 2,
             supporter: list[tuple[str, list[str]]] | None = None) -> Any:
    """A :class:`Dialogue`: ``turns`` seeker/supporter pairs, and when ``turns > 1`` a second
    supporter message in a row at the end (the layout allows that)."""
    from curation_app.domain import Dialogue, Role, Status, Turn
    from curation_app.presets import load_preset

    vocab = load_preset("peconv" if language == "zh" else "extes")
    rng = random.Random(i * 7 + (language == "zh"))
    seekers = _ZH_SEEKER if language == "zh" else _EN_SEEKER
    replies = supporter or (_ZH_SUPPORTER if language == "zh" else _EN_SUPPORTER)
    out = []
    for t in range(turns):
        sep = "" if language == "zh" else " "
        out.append(Turn(Role.SEEKER, rng.choice(seekers) + sep + _unique(rng, language)))
        text, strategies = replies[(i + t) % len(replies)]
        out.append(Turn(Role.SUPPORTER, text, list(strategies)))
    if turns > 1:
        text, strategies = replies[(i + turns) % len(replies)]
        out.append(Turn(Role.SUPPORTER, text, list(strategies)))
    return Dialogue(turns=out, language=language, topic=vocab.topics[0],
                    emotion=vocab.emotions[0] if language == "zh" else None,
                    status=Status.APPROVED)


def write_release(root: Path, language: str = "en", *, counts: tuple[int, int, int] = (8, 2, 2),
                  supporter: list[tuple[str, list[str]]] | None = None,
                  project: str | None = None, version: str = "1.0.0",
                  rules: dict[str, dict[str, Any]] | None = None) -> Path:
    """A release made by the real builder (``curation release``): a project in a fresh SQLite
    database under ``root``, its dialogues imported as approved, then
    :func:`curation_app.services.release.build_release` with split shares that give ``counts``.
    ``rules`` changes check rules first (``{"safety.contempt": {"severity": "warning"}}``), as a
    lead would to release a set the safety screen flags. Returns the release folder."""
    from curation_app.services import checks as check_services
    from curation_app.services import projects as project_services
    from curation_app.services import release as release_services
    from curation_app.services.context import AppContext
    from curation_app.store import migrate
    from tests.conftest import LEAD

    project = project or ("peconv-demo" if language == "zh" else "extes-demo")
    root.mkdir(parents=True, exist_ok=True)
    ctx = AppContext.from_url(f"sqlite:///{root / 'curation.db'}")
    try:
        migrate(ctx.engine)
        project_services.create_project(ctx.uow(), LEAD, project,
                                        "peconv" if language == "zh" else "extes")
        if rules:
            check_services.configure_checks(ctx, LEAD, project, rules=rules)
        total = sum(counts)
        dialogues = [dialogue(n, language, turns=2 + n % 2, supporter=supporter)
                     for n in range(total)]
        with ctx.uow() as uow:
            uow.repo.add_dialogues(uow.repo.get_project(project), dialogues, author="import")
            uow.commit()
        summary = release_services.build_release(
            ctx, LEAD, project, version, out=root / "exports",
            ratios=[c / total for c in counts], seed=0)
    finally:
        ctx.close()
    got = tuple(summary.counts[s] for s in ("train", "validation", "test"))
    if got != tuple(counts):  # the tests count on the sizes they asked for
        raise AssertionError(f"the builder split {got}, not {counts}: {summary.line()}")
    return summary.path


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def _corpus(extra: list[str]) -> list[str]:
    from curation_app.presets import load_preset
    from curation_app.release.records import system_prompt

    prompts = [system_prompt(load_preset(name), {}) for name in ("peconv", "extes")]
    texts = [ZH_SYSTEM, EN_SYSTEM, *prompts, *_ZH_SEEKER, *_EN_SEEKER, *extra]
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
