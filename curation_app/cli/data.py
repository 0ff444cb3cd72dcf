"""Commands for the database and the data in it: init, info, projects, import, export."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from curation_app.cli.base import (
    FORMATS,
    STATUSES,
    cli_actor,
    handle_errors,
    main,
    open_context,
    print_problems,
)
from curation_app.errors import CurationError
from curation_app.presets import PRESET_NAMES
from curation_app.services import projects as project_services
from curation_app.services import setup as setup_services
from curation_app.services import transfer


@main.command()
@click.option("--demo", is_flag=True, help="Also load the bundled demo projects if absent.")
@handle_errors
def init(demo: bool) -> None:
    """Create or migrate the database; optionally load the demo projects."""
    ctx = open_context(require_schema=False)
    try:
        summary = setup_services.initialise(ctx, demo=demo)
    finally:
        ctx.close()
    click.echo(summary.line())


@main.group()
def projects() -> None:
    """Create and list projects."""


@projects.command("create")
@click.argument("name")
@click.option("--preset", required=True, type=click.Choice(PRESET_NAMES),
              help="Vocabulary and formats to start from.")
@click.option("--topics-file", type=click.Path(dir_okay=False),
              help="A topic list (one or more per line, separated by 、) to add.")
@click.option("--replace-topics", is_flag=True,
              help="Use the topic list instead of the preset's topics, not in addition.")
@handle_errors
def projects_create(name: str, preset: str, topics_file: str | None,
                    replace_topics: bool) -> None:
    """Create project NAME from a preset."""
    ctx = open_context()
    try:
        record = project_services.create_project(
            ctx.uow(), cli_actor(), name, preset, topics_file=topics_file,
            replace_topics=replace_topics)
    finally:
        ctx.close()
    v = record.vocabulary
    click.echo(f"created project {record.name} (preset {record.preset}, {v.language}: "
               f"{len(v.topics)} topics, {len(v.emotions)} emotions, "
               f"{len(v.strategies)} strategies)")


@projects.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def projects_list(as_json: bool) -> None:
    """List projects with their dialogue counts."""
    ctx = open_context()
    try:
        rows = project_services.list_projects(ctx.uow())
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no projects (create one with `curation projects create NAME --preset …`)")
        return
    width = max(len("project"), *(len(r.name) for r in rows))
    click.echo(f"{'project':<{width}}  {'preset':<7} {'lang':<4} {'dialogues':>9} "
               f"{'turns':>7}  by status")
    for r in rows:
        statuses = ", ".join(f"{k} {v}" for k, v in r.by_status.items()) or "-"
        click.echo(f"{r.name:<{width}}  {r.preset:<7} {r.language:<4} {r.dialogues:>9} "
                   f"{r.turns:>7}  {statuses}")


@projects.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the vocabulary as JSON.")
@handle_errors
def projects_show(name: str, as_json: bool) -> None:
    """Show project NAME's vocabulary: roles, topics, emotions, strategies."""
    ctx = open_context()
    try:
        record = project_services.get_project(ctx.uow(), name)
    finally:
        ctx.close()
    v = record.vocabulary
    if as_json:
        click.echo(json.dumps(v.to_dict(), ensure_ascii=False, indent=2))
        return
    roles = ", ".join(f"{role.value} = {v.role_display(role)}" for role in v.roles)
    click.echo(f"{record.name}: preset {record.preset}, language {v.language}, roles {roles}")
    separator = "、" if v.language == "zh" else ", "
    click.echo(f"{v.topic_label}s ({len(v.topics)}): {separator.join(v.topics)}")
    click.echo(f"emotions ({len(v.emotions)}): {', '.join(v.emotions)}")
    many = "several per turn" if v.multi_strategy else "one per turn"
    click.echo(f"strategies ({len(v.strategies)}, {many}):")
    for s in v.strategies:
        click.echo(f"  {s.code:<4} {s.name}: {s.definition}")


