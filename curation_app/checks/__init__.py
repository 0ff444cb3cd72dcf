"""Checks: the quality gate between rewriting and release.

::

    findings    Finding (the one shape every check returns), RULES, CheckConfig
    schema      format: each dialogue against its export format's JSON Schema
    lint        lint rules: roles, strategies, empty turns, lengths, language, artefacts, labels
    safety      the local safety screen (phrase lists in safety_terms.json)
    privacy     personal data: names, phones, e-mail, addresses, schools, ID/passport/SSN/card
    moderation  the optional OpenAI-compatible moderation endpoint
    dedup       exact and near-duplicate dialogues and recycled supporter turns
    text        normalisation and tokens shared by the above

Everything here is pure: dialogues and a vocabulary in, findings out, no database and no
printing. :class:`DialogueChecker` runs format, lint and safety on one dialogue at a time (the
editor calls it on every save); :func:`dedup_findings` runs over a whole corpus.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from curation_app.checks.batch import BatchTexts
from curation_app.checks.dedup import (
    Cluster,
    DedupParams,
    DedupResult,
    DuplicateSearch,
    find_duplicates,
)
from curation_app.checks.findings import (
    KINDS,
    RULES,
    SEVERITIES,
    CheckConfig,
    Finding,
    Kind,
    Rule,
    Severity,
    validate_settings,
)
from curation_app.checks.lint import Linter, artefact_suspects
from curation_app.checks.privacy import PrivacyScreen
from curation_app.checks.safety import Hit, default_screen
from curation_app.checks.schema import check_format, validator_for
from curation_app.domain import Dialogue, Role
from curation_app.presets import Vocabulary

__all__ = [
    "KINDS", "RULES", "SEVERITIES", "CheckConfig", "Cluster", "DedupParams", "DedupResult",
    "DialogueChecker", "DuplicateSearch", "Finding", "Kind", "Reference", "Rule", "Severity",
    "dedup_findings", "duplicate_findings", "find_duplicates", "validate_settings",
]


class DialogueChecker:
    """Format, lint, the local safety screen and the privacy scan for one project's dialogues,
    compiled once. ``dismissed`` holds the privacy findings marked as false alarms."""

    def __init__(self, vocab: Vocabulary, config: CheckConfig,
                 kinds: Iterable[str] = ("format", "lint", "safety", "privacy"),
                 dismissed: Iterable[tuple[int | None, str, str, str]] = ()):
        self.vocab = vocab
        self.config = config
        self.kinds = frozenset(kinds)
        self.fmt = vocab.export_format
        self.validator = validator_for(self.fmt, vocab) if "format" in self.kinds else None
        self.linter = Linter(vocab, config) if "lint" in self.kinds else None
        self.screen = default_screen() if "safety" in self.kinds else None
        self.privacy = PrivacyScreen(dismissed) if "privacy" in self.kinds else None

    def check_many(self, dialogues: Sequence[Dialogue]) -> list[Finding]:
        """The findings of every dialogue, in the order :meth:`check` would give them one
        dialogue after the other; the safety screen, the artefact search and the privacy
        scan read the batch's texts at once, flattened and encoded once for all three."""
        batch = BatchTexts.of(dialogues)
        texts, firsts = batch.texts, batch.firsts
        screened: list[dict[int, list[Hit]] | None] = [None] * len(dialogues)
        if self.screen is not None:
            by_turn: list[dict[int, list[Hit]]] = [{} for _ in dialogues]
            for i, hits in self.screen.screen_flagged(texts, batch.roles, batch).items():
                k = bisect.bisect_right(firsts, i) - 1
                by_turn[k][i - firsts[k]] = hits
            screened = list(by_turn)
        linted: list[list[Finding]] = [[]] * len(dialogues)
        if self.linter is not None:
            suspects = (artefact_suspects(texts, batch)
                        if self.config.enabled("lint.prompt_artefact") else None)
            linted = self.linter.check_many(dialogues, batch, suspects)
        private: list[list[Finding]] = (self.privacy.check_many(dialogues, self.config, batch)
                                        if self.privacy is not None else [[]] * len(dialogues))
        return [f for d, s, a, p in zip(dialogues, screened, linted, private, strict=True)
                for f in (*self._check(d, s, a), *p)]

    def check(self, dialogue: Dialogue) -> list[Finding]:
        out = self._check(dialogue)
        if self.privacy is not None:
            out += self.privacy.check(dialogue, self.config)
        return out

    def _check(self, dialogue: Dialogue, screened: dict[int, list[Hit]] | None = None,
               linted: list[Finding] | None = None) -> list[Finding]:
        """Format, lint and safety; ``screened`` and ``linted``: the safety hits and the
        lint findings when a batch was looked at at once."""
        out: list[Finding] = []
        if self.validator is not None:
            out += check_format(dialogue, self.vocab, self.config, self.validator, self.fmt)
        if self.linter is not None:
            out += self.linter.check(dialogue) if linted is None else linted
        if self.screen is not None:
            out += self.screen.check(dialogue, self.vocab, self.config, screened)
        return out


