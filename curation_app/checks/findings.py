"""The one shape every check reports in, the catalogue of rules, and a project's rule settings.

A check never raises for a fault in a dialogue: it returns :class:`Finding` records. A finding
names its rule, severity (``error`` blocks a release, ``warning`` does not), the dialogue, the
turn where it applies and a JSON path into the canonical record (``turns[3].text``), a message
for people, and for the safety screen the category. Near-duplicate findings also carry the
cluster they belong to and its similarity score.

Rules are data: :data:`RULES` lists every rule id with its check, default severity and what it
means. A project switches rules off or changes their severity in its settings::

    settings["checks"] = {
        "rules": {"lint.roles_alternate": {"enabled": False},
                  "safety.violence": {"severity": "error"}},
        "dedup_threshold": 0.9,
        "min_turns": 4,            # overrides the preset's length bounds
    }

:class:`CheckConfig` is those settings resolved against the preset's defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from curation_app.errors import InvalidInputError

Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")
Kind = Literal["format", "lint", "dedup", "safety", "privacy"]
KINDS: tuple[Kind, ...] = ("format", "lint", "dedup", "safety", "privacy")
DEFAULT_THRESHOLD = 0.85
# Used when neither the project nor its preset sets a bound.
DEFAULT_BOUNDS: dict[str, int] = {"min_turns": 4, "max_turns": 100, "max_turn_chars": 1000}


@dataclass(frozen=True)
class Finding:
    """One fault (or one thing to look at) in one dialogue."""

    rule: str
    severity: Severity
    dialogue_id: int | None
    turn: int | None
    path: str
    message: str
    category: str | None = None
    cluster: int | None = None
    score: float | None = None

    @property
    def kind(self) -> str:
        return self.rule.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    description: str

    @property
    def kind(self) -> str:
        return self.id.split(".", 1)[0]


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("format.schema", "error",
         "the dialogue does not fit the JSON Schema of the project's export format"),
    Rule("lint.roles_alternate", "warning",
         "seeker and supporter take turns; a run of turns by the same speaker is flagged"),
    Rule("lint.seeker_opens", "warning", "the seeker speaks first"),
    Rule("lint.strategy_missing", "warning",
         "every supporter turn between the first (greeting) and the last (closing) has a "
         "strategy"),
    Rule("lint.strategy_unknown", "error",
         "every strategy is one of the project's strategies"),
    Rule("lint.strategy_on_seeker", "warning", "seeker turns carry no strategy"),
    Rule("lint.empty_turn", "error", "no turn is empty or only whitespace"),
    Rule("lint.dialogue_length", "warning",
         "the number of turns is within the project's bounds (min_turns, max_turns)"),
    Rule("lint.turn_length", "warning",
         "no turn is longer than the project's max_turn_chars characters"),
    Rule("lint.language", "warning",
         "every turn is in the project's language (no English turn in a Chinese project, "
         "no Chinese turn in an English one)"),
    Rule("lint.prompt_artefact", "error",
         "no leftovers of the prompt or the model: role prefixes such as 'AI:' or '孩子：', "
         "markdown code fences, 'As an AI language model'"),
    Rule("lint.topic_missing", "warning", "the dialogue has a topic"),
    Rule("lint.topic_unknown", "error", "the topic is one of the project's topics"),
    Rule("lint.emotion_unknown", "error", "the emotion is one of the project's emotions"),
    Rule("dedup.exact", "error",
         "no other dialogue is the same text up to case, width, spaces and punctuation"),
    Rule("dedup.near", "warning",
         "no other dialogue is a near-duplicate (similarity at or above the threshold)"),
    Rule("dedup.turn", "warning",
         "a supporter turn is not recycled from other dialogues"),
    Rule("safety.self_harm", "warning", "mentions of suicide or self-harm, to be reviewed"),
    Rule("safety.violence", "warning", "threats or descriptions of violence"),
    Rule("safety.sexual_minors", "error", "sexual content involving minors"),
    Rule("safety.abuse", "warning", "descriptions of abuse, to be reviewed"),
    Rule("safety.contempt", "error",
         "the supporter shows contempt towards the child or seeker (insults, belittling)"),
    Rule("safety.certain_advice", "warning",
         "the supporter presents medical or legal advice as certain (a diagnosis, a cure, "
         "a won case)"),
    Rule("safety.moderation", "warning",
         "flagged by the configured moderation endpoint (categories in the finding)"),
    # Personal data (curation_app/checks/privacy.py): errors, so a release waits for them.
    Rule("privacy.name", "error", "a personal name beside a family or school word"),
    Rule("privacy.phone", "error", "a phone number (Chinese mobiles and landlines included)"),
    Rule("privacy.email", "error", "an e-mail address"),
    Rule("privacy.address", "error", "a street address or postal code"),
    Rule("privacy.school", "error", "the name of a school or a class"),
    Rule("privacy.id_number", "error", "a Chinese resident ID number (checksum verified)"),
    Rule("privacy.passport", "error", "a passport number"),
    Rule("privacy.ssn", "error", "a US Social Security number"),
    Rule("privacy.card", "error", "a payment card number (Luhn check verified)"),
)}


@dataclass(frozen=True)
class RuleSetting:
    enabled: bool
    severity: Severity


@dataclass(frozen=True)
class CheckConfig:
    """A project's check settings, resolved: what runs, how severe, which bounds."""

    rules: dict[str, RuleSetting]
    dedup_threshold: float = DEFAULT_THRESHOLD
    bounds: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_BOUNDS))

    @classmethod
    def resolve(cls, preset_checks: Mapping[str, Any] | None = None,
                settings: Mapping[str, Any] | None = None) -> CheckConfig:
        """Defaults, then the preset's ``checks`` key, then the project's
        ``settings["checks"]``."""
        preset_checks = preset_checks or {}
        own = dict((settings or {}).get("checks") or {})
        validate_settings(own)
        bounds = {key: int(own.get(key, preset_checks.get(key, default)))
                  for key, default in DEFAULT_BOUNDS.items()}
        overrides: dict[str, Any] = {**(preset_checks.get("rules") or {}),
                                     **(own.get("rules") or {})}
        rules = {}
        for rule_id, rule in RULES.items():
            change = overrides.get(rule_id) or {}
            rules[rule_id] = RuleSetting(enabled=bool(change.get("enabled", True)),
                                         severity=change.get("severity", rule.severity))
        threshold = float(own.get("dedup_threshold",
                                  preset_checks.get("dedup_threshold", DEFAULT_THRESHOLD)))
        return cls(rules=rules, dedup_threshold=threshold, bounds=bounds)

    def enabled(self, rule_id: str) -> bool:
        return self.rules[rule_id].enabled

    def severity(self, rule_id: str) -> Severity:
        return self.rules[rule_id].severity

    def finding(self, rule_id: str, dialogue_id: int | None, turn: int | None, path: str,
                message: str, **extra: Any) -> Finding:
        return Finding(rule_id, self.severity(rule_id), dialogue_id, turn, path, message,
                       **extra)

    def keep(self, findings: Iterable[Finding]) -> list[Finding]:
        """``findings`` without those of switched-off rules, with the project's severities."""
        out = []
        for f in findings:
            setting = self.rules.get(f.rule)
            if setting is None or not setting.enabled:
                continue
            out.append(f if f.severity == setting.severity
                       else replace(f, severity=setting.severity))
        return out