@projects.command("add-labels")
@click.argument("name")
@click.option("--topic", "topics", multiple=True, help="A topic to add (repeatable).")
@click.option("--emotion", "emotions", multiple=True, help="An emotion label to add (repeatable).")
@click.option("--strategy", "strategies", multiple=True, help="A strategy to add (repeatable).")
@handle_errors
def projects_add_labels(name: str, topics: tuple[str, ...], emotions: tuple[str, ...],
                        strategies: tuple[str, ...]) -> None:
    """Extend project NAME's topics, emotions or strategies."""
    if not (topics or emotions or strategies):
        raise CurationError("name at least one --topic, --emotion or --strategy to add")
    ctx = open_context()
    added: list[str] = []
    try:
        for kind, labels in (("topic", topics), ("emotion", emotions),
                             ("strategy", strategies)):
            if labels:
                new = project_services.add_labels(ctx.uow(), cli_actor(), name, kind,
                                                  list(labels))
                added += [f"{kind} {label!r}" for label in new]
    finally:
        ctx.close()
    click.echo(f"added to {name}: {', '.join(added)}" if added
               else f"nothing added to {name}: all labels were already there")


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="The file's format.")
@click.option("--project", required=True, help="The project to import into.")
@click.option("--status", default="draft", show_default=True, type=click.Choice(STATUSES),
              help="Status the imported dialogues start in.")
@click.option("--skip-invalid", is_flag=True,
              help="Import the valid records and list the refused ones, instead of refusing all.")
@click.option("--add-labels", is_flag=True,
              help="Add topics/emotions/strategies the project lacks instead of refusing them.")
@click.option("--verbose", "-v", is_flag=True, help="List every warning and refused record.")
@click.option("--map-strategies", "label_map", metavar="FILE",
              help="A label map (JSON) turning the file's strategies/topics into the project's; "
                   "'esconv-to-extes' names the bundled one.")
@handle_errors
def import_(file: str, fmt: str, project: str, status: str, skip_invalid: bool,
            add_labels: bool, verbose: bool, label_map: str | None) -> None:
    """Import dialogues from FILE into a project."""
    ctx = open_context()
    try:
        summary = transfer.import_file(
            ctx.uow(), cli_actor(), file, fmt, project, status=status,
            skip_invalid=skip_invalid, add_labels=add_labels, label_map=label_map)
    finally:
        ctx.close()
    print_problems("skipped", summary.refused, verbose=verbose)
    print_problems("warning", summary.warnings, verbose=verbose)
    for kind, labels in summary.added_labels.items():
        click.echo(f"added {kind} labels: {', '.join(labels)}", err=True)
    click.echo(summary.line())


@main.command("export")
@click.option("--project", required=True, help="The project to export.")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="The format to write.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The file to write (never overwritten unless --overwrite).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only dialogues in this status (repeatable). Default: all but discarded.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--include-discarded", is_flag=True,
              help="Also write discarded dialogues (left out otherwise).")
@click.option("--include-overlap-copies", is_flag=True,
              help="Also write second annotators' overlap copies (left out otherwise).")
@handle_errors
def export(project: str, fmt: str, output: str, statuses: tuple[str, ...],
           overwrite: bool, include_discarded: bool, include_overlap_copies: bool) -> None:
    """Export a project's dialogues to a file (for a versioned dataset: curation release)."""
    ctx = open_context()
    try:
        summary = transfer.export_file(ctx.uow(), cli_actor(), project, fmt, output,
                                       statuses=statuses, overwrite=overwrite,
                                       include_discarded=include_discarded,
                                       include_overlap_copies=include_overlap_copies)
    finally:
        ctx.close()
    click.echo(summary.included(), err=True)
    click.echo(summary.line())


