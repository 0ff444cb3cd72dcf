"""`curation --help` and `curation info` start without the heavy libraries; the lazy command
table stays in step with the commands it stands for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from curation_app.cli import main
from tests.conftest import REPO_ROOT

HEAVY = ("openai", "pandas", "streamlit", "sqlalchemy", "alembic", "datasets", "rapidfuzz")


def imported_modules(*args: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "curation_app", *args],
                          env=env, capture_output=True, text=True, check=True)
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "curation_app.cli.base" in names, done.stderr[-2000:]  # the parse itself works
    return names


@pytest.mark.parametrize("args", [("--help",), ("info",), ("--version",)])
def test_help_and_info_import_no_heavy_library(args):
    loaded = imported_modules(*args)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], f"`curation {' '.join(args)}` imported {heavy[:10]}"


def test_a_command_imports_its_module_only_when_it_runs():
    loaded = imported_modules("generate", "--help")
    assert "curation_app.services.generation" in loaded and "openai" in loaded
    assert "curation_app.services.checks" not in loaded  # `check` was not asked for


def test_the_lazy_table_lists_every_command_with_its_own_help():
    table = dict(main.lazy)
    commands = main.commands  # imports every module
    assert sorted(commands) == sorted(table), "a command is missing from cli/__init__.py"
    for name, command in commands.items():
        module, short = table[name]
        assert all(m in sys.modules for m in module.split(",")), name
        assert short == command.get_short_help_str(10_000), name


def test_dedup_of_a_file_loads_no_database_layer():
    loaded = imported_modules("dedup", "--help")
    assert "curation_app.services.file_dedup" in loaded
    database = ("sqlalchemy", "alembic", "psycopg", "curation_app.services.context",
                "curation_app.store.db", "curation_app.store.models")
    heavy = sorted(m for m in loaded if m.startswith(database) or m.split(".")[0] in (
        "openai", "pandas", "streamlit", "datasets"))
    assert heavy == [], f"`curation dedup` imported {heavy[:10]}"


def test_an_export_loads_neither_the_checks_nor_numpy():
    """Reached through the unit of work's repositories, which name findings only as a type."""
    loaded = imported_modules("export", "--help")
    assert "curation_app.services.projects" in loaded  # the command's module did load
    assert not {"curation_app.checks", "numpy"} & loaded


def test_loading_the_accounts_module_hashes_no_password():
    """The dummy hash that keeps sign-in timing alike is made by the first sign-in, not by
    every command that imports the module."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    code = ("import curation_app.services.users as u; "
            "print(u._dummy_hash.cache_info().currsize)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "0"