def validate_settings(checks: Mapping[str, Any]) -> None:
    """Refuse check settings that name an unknown rule or severity, or a threshold outside
    (0, 1]; the message names the offending key."""
    for rule_id, change in (checks.get("rules") or {}).items():
        if rule_id not in RULES:
            raise InvalidInputError(f"unknown check rule {rule_id!r}; the rules are: "
                                    f"{', '.join(RULES)}")
        if not isinstance(change, Mapping):
            raise InvalidInputError(f"check rule {rule_id}: expected an object with "
                                    "'enabled' and/or 'severity'")
        severity = change.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise InvalidInputError(f"check rule {rule_id}: severity must be error or "
                                    f"warning, not {severity!r}")
        if "enabled" in change and not isinstance(change["enabled"], bool):
            raise InvalidInputError(f"check rule {rule_id}: enabled must be true or false")
    if "dedup_threshold" in checks:
        value = checks["dedup_threshold"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise InvalidInputError(f"dedup_threshold must be a number in (0, 1], "
                                    f"not {value!r}")
    for key in DEFAULT_BOUNDS:
        if key in checks and (isinstance(checks[key], bool) or not isinstance(checks[key], int)
                              or checks[key] < 0):
            raise InvalidInputError(f"{key} must be a whole number >= 0, not {checks[key]!r}")
