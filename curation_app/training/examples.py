"""From dialogues to token ids and labels: loss on the supporter's tokens only.

Any chat template works, because the supporter's spans are found by rendering: the text of the
conversation up to a supporter turn *with the generation prompt* is a prefix of the text through
that turn, and what it adds (the reply and the template's end-of-turn marker) is what the model
must learn to produce. Each span is tokenised on its own and the pieces are concatenated, so the
labels mark exactly those tokens. Seeker turns, the system prompt and the template's role headers
are context (label -100).

- ``per-turn``: one example per supporter turn with the history before it (PANDA's objective).
- ``per-dialogue``: one example per dialogue, every supporter turn labelled at once.

A tokenizer without a chat template gets :data:`PLAIN_TEMPLATE`, written into the tokenizer that
is saved beside the adapter so that generation uses the same layout::

    ### system
    <system prompt>
    ### user
    <seeker turn>
    ### assistant
    <supporter turn></s>

With ``with_strategies`` each supporter reply is prefixed with its strategy tags in brackets,
``[Reflective Statements] That sounds painful.`` (ExTES's "strategies" variant; several tags for
PECONV turns, none for a greeting), and :func:`split_strategies` strips them from generations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from curation_app.training.errors import TrainingSetupError
from curation_app.training.release import Message, Record

ExampleMode = Literal["per-turn", "per-dialogue"]
EXAMPLE_MODES: tuple[str, ...] = ("per-turn", "per-dialogue")
IGNORE = -100

PLAIN_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '### ' + message['role'] + '\\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### assistant\\n' }}{% endif %}"
)

_TAGS = re.compile(r"^\s*((?:\[[^\[\]\n]*\]\s*)+)")
_TAG = re.compile(r"\[([^\[\]\n]*)\]")


def ensure_chat_template(tokenizer: Any) -> bool:
    """Give ``tokenizer`` the plain template when it has none; True when it did."""
    if getattr(tokenizer, "chat_template", None):
        return False
    if tokenizer.eos_token is None:
        raise TrainingSetupError("the tokenizer has neither a chat template nor an end-of-sequence"
                                 " token; give it one of the two")
    tokenizer.chat_template = PLAIN_TEMPLATE
    return True


def with_tags(text: str, strategies: Sequence[str]) -> str:
    """``"[A][B] text"``; the text alone when there are no strategies."""
    return "".join(f"[{s}]" for s in strategies) + (" " if strategies else "") + text


def split_strategies(text: str) -> tuple[list[str], str]:
    """The leading strategy tags of a generated reply and the reply without them."""
    match = _TAGS.match(text)
    if not match:
        return [], text.strip()
    tags = [t.strip() for t in _TAG.findall(match.group(1)) if t.strip()]
    return tags, text[match.end():].strip()


def chat_messages(record: Record, with_strategies: bool) -> list[dict[str, str]]:
    return [{"role": m.role,
             "content": with_tags(m.content, m.strategies)
             if with_strategies and m.role == "assistant" else m.content}
            for m in record.messages]


@dataclass(frozen=True)
class Example:
    record_id: str
    input_ids: list[int]
    labels: list[int]
    # the supporter turns (message indexes) whose tokens are labelled
    turns: tuple[int, ...]


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=generation_prompt)


def segments(tokenizer: Any, messages: list[dict[str, str]]) -> list[tuple[str, bool]]:
    """The conversation's text cut into (piece, is_supporter_span) pieces that add up to the full
    rendering."""
    out: list[tuple[str, bool]] = []
    done = ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], True)
        through = _render(tokenizer, messages[:i + 1], False)
        if not before.startswith(done) or not through.startswith(before):
            raise TrainingSetupError(
                "the chat template does not render a conversation as a growing prefix (it "
                "rewrites earlier turns), so supporter tokens cannot be located; use a model "
                "whose template renders turn by turn, or remove its template to use the plain one")
        if before != done:
            out.append((before[len(done):], False))
        out.append((through[len(before):], True))
        done = through
    full = _render(tokenizer, messages, False)
    if full.startswith(done) and full != done:
        out.append((full[len(done):], False))
    return out


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _bos(tokenizer: Any, first_piece: str) -> list[int]:
    # Templates that do not write the BOS token themselves rely on the tokenizer adding it.
    bos = tokenizer.bos_token
    if bos and getattr(tokenizer, "add_bos_token", False) and not first_piece.startswith(bos):
        return [tokenizer.bos_token_id]
    return []


def encode_pieces(tokenizer: Any, pieces: list[tuple[str, bool]]) -> tuple[list[int], list[int]]:
    ids: list[int] = _bos(tokenizer, pieces[0][0]) if pieces else []
    labels: list[int] = [IGNORE] * len(ids)
    for text, trained in pieces:
        piece = _encode(tokenizer, text)
        ids += piece
        labels += piece if trained else [IGNORE] * len(piece)
    return ids, labels


def build_examples(records: Iterable[Record], tokenizer: Any, mode: str, *,
                   with_strategies: bool = False, max_length: int | None = None) -> list[Example]:
    """Token ids and labels for ``records``. Too-long examples keep their end (the supporter
    reply being trained) and lose the oldest context; one left with no label is dropped."""
    if mode not in EXAMPLE_MODES:
        raise TrainingSetupError(f"--examples must be one of {', '.join(EXAMPLE_MODES)}, "
                                 f"not {mode!r}")
    out: list[Example] = []
    for record in records:
        messages = chat_messages(record, with_strategies)
        pieces = segments(tokenizer, messages)
        spans = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        if mode == "per-dialogue":
            candidates = [(pieces, tuple(spans))]
        else:
            candidates = []
            for k, turn in enumerate(spans):
                # everything before the k-th supporter span is context, the span is the target
                upto = [j for j, (_, trained) in enumerate(pieces) if trained][k]
                candidates.append(([(t, False) for t, _ in pieces[:upto]] + [pieces[upto]],
                                   (turn,)))
        for chosen, turns in candidates:
            ids, labels = encode_pieces(tokenizer, chosen)
            if max_length and len(ids) > max_length:
                ids, labels = ids[-max_length:], labels[-max_length:]
            if any(label != IGNORE for label in labels):
                out.append(Example(record.id, ids, labels, turns))
    return out


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The ids of a conversation followed by the generation prompt, as training encoded them."""
    text = _render(tokenizer, messages, True)
    return _bos(tokenizer, text) + _encode(tokenizer, text)


def history_messages(record: Record, upto: int, with_strategies: bool) -> list[dict[str, str]]:
    """The messages before message ``upto`` (gold history, tagged when training was)."""
    return chat_messages(Record(record.id, record.language, record.messages[:upto]),
                         with_strategies)


def supporter_turns(record: Record) -> list[tuple[int, Message]]:
    return [(i, m) for i, m in enumerate(record.messages) if m.role == "assistant"]


def padded_batch(batch: Sequence[Example], pad_id: int) -> tuple[Any, Any, Any]:
    """(input ids, attention mask, labels) of ``batch`` as tensors, right-padded to the longest
    example (pad id, mask 0, label IGNORE), for perplexity and the benchmark's plain loop."""
    import torch  # only the code that runs a model needs it

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        ids[row, :len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[row, :len(e.labels)] = torch.tensor(e.labels)
        mask[row, :len(e.input_ids)] = 1
    return ids, mask, labels
