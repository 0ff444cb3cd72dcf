"""The editor's unsaved state of one dialogue, and the turn operations on it. Pure Python.

A :class:`WorkingCopy` is made from a dialogue at one version and lives in session state under
the dialogue's id, so edits survive reruns and page switches; saving sends its content with the
version it was made on (optimistic locking). Each turn carries a ``uid`` that stays with it when
turns move, so a widget keyed by it keeps showing the same turn.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from curation_app.domain import Dialogue, Role, Turn

# Gaps between two edits longer than this count as a pause, not as work.
IDLE_CAP_S = 300
# The typed-text marks of the two free-text fields that are not turns.
FIELD_UIDS = {"description": -1, "note": -2}
_SENTENCE_END = re.compile(r"(?<=[。！？!?…])|(?<=[.;；])\s")


@dataclass
class WorkTurn:
    uid: int
    role: str
    text: str
    strategies: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_turn(self) -> Turn:
        role = Role(self.role)
        strategies = list(self.strategies) if role == Role.SUPPORTER else []
        return Turn(role=role, text=self.text, strategies=strategies,
                    metadata=dict(self.metadata))


@dataclass
class WorkingCopy:
    dialogue_id: int
    version: int
    turns: list[WorkTurn]
    topic: str | None
    emotion: str | None
    description: str | None
    language: str = "en"
    note: str = ""
    next_uid: int = 0
    seconds: float = 0.0  # active editing time not yet saved
    last_touch: float = field(default_factory=time.monotonic)
    saved: tuple[Any, ...] = ()  # the content as loaded, to tell unsaved changes
    # Per turn uid, the text the browser last sent for it while someone typed (so the page
    # does not send that box's text back to the browser and overwrite newer keystrokes).
    typed: dict[int, str] = field(default_factory=dict)
    keeper_seq: int = 0  # the newest batch of keystrokes applied (see ui/keeper.py)
    # Bumped by every change of text that did not come from typing in its box (split, merge,
    # a restore, a save): the boxes are then drawn afresh, under new widget keys.
    stamp: int = 0
    # Turn uid -> index of that turn in the version this copy was made from.
    origin: dict[int, int] = field(default_factory=dict)
    # Turn uid -> the text a replacement by placeholders took away. A box drawn before the
    # replacement may still send that text (Streamlit commits a box's value when it loses
    # focus, after the click that replaced it; the keeper may resend its last batch): such a
    # late copy of the old text is not an edit and must not bring the personal data back.
    replaced: dict[int, str] = field(default_factory=dict)

    # ---- making one ----------------------------------------------------------------------
    @classmethod
    def from_dialogue(cls, dialogue: Dialogue) -> WorkingCopy:
        assert dialogue.id is not None
        copy = cls(
            dialogue_id=dialogue.id, version=dialogue.version,
            turns=[WorkTurn(i, str(t.role), t.text, list(t.strategies), dict(t.metadata))
                   for i, t in enumerate(dialogue.turns)],
            topic=dialogue.topic, emotion=dialogue.emotion, description=dialogue.description,
            language=dialogue.language, next_uid=len(dialogue.turns),
        )
        copy.origin = {i: i for i in range(len(dialogue.turns))}
        copy.saved = copy.content()
        return copy

    def after_save(self, fresh: Dialogue) -> WorkingCopy:
        """A clean copy of the dialogue just saved from this copy, keeping the turns' uids (the
        boxes on the page stay the same boxes) and what the browser last sent."""
        copy = WorkingCopy.from_dialogue(fresh)
        if len(copy.turns) == len(self.turns):
            for new, old in zip(copy.turns, self.turns, strict=True):
                new.uid = old.uid
            copy.origin = {t.uid: i for i, t in enumerate(copy.turns)}
            copy.next_uid = self.next_uid
            copy.typed = {uid: text for uid, text in self.typed.items()
                          if any(t.uid == uid and t.text == text for t in copy.turns)}
        copy.keeper_seq = self.keeper_seq
        copy.stamp = self.stamp + 1
        return copy

    def rebased(self, latest: Dialogue) -> WorkingCopy:
        """This copy's content on top of ``latest`` (reapply after a conflict)."""
        copy = WorkingCopy.from_dialogue(latest)
        copy.turns = [WorkTurn(i, t.role, t.text, list(t.strategies), dict(t.metadata))
                      for i, t in enumerate(self.turns)]
        copy.next_uid = len(copy.turns)
        copy.topic, copy.emotion, copy.description = self.topic, self.emotion, self.description
        copy.note, copy.seconds = self.note, self.seconds
        copy.stamp = self.stamp + 1
        return copy

    # ---- reading -------------------------------------------------------------------------
    def content(self) -> tuple[Any, ...]:
        return (tuple((t.role, t.text, tuple(t.strategies)) for t in self.turns),
                self.topic, self.emotion, self.description)

    @property
    def dirty(self) -> bool:
        return self.content() != self.saved

    def to_turns(self) -> list[Turn]:
        return [t.to_turn() for t in self.turns]

    def index(self, uid: int) -> int:
        for i, turn in enumerate(self.turns):
            if turn.uid == uid:
                return i
        raise KeyError(uid)

    def turn(self, uid: int) -> WorkTurn:
        return self.turns[self.index(uid)]

    # ---- time ----------------------------------------------------------------------------
    def touch(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.seconds += min(max(now - self.last_touch, 0.0), IDLE_CAP_S)
        self.last_touch = now

    def take_seconds(self) -> int:
        self.touch()
        spent, self.seconds = int(round(self.seconds)), 0.0
        return spent

    # ---- operations ----------------------------------------------------------------------
    def restructured(self) -> None:
        """Turns were added, removed, moved, split or merged: draw their boxes afresh."""
        self.stamp += 1
        self.touch()

    def _bump(self) -> int:
        uid = self.next_uid
        self.next_uid += 1
        return uid

    def set_text(self, uid: int, text: str, *, typed: bool = False) -> None:
        """``typed``: the text comes from the box the browser shows it in (not a restore)."""
        if typed and self.is_stale(uid, text):
            return
        self.replaced.pop(uid, None)
        self.turn(uid).text = text
        if typed:
            self.typed[uid] = text
        else:
            self.typed.pop(uid, None)
            self.stamp += 1
        self.touch()

    def is_stale(self, uid: int, text: str) -> bool:
        """Whether ``text`` for turn ``uid`` is the text a replacement took away (see
        :attr:`replaced`)."""
        return self.replaced.get(uid) == text and self.has_uid(uid) and self.turn(uid).text != text

    def set_field(self, name: str, text: str, *, typed: bool = False) -> None:
        """The description or the save note, as typed (see :meth:`set_text`)."""
        if name == "description":
            self.description = text or None
        else:
            self.note = text
        if typed:
            self.typed[FIELD_UIDS[name]] = text
        else:
            self.typed.pop(FIELD_UIDS[name], None)
            self.stamp += 1
        self.touch()

    def emptied(self, stored: Dialogue) -> list[int]:
        """Uids of turns that are empty here but have text in ``stored`` (the version this
        copy was made from)."""
        if stored.version != self.version:
            return []
        by_uid = {t.uid: t for t in self.turns}
        return [uid for uid, i in self.origin.items()
                if i < len(stored.turns) and stored.turns[i].text.strip()
                and uid in by_uid and not by_uid[uid].text.strip()]

    def has_uid(self, uid: int) -> bool:
        return any(t.uid == uid for t in self.turns)

    def set_role(self, uid: int, role: str) -> None:
        turn = self.turn(uid)
        turn.role = str(Role(role))
        if turn.role != Role.SUPPORTER:
            turn.strategies = []
        self.touch()

    def set_strategies(self, uid: int, strategies: list[str]) -> None:
        self.turn(uid).strategies = list(dict.fromkeys(strategies))
        self.touch()

    def add_after(self, uid: int | None) -> int:
        """A new empty turn after ``uid`` (at the end when None), by the other speaker."""
        at = len(self.turns) if uid is None else self.index(uid) + 1
        before = self.turns[at - 1].role if at > 0 else str(Role.SUPPORTER)
        role = Role.SEEKER if before == Role.SUPPORTER else Role.SUPPORTER
        new = WorkTurn(self._bump(), str(role), "")
        self.turns.insert(at, new)
        self.touch()
        return new.uid

    def delete(self, uid: int) -> None:
        del self.turns[self.index(uid)]
        self.touch()

    def move(self, uid: int, step: int) -> None:
        i = self.index(uid)
        j = i + step
        if 0 <= j < len(self.turns):
            self.turns[i], self.turns[j] = self.turns[j], self.turns[i]
            self.touch()

    def split(self, uid: int) -> int | None:
        """Cut a turn in two at its first line break, or else at the sentence end nearest the
        middle; the second half becomes a new turn of the same speaker. None if it cannot."""
        i = self.index(uid)
        turn = self.turns[i]
        head, tail = split_text(turn.text)
        if not tail:
            return None
        turn.text = head
        new = WorkTurn(self._bump(), turn.role, tail, list(turn.strategies))
        self.turns.insert(i + 1, new)
        self.touch()
        return new.uid

    def merge_next(self, uid: int) -> bool:
        """Join a turn with the one after it (text, strategies); False at the last turn."""
        i = self.index(uid)
        if i + 1 >= len(self.turns):
            return False
        first, second = self.turns[i], self.turns.pop(i + 1)
        joiner = "" if self.language.startswith("zh") else " "
        first.text = joiner.join(p for p in (first.text.rstrip(), second.text.lstrip()) if p)
        first.strategies = list(dict.fromkeys(first.strategies + second.strategies))
        self.touch()
        return True


def split_text(text: str) -> tuple[str, str]:
    """Where :meth:`WorkingCopy.split` cuts: a typed line break wins, else a sentence end."""
    text = text.strip()
    if "\n" in text:
        head, tail = text.split("\n", 1)
        return head.rstrip(), tail.strip()
    cuts = [m.end() for m in _SENTENCE_END.finditer(text) if 0 < m.end() < len(text)]
    if not cuts:
        return text, ""
    middle = len(text) / 2
    cut = min(cuts, key=lambda c: abs(c - middle))
    return text[:cut].rstrip(), text[cut:].strip()


class WorkingCopyStore:
    """Every user's working copies, kept by the server process (not by one browser session),
    so that a reload or a second tab finds the unsaved edit where it was left. One per
    database; thread-safe because Streamlit runs each session in its own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._copies: dict[str, dict[int, WorkingCopy]] = {}
        self._last: dict[str, int] = {}
        self._projects: dict[str, str] = {}

    def for_user(self, name: str) -> dict[int, WorkingCopy]:
        with self._lock:
            return self._copies.setdefault(name, {})

    def last_dialogue(self, name: str) -> int | None:
        return self._last.get(name)

    def remember(self, name: str, dialogue_id: int | None) -> None:
        with self._lock:
            if dialogue_id is None:
                self._last.pop(name, None)
            else:
                self._last[name] = dialogue_id

    def last_project(self, name: str) -> str | None:
        return self._projects.get(name)

    def remember_project(self, name: str, project: str | None) -> None:
        with self._lock:
            if project:
                self._projects[name] = project
