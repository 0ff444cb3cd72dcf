"""How a project's vocabulary is shown: role names, strategy labels and definitions, topics.

The labels themselves are data of the project (its preset); only their display is decided here,
in the interface language where the preset has one (PECONV: 孩子/家长, 认可/共情/支持).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from curation_app.domain import Role
from curation_app.presets import Vocabulary
from curation_app.ui.i18n import language, t, t_optional


def topic_label(vocab: Vocabulary) -> str:
    return t_optional(f"label.{vocab.topic_label}") or t("label.topic")


def label_name(vocab: Vocabulary, kind: str, value: str | None) -> str:
    if value is None:
        return "—"
    if kind == "emotion":
        # the preset's own display name first (PECONV: 害怕 for fear), then the interface's
        own = vocab.emotion_label(value, language())
        shown = own if own != value else t_optional(f"emotion.{value}")
        return f"{shown} ({value})" if shown and shown != value else value
    return value


def role_name(vocab: Vocabulary, role: str | Role) -> str:
    return vocab.role_display(Role(role), language())


def strategy_label(vocab: Vocabulary, name: str) -> str:
    try:
        strategy = vocab.strategy(name)
    except Exception:  # noqa: BLE001 - a label the project no longer has: show it as is
        return name
    shown = strategy.label(language())
    return f"{shown} · {strategy.code}" if strategy.code else shown


def strategy_help(vocab: Vocabulary) -> str:
    """Every strategy with its definition, for a widget's help text (markdown)."""
    return "\n".join(f"- **{strategy_label(vocab, s.name)}**: {s.definition_in(language())}"
                     for s in vocab.strategies)


def shown(options: Iterable[Hashable], name: Callable[[Any], str]) -> Callable[[Any], str]:
    """A widget's ``format_func`` with every option's name worked out now, in this run's
    language (so the names do not depend on when or where Streamlit calls it)."""
    names = {option: name(option) for option in options}
    return lambda option: names.get(option, str(option))


def finding_message(finding: Any) -> str:
    """A check finding's message in the interface language: the checks word their messages in
    English (logs, CLI); the Chinese interface shows the rule's own Chinese sentence, with the
    turn, instead."""
    if language() == "en":
        return str(finding.message)
    described = t_optional(f"rule.{finding.rule}")
    if described is None:
        return str(finding.message)
    turn = getattr(finding, "turn", None)
    return (t("rule.at_turn", n=turn + 1) if turn is not None else "") + described


def blank(value: Any) -> str:
    """A table cell that may be absent: nothing, not "None" (as text, so that the column
    keeps one type)."""
    return "" if value is None else str(value)
