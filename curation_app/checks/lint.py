"""Lint rules: the faults of generated and rewritten dialogues that a schema cannot see.

Each rule has an id in :data:`curation_app.checks.findings.RULES`. :class:`Linter` is built
once per project (it compiles the project's role names into the artefact pattern and keeps its
labels as sets) and then checks dialogues one by one; it is pure and fast enough to run on
every save and on 100k dialogues. The vocabulary is the only source of labels.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from curation_app.checks.batch import BatchTexts
from curation_app.checks.findings import CheckConfig, Finding
from curation_app.domain import Dialogue, Role
from curation_app.presets import Vocabulary

# Names a model or a prompt writes in front of a line. The project's own role names, display
# names and aliases are added to these.
GENERIC_ROLE_NAMES = (
    "AI", "User", "Assistant", "System", "Human", "Bot", "Seeker", "Supporter", "Child",
    "Parent", "Kid", "Mom", "Dad", "Therapist", "Counselor", "Client",
    "孩子", "家长", "用户", "助手", "智能助手", "妈妈", "爸爸", "父母", "求助者", "支持者",
    "咨询师",
)
_ARTEFACTS = re.compile(
    r"(?P<fence>```)"
    r"|(?P<disclaimer>\bas an? (?:ai|artificial intelligence)(?: language model| model| "
    r"assistant| chatbot)?\b|\bas a (?:large )?language model\b"
    r"|\bi(?:'m| am) (?:just |only )?an? (?:ai|language model|artificial intelligence)\b"
    r"|作为(?:一个|一名)?(?:AI|人工智能|语言模型|AI助手|智能助手|大模型)"
    r"|我(?:只)?是(?:一个)?(?:AI|人工智能|语言模型)(?:助手)?)"
    r"|(?P<template>\{\{|\}\}|<\|[a-z_]+\|>|\[/?INST\]|\{(?:topic|emotion|scene|strategy)\})",
    re.IGNORECASE,
)


def _may_hold_artefact(lowered: str) -> bool:
    """Substring tests that every artefact the regex below finds passes; one chain of ``in``
    is several times cheaper than the regex on the ordinary turn."""
    return ("```" in lowered or " ai" in lowered or lowered.startswith("ai")
            or "language model" in lowered or "artificial intelligence" in lowered
            or "作为" in lowered or "我是" in lowered or "我只是" in lowered or "{" in lowered
            or "}" in lowered or "<|" in lowered or "inst]" in lowered)


# What an ASCII text needs for _artefact to find anything in it: a colon (every speaker label
# ends with one; the full-width one is not ASCII) or one of the cues of _may_hold_artefact,
# widened to single characters where that is simpler ("<|" and "inst]" to "<" and "]"). The
# bytes are or-ed with 0x20, which lower-cases letters and keeps every cue findable (it makes
# "]" a "}" and the NUL before each text a space, so " ai" also finds "ai" opening a text).
_CUES = (b":", b"`", b"{", b"}", b"<", b" ai", b"language model", b"artificial intelligence")


def _found(data: bytes, cue: bytes, starts: list[int]) -> Iterator[int]:
    """The texts (by index) in which ``cue`` occurs: bytes.find, jumping to the next text
    after each hit, so that a cue found everywhere costs one find a text."""
    at = data.find(cue)
    while at != -1:
        k = bisect.bisect_right(starts, at) - 1
        yield k
        at = data.find(cue, starts[k + 1])


def artefact_suspects(texts: Sequence[str], batch: BatchTexts | None = None) -> list[bool]:
    """For each text, whether :meth:`Linter._artefact` may find something in it: False only
    for ASCII texts with none of the cues above. The texts are searched all at once (the
    per-text tests cost more than the rest of the lint rules together); ``batch``, when
    given, holds ``texts`` already flattened and encoded."""
    if batch is None:
        batch = BatchTexts.flat(texts)
    out = [not p for p in batch.plain]
    plain = batch.ascii_ids
    if not plain:
        return out
    data = (batch.ascii_bytes | 0x20).tobytes()
    present = [cue for cue in _CUES if cue in data]
    if present:
        # text k follows the NUL at starts[k]; the last entry is the end
        starts = (batch.ascii_starts - 1).tolist()
        for cue in present:
            for k in _found(data, cue, starts):
                out[plain[k]] = True
    return out


# Per ASCII code, whether str.isspace holds (str.strip strips those; \x1c-\x1f among them).
_ASCII_SPACE = np.array([chr(c).isspace() for c in range(128)], dtype=bool)
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _quote(text: str, limit: int = 40) -> str:
    text = text.strip().replace("\n", " ")
    return f"'{text if len(text) <= limit else text[:limit - 1] + '…'}'"


class Linter:
    """The lint rules of one project, compiled once."""

    def __init__(self, vocab: Vocabulary, config: CheckConfig):
        self.vocab = vocab
        self.config = config
        self.strategies = frozenset(vocab.strategy_names)
        self.topics = frozenset(vocab.topics)
        self.emotions = frozenset(vocab.emotions)
        names = set(GENERIC_ROLE_NAMES)
        for info in vocab.roles.values():
            names.update((info.name, *info.display.values(), *info.aliases))
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True) if n)
        # "AI:", "**User**:", "孩子：" at the start of a turn (or of any line in it)
        self.role_prefix = re.compile(
            rf"\s*(?:\*\*)?(?:{alternatives})(?:\*\*)?[ \t]*[:：]", re.IGNORECASE)
        self.language = vocab.language.split("-")[0].lower()
        self.role_label = {role: vocab.role_display(role, "en") for role in Role}
        bounds = config.bounds
        self.min_turns = bounds["min_turns"]
        self.max_turns = bounds["max_turns"]
        self.max_chars = bounds["max_turn_chars"]
        self.on = {rule for rule, s in config.rules.items() if s.enabled}

    def check(self, dialogue: Dialogue, suspects: Sequence[bool] | None = None) -> list[Finding]:
        """The lint findings of ``dialogue``; ``suspects``, per turn, from
        :func:`artefact_suspects` when a batch was looked at at once (a turn marked False
        cannot hold a prompt artefact)."""
        out: list[Finding] = []
        self._whole(dialogue, True, out)
        self._turns(dialogue, range(len(dialogue.turns)), suspects, 0, out)
        return out

    def check_many(self, dialogues: Sequence[Dialogue], batch: BatchTexts,
                   suspects: Sequence[bool] | None = None) -> list[list[Finding]]:
        """:meth:`check` of each dialogue (``batch``: their turn texts, ``suspects`` per
        turn of the batch). Most turns of a batch cannot hold a fault: an ASCII text that
        opens with no whitespace, fits the length bound and has no artefact cue, with known
        strategies where they belong. Those are told apart over the whole batch (numpy for
        the texts, one comprehension for the strategies), and only the other turns go
        through the rules one by one, in order, so the findings are those of :meth:`check`."""
        firsts = batch.firsts
        n = len(batch.texts)
        look = self._texts_to_look_at(batch, suspects)
        known, supporter = self.strategies, Role.SUPPORTER
        # per turn, 2 for a supporter's, plus 1 where its strategies need a look
        sides = np.array([2 + (not (s := t.strategies) or not known.issuperset(s))
                          if t.role == supporter else int(bool(t.strategies))
                          for d in dialogues for t in d.turns], dtype=np.int8)
        if n:
            look |= (sides & 1).astype(bool)
        looked = np.flatnonzero(look)
        bounds = np.searchsorted(looked, firsts).tolist()
        looked_at = looked.tolist()
        with_runs = (self._with_runs(firsts, sides >= 2) if "lint.roles_alternate" in self.on
                     else set())
        out: list[list[Finding]] = []
        for k, dialogue in enumerate(dialogues):
            found: list[Finding] = []
            self._whole(dialogue, k in with_runs, found)
            a, b = bounds[k], bounds[k + 1]
            if a < b:
                base = firsts[k]
                self._turns(dialogue, [i - base for i in looked_at[a:b]], suspects, base, found)
            out.append(found)
        return out

    def _texts_to_look_at(self, batch: BatchTexts, suspects: Sequence[bool] | None,
                          ) -> np.ndarray:
        """Per turn of ``batch``, whether its text may break a text rule (see
        :meth:`check_many`); True for every text that is not ASCII."""
        n = len(batch.texts)
        look = np.ones(n, dtype=bool)
        ids = batch.ascii_ids
        if not ids:
            return look
        on = self.on
        if "lint.prompt_artefact" in on and suspects is None:
            return look
        if "lint.language" in on and self.language == "zh":
            return look  # an ASCII turn in a Chinese project is the language rule's business
        starts = batch.ascii_starts
        lengths = np.diff(starts) - 1
        data = batch.ascii_bytes
        opening = data[np.minimum(starts[:-1], len(data) - 1)]
        # empty, only whitespace (then it opens with some) or too long: the length and empty
        # rules see it
        plain = (lengths == 0) | _ASCII_SPACE[opening] | (lengths > self.max_chars)
        if "lint.prompt_artefact" in on and suspects is not None:
            plain |= np.fromiter(suspects, dtype=bool, count=n)[ids]
        look[ids] = plain
        return look

    @staticmethod
    def _with_runs(firsts: Sequence[int], supporter: np.ndarray) -> set[int]:
        """The dialogues (by position in the batch; ``firsts``: where their turns begin, and
        ``supporter`` per turn) where one speaker takes two turns in a row: the only ones
        :meth:`_runs` finds anything in."""
        if len(supporter) < 2:
            return set()
        pairs = np.flatnonzero(supporter[1:] == supporter[:-1])  # turns j and j + 1 alike
        starts = np.asarray(firsts)
        owner = np.searchsorted(starts, pairs, side="right") - 1
        inside = pairs + 1 < starts[owner + 1]  # j + 1 still the same dialogue's
        return set(owner[inside].tolist())

    def _whole(self, dialogue: Dialogue, runs: bool, out: list[Finding]) -> None:
        """The rules of the dialogue as a whole: length, who opens, runs of one speaker
        (``runs``: whether there may be any) and the labels."""
        on, config, did = self.on, self.config, dialogue.id
        add = out.append
        turns = dialogue.turns
        if "lint.dialogue_length" in on and not self.min_turns <= len(turns) <= self.max_turns:
            add(config.finding("lint.dialogue_length", did, None, "turns",
                               f"has {len(turns)} turns; the project expects "
                               f"{self.min_turns} to {self.max_turns}"))
        if turns and "lint.seeker_opens" in on and turns[0].role != Role.SEEKER:
            add(config.finding("lint.seeker_opens", did, 0, "turns[0].role",
                               f"the {self.role_label[turns[0].role]} speaks first; the "
                               f"{self.role_label[Role.SEEKER]} should open"))
        if runs and "lint.roles_alternate" in on:
            out.extend(self._runs(dialogue))
        self._labels(dialogue, out)

    def _turns(self, dialogue: Dialogue, indices: Iterable[int],
               suspects: Sequence[bool] | None, base: int, out: list[Finding]) -> None:
        """The rules of each turn in ``indices`` (in order); turn ``i``'s artefact suspicion
        is ``suspects[base + i]``."""
        on, config, did = self.on, self.config, dialogue.id
        add = out.append
        turns = dialogue.turns
        check_lang = "lint.language" in on and self.language in ("zh", "en")
        check_empty = "lint.empty_turn" in on
        check_length = "lint.turn_length" in on
        check_artefact = "lint.prompt_artefact" in on
        known, supporter, max_chars = self.strategies, Role.SUPPORTER, self.max_chars
        for i in indices:
            turn = turns[i]
            text = turn.text
            stripped = text.strip()
            if not stripped:
                if check_empty:
                    add(config.finding("lint.empty_turn", did, i, f"turns[{i}].text",
                                       "is empty" if not text else "is only whitespace"))
            else:
                if check_length and len(stripped) > max_chars:
                    add(config.finding("lint.turn_length", did, i, f"turns[{i}].text",
                                       f"is {len(stripped)} characters long; the project "
                                       f"allows {max_chars}"))
                if check_lang:
                    wrong = self._wrong_language(text)
                    if wrong:
                        add(config.finding("lint.language", did, i, f"turns[{i}].text",
                                           f"looks {wrong}, but the project is "
                                           f"{'Chinese' if self.language == 'zh' else 'English'}"
                                           f": {_quote(text)}"))
                if check_artefact and (suspects is None or suspects[base + i]):
                    artefact = self._artefact(text)
                    if artefact:
                        add(config.finding("lint.prompt_artefact", did, i, f"turns[{i}].text",
                                           artefact))
            # the usual case, a supporter turn with known strategies, costs one set test
            strategies = turn.strategies
            if turn.role == supporter:
                suspect = not strategies or not known.issuperset(strategies)
            else:
                suspect = bool(strategies)
            if suspect:
                self._strategies(dialogue, i, out)

    # ---- the rules ---------------------------------------------------------------------------
    def _runs(self, dialogue: Dialogue) -> Iterable[Finding]:
        turns = dialogue.turns
        start = 0
        for i in range(1, len(turns) + 1):
            if i < len(turns) and turns[i].role == turns[start].role:
                continue
            if i - start > 1:
                who = self.role_label[turns[start].role]
                yield self.config.finding(
                    "lint.roles_alternate", dialogue.id, start + 1, f"turns[{start + 1}].role",
                    f"turns {start + 1}-{i} are all the {who}'s ({i - start} in a row)")
            start = i

    def _labels(self, dialogue: Dialogue, out: list[Finding]) -> None:
        on, config, vocab = self.on, self.config, self.vocab
        topic = dialogue.topic
        if topic is None or not topic.strip():
            if "lint.topic_missing" in on:
                out.append(config.finding("lint.topic_missing", dialogue.id, None, "topic",
                                          f"has no {vocab.topic_label}"))
        elif topic not in self.topics and "lint.topic_unknown" in on:
            out.append(config.finding("lint.topic_unknown", dialogue.id, None, "topic",
                                      self._unknown("topic", topic, vocab.topic_label)))
        emotion = dialogue.emotion
        if emotion and emotion not in self.emotions and "lint.emotion_unknown" in on:
            out.append(config.finding("lint.emotion_unknown", dialogue.id, None, "emotion",
                                      self._unknown("emotion", emotion, "emotion")))

    def _unknown(self, kind: str, value: str, label: str) -> str:
        match = self.vocab.match(kind, value)  # type: ignore[arg-type]
        hint = f" (did you mean {match.label!r}?)" if match.label else ""
        return f"{label} {value!r} is not in the project's vocabulary{hint}"

    def _strategies(self, dialogue: Dialogue, i: int, out: list[Finding]) -> None:
        on, config = self.on, self.config
        turn = dialogue.turns[i]
        if turn.role == Role.SUPPORTER:
            if not turn.strategies:
                # Greeting and closing supporter turns carry no strategy in the published
                # ExTES data; only an unlabelled turn in between is worth a (warning) look.
                if "lint.strategy_missing" in on and not _greeting_or_closing(dialogue, i):
                    out.append(config.finding(
                        "lint.strategy_missing", dialogue.id, i, f"turns[{i}].strategies",
                        f"this {self.role_label[Role.SUPPORTER]} turn has no strategy"))
                return
        elif turn.strategies and "lint.strategy_on_seeker" in on:
            out.append(config.finding(
                "lint.strategy_on_seeker", dialogue.id, i, f"turns[{i}].strategies",
                f"a {self.role_label[Role.SEEKER]} turn carries strategies "
                f"{', '.join(map(repr, turn.strategies))}"))
        if "lint.strategy_unknown" in on:
            for j, name in enumerate(turn.strategies):
                if name not in self.strategies:
                    out.append(config.finding(
                        "lint.strategy_unknown", dialogue.id, i, f"turns[{i}].strategies[{j}]",
                        self._unknown("strategy", name, "strategy")))

    def _wrong_language(self, text: str) -> str | None:
        """'English' in a Chinese project, 'Chinese' in an English one, else None. A cheap
        script count: a few Latin words in Chinese text (names, "OK") are fine, and so is a
        Chinese word quoted in English."""
        if self.language == "zh":
            words = len(_LATIN_WORD.findall(text))
            if words >= 3 and len(_CJK.findall(text)) < 2 * words:
                return "English"
        elif not text.isascii():
            cjk = len(_CJK.findall(text))
            if cjk >= 4 and cjk > len(_LATIN_WORD.findall(text)):
                return "Chinese"
        return None

    def _artefact(self, text: str) -> str | None:
        prefix = self.role_prefix.match(text)
        if prefix is None and "\n" in text:
            prefix = next(filter(None, map(self.role_prefix.match, text.split("\n")[1:])), None)
        if prefix:
            return (f"starts with a speaker label {_quote(prefix.group(0))}: a leftover of the "
                    "prompt format")
        if not _may_hold_artefact(text.lower()):
            return None
        found = _ARTEFACTS.search(text)
        if found is None:
            return None
        if found.lastgroup == "fence":
            return "holds a markdown code fence (```): a leftover of the model's output format"
        if found.lastgroup == "disclaimer":
            return (f"holds the model talking about itself {_quote(found.group(0))}: not "
                    "something the supporter would say")
        return f"holds a template placeholder {_quote(found.group(0))}"


def _greeting_or_closing(dialogue: Dialogue, i: int) -> bool:
    """Whether supporter turn ``i`` opens or closes the dialogue: no supporter turn before it,
    or none after it, carries a strategy (the published ExTES data leaves the greeting and a
    goodbye or two unlabelled)."""
    labelled = [j for j, t in enumerate(dialogue.turns)
                if t.role == Role.SUPPORTER and t.strategies]
    return bool(labelled) and (i < labelled[0] or i > labelled[-1])
