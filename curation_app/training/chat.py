"""``curation-train chat``: talk to a tuned model in the terminal, behind the safety screen.

Every reply passes the same local screen ``curation check`` uses (the phrase lists of
``curation_app.checks.safety``, applied as to a supporter's turn) and, when
``CURATION_MODERATION=openai`` is configured, the moderation endpoint. A flagged reply is never
shown: the user sees :data:`NOTICE` instead (PANDA's checker does the same), the conversation
goes on from the notice, and the transcript keeps the withheld text and why, for review.
A moderation endpoint that fails withholds the reply too: an unchecked reply is not shown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from curation_app.checks import safety
from curation_app.checks.moderation import ModerationConfig, Moderator
from curation_app.training.errors import TrainingSetupError

NOTICE = {
    "en": ("[This reply was held back by the safety check.] I'd rather not answer that way. "
           "If things feel heavy right now, please talk to someone you trust or contact a local "
           "support line; you don't have to carry this alone."),
    "zh": ("【这条回复未通过安全检查，已被替换。】我不想用那样的方式回答你。如果你现在感觉很难受，"
           "请和你信任的人聊一聊，或者联系当地的心理援助热线，你不需要一个人扛着。"),
}
QUIT = {"/quit", "/exit", "/q"}


@dataclass
class Verdict:
    flagged: bool
    reasons: list[str] = field(default_factory=list)


class SafetyGate:
    """The local screen plus the optional moderation endpoint, for the model's replies."""

    def __init__(self, moderator: Moderator | None = None):
        self.screen = safety.default_screen()
        self.moderator = moderator

    @classmethod
    def from_env(cls) -> SafetyGate:
        try:
            config = ModerationConfig.from_env()
        except Exception as exc:  # the app's InvalidInputError: a misconfigured endpoint
            raise TrainingSetupError(f"moderation endpoint: {exc}") from exc
        return cls(Moderator(config) if config else None)

    def check(self, text: str) -> Verdict:
        reasons = [f"safety.{hit.category.name} ('{hit.phrase}')"
                   for hit in self.screen.screen(text, safety.Role.SUPPORTER)]
        if self.moderator is not None:
            try:
                names = self.moderator.flagged([text])[0]
            except Exception as exc:  # noqa: BLE001 - any failure means "not checked"
                reasons.append(f"moderation endpoint failed: {exc}")
            else:
                if names:
                    reasons.append("moderation: " + ", ".join(names))
        return Verdict(bool(reasons), reasons)

    def close(self) -> None:
        if self.moderator is not None:
            self.moderator.close()


def chat_loop(reply: Callable[[list[dict[str, str]]], str], gate: SafetyGate, *,
              system_prompt: str, language: str, lines: Iterable[str], out: TextIO,
              transcript: Path | None = None, prompt: str = "you> ") -> list[dict[str, Any]]:
    """Read the user's lines, answer each through ``reply`` and ``gate``; return the turns."""
    notice = NOTICE.get(language, NOTICE["en"])
    history: list[dict[str, str]] = [{"role": "system", "content": system_prompt}]
    log: list[dict[str, Any]] = []
    out.write("Type a message; /quit (or end of input) stops.\n")
    out.write(prompt)
    out.flush()
    for line in lines:
        text = line.rstrip("\n")
        if text.strip() in QUIT:
            break
        if not text.strip():
            out.write(prompt)
            out.flush()
            continue
        history.append({"role": "user", "content": text})
        log.append({"role": "user", "content": text, "time": time.time()})
        answer = reply(history)
        verdict = gate.check(answer)
        shown = notice if verdict.flagged else answer
        history.append({"role": "assistant", "content": shown})
        entry: dict[str, Any] = {"role": "assistant", "content": shown, "time": time.time(),
                                 "flagged": verdict.flagged}
        if verdict.flagged:
            entry["withheld"] = answer
            entry["reasons"] = verdict.reasons
        log.append(entry)
        out.write(f"model> {shown}\n{prompt}")
        out.flush()
        if transcript is not None:
            _save(transcript, system_prompt, log)
    out.write("\n")
    if transcript is not None:
        _save(transcript, system_prompt, log)
    return log


def _save(path: Path, system_prompt: str, log: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"system_prompt": system_prompt, "turns": log}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), "utf-8")
    tmp.replace(path)


def model_replier(model: Any, tokenizer: Any, *, with_strategies: bool, max_new_tokens: int,
                  max_length: int) -> Callable[[list[dict[str, str]]], str]:
    from curation_app.training.evaluate import generate
    from curation_app.training.examples import prompt_ids, split_strategies

    def reply(history: list[dict[str, str]]) -> str:
        ids = prompt_ids(tokenizer, history)[-max(1, max_length - max_new_tokens):]
        text = generate(model, tokenizer, [ids], max_new_tokens=max_new_tokens, batch_size=1)[0]
        return split_strategies(text)[1] if with_strategies else text

    return reply
