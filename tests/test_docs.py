"""The README cannot drift from the CLI: every command is documented and has help text."""

from __future__ import annotations

import click
import pytest

from curation_app.cli import main
from tests.conftest import REPO_ROOT


def _commands(group: click.Group, prefix: str = "curation") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


COMMANDS = _commands(main)


@pytest.mark.parametrize("path, command", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_is_in_the_readme_and_has_help(path: str, command: click.Command):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert path in readme, f"`{path}` is not documented in README.md"
    assert (command.help or "").strip(), f"`{path}` has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"`{path}` option {param.opts} has no help text"


def test_the_readme_names_the_two_commands_and_ci_calls_the_test_one():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "./scripts/run-demo.sh" in readme and "./scripts/test.sh" in readme
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./scripts/test.sh" in ci