def _parse_targets(values: Sequence[str], targets_file: str | None) -> dict[str, int]:
    pairs = list(values)
    if targets_file:
        text = Path(targets_file).read_text(encoding="utf-8-sig")
        pairs += [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    targets: dict[str, int] = {}
    for pair in pairs:
        topic, sep, count = pair.rpartition("=") if "=" in pair else pair.rpartition(",")
        if not sep or not topic.strip() or not count.strip().isdigit():
            raise CurationError(f"target {pair!r} is not TOPIC=COUNT")
        targets[topic.strip()] = int(count)
    return targets


def _parse_rules(pairs: Sequence[str]) -> dict[str, dict[str, object]]:
    """``RULE=error|warning|on|off`` pairs as check-settings changes."""
    changes: dict[str, dict[str, object]] = {}
    for pair in pairs:
        rule_id, sep, setting = pair.partition("=")
        setting = setting.strip().lower()
        change = changes.setdefault(rule_id.strip(), {})
        if setting in ("error", "warning"):
            change.update(enabled=True, severity=setting)
        elif setting in ("on", "off"):
            change["enabled"] = setting == "on"
        else:
            raise CurationError(f"--rule {pair!r} is not RULE=error, RULE=warning, RULE=on or "
                                "RULE=off")
        if not sep or not rule_id.strip():
            raise CurationError(f"--rule {pair!r} names no rule")
    return changes


@projects.command("configure")
@click.argument("name")
@click.option("--model", help="Model name used for this project's drafts.")
@click.option("--target", "targets", multiple=True,
              help="Target number of dialogues for a topic, as TOPIC=N (repeatable).")
@click.option("--targets-file", type=click.Path(dir_okay=False, exists=True),
              help="A file of TOPIC=N (or TOPIC,N) lines.")
@click.option("--temperature", type=float, help="Sampling temperature of drafts (0-2).")
@click.option("--top-p", "top_p", type=float, help="Nucleus sampling top-p of drafts (0-1).")
@click.option("--seed-policy", type=click.Choice(["all_rounds", "newest_round"]),
              help="Which seeds prompts show: every round, or the newest round only (ExTES).")
@click.option("--seed-shortage", type=click.Choice(["warn", "refuse"]),
              help="What a job does when a scenario has fewer seeds than a prompt shows.")
@click.option("--cross-scenario-seeds/--same-scenario-seeds", default=None,
              help="Let prompts fill up with seeds of other scenarios (default: same only).")
@click.option("--child-grade", help="PECONV: the child's age or school grade in prompts.")
@click.option("--target-chars", type=int, help="PECONV: target length of a draft in characters.")
@click.option("--max-output-tokens", type=int,
              help="Most tokens a draft may take (and what a budget reserves per call).")
@click.option("--rule", "rules", multiple=True, metavar="RULE=SETTING",
              help="A check rule's severity or state: RULE=error, RULE=warning, RULE=off or "
                   "RULE=on (repeatable; an unknown RULE is answered with the list of rules).")
@click.option("--dedup-threshold", type=float,
              help="Similarity at or above which two dialogues are near-duplicates (0-1].")
@handle_errors
def projects_configure(name: str, model: str | None, targets: tuple[str, ...],
                       targets_file: str | None, temperature: float | None,
                       top_p: float | None, seed_policy: str | None, seed_shortage: str | None,
                       cross_scenario_seeds: bool | None, child_grade: str | None,
                       target_chars: int | None, max_output_tokens: int | None,
                       rules: tuple[str, ...], dedup_threshold: float | None) -> None:
    """Set project NAME's model, targets and generation settings; show target progress."""
    from curation_app.checks.findings import validate_settings
    from curation_app.services import checks as check_services
    from curation_app.services import generation  # the OpenAI SDK: not for import and export

    wanted = _parse_targets(targets, targets_file)
    rule_changes = _parse_rules(rules)
    # Refused before anything is written, so a bad rule never leaves half the options applied.
    validate_settings({"rules": rule_changes,
                       **({} if dedup_threshold is None else
                          {"dedup_threshold": dedup_threshold})})
    options = {"temperature": temperature, "top_p": top_p, "seed_policy": seed_policy,
               "seed_shortage": seed_shortage, "cross_scenario_seeds": cross_scenario_seeds,
               "child_grade": child_grade, "target_chars": target_chars,
               "max_output_tokens": max_output_tokens}
    ctx = open_context()
    try:
        settings = generation.configure_project(
            ctx, cli_actor(), name, model=model, targets=wanted,
            generation={k: v for k, v in options.items() if v is not None})
        if rule_changes or dedup_threshold is not None:
            stored = check_services.configure_checks(ctx, cli_actor(), name, rules=rule_changes,
                                                     dedup_threshold=dedup_threshold)
            for rule_id in rule_changes:
                change = stored["rules"][rule_id]
                state = "off" if change.get("enabled") is False else "on"
                severity = change.get("severity")
                click.echo(f"  check rule {rule_id}: {state}"
                           + (f", {severity}" if severity else ""), err=True)
            if dedup_threshold is not None:
                click.echo(f"  near-duplicate threshold: {stored['dedup_threshold']:g}",
                           err=True)
        progress = generation.target_progress(ctx, name)
    finally:
        ctx.close()
    click.echo(f"{name}: model {settings.get('model', generation.DEFAULT_MODEL)}, "
               f"{len(progress)} topics with targets, "
               f"{sum(max(0, n - have) for _, n, have in progress)} dialogues still needed")
    for topic, n, have in progress:
        click.echo(f"  {topic}: {have}/{n}", err=True)