@dataclass(frozen=True)
class Reference:
    """A dialogue that is not the project's own but that its dialogues must not duplicate: a
    record of an earlier export or release. ``label`` names it in messages."""

    label: str
    dialogue: Dialogue


def dedup_findings(dialogues: Sequence[Dialogue], config: CheckConfig, language: str, *,
                   references: Sequence[Reference] = (), turns: bool = True,
                   params: DedupParams | None = None) -> tuple[list[Finding], DedupResult]:
    """Near-duplicate findings for ``dialogues`` (among themselves, seeds included, and
    against ``references``), one per dialogue (or supporter turn) in a cluster.

    Clusters are numbered from 1 in the order found; a finding's ``cluster`` and ``score``
    say which cluster and how close the dialogue is to its nearest member.
    """
    items = [*(d.turns for d in dialogues), *(r.dialogue.turns for r in references)]
    result = find_duplicates([[t.text for t in ts] for ts in items],
                             [[t.role == Role.SUPPORTER for t in ts] for ts in items],
                             threshold=config.dedup_threshold, language=language,
                             turns=turns, params=params)
    return duplicate_findings(result, config, [d.id for d in dialogues],
                              [d.is_seed for d in dialogues],
                              [r.label for r in references]), result


def duplicate_findings(result: DedupResult, config: CheckConfig, ids: Sequence[int | None],
                       seeds: Sequence[bool], references: Sequence[str]) -> list[Finding]:
    """The findings of ``result``, whose items are the project's dialogues (``ids`` and
    ``seeds`` per item) followed by the references (their labels)."""
    n = len(ids)

    def name(i: int) -> str:
        return references[i - n] if i >= n else f"{'seed ' if seeds[i] else ''}dialogue {ids[i]}"

    out: list[Finding] = []
    for number, cluster in enumerate(result.clusters, start=1):
        members = cluster.members
        if not any(m.item < n for m in members):
            continue  # references that duplicate each other are not the project's business
        has_release = any(m.item >= n for m in members)
        # Counted once per cluster, not per member against all the others: a sentence
        # recycled in thousands of dialogues makes a cluster of thousands of members.
        copies = Counter((o.item, o.turn) for o in members)
        seed_members = sum(1 for o in members if o.item < n and seeds[o.item])
        dialogues_in = len({o.item for o in members})
        for m in members:
            if m.item >= n:
                continue
            same = copies[(m.item, m.turn)]  # m itself, and any member just like it
            others = len(members) - same
            seed = seed_members - (same if seeds[m.item] else 0) > 0
            category = "release" if has_release else "seed" if seed else "project"
            first = [o for o in members[:4 + same] if (o.item, o.turn) != (m.item, m.turn)]
            named = [name(o.item) + (f" turn {o.turn + 1}" if o.turn is not None else "")
                     for o in first[:4]]
            if others > 4:
                named.append(f"{others - 4} more")
            listed = ", ".join(named)
            if cluster.level == "turn":
                rule = "dedup.turn"
                dialogues_with = dialogues_in - 1
                message = (f"supporter turn recycled in {dialogues_with} other "
                           f"dialogue{'s' if dialogues_with != 1 else ''}: {listed} "
                           f"(similarity {m.score:.2f}, cluster {number})")
                path = f"turns[{m.turn}].text"
            else:
                rule = "dedup.exact" if cluster.exact else "dedup.near"
                kind = ("exact duplicate" if cluster.exact
                        else f"near-duplicate (similarity {m.score:.2f})")
                message = f"{kind} of {listed} (cluster {number})"
                path = ""
            out.append(Finding(rule, config.severity(rule), ids[m.item], m.turn, path,
                               message, category=category, cluster=number, score=m.score))
    return config.keep(out)
