"""`curation backup`, `restore`, `users role`, `users remove` and `audit`, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from curation_app.cli import main
from curation_app.services.context import AppContext
from curation_app.services.projects import get_project


def _run(monkeypatch, url: str, *args: str):
    monkeypatch.setenv("CURATION_DATABASE_URL", url)
    monkeypatch.setenv("CURATION_USER", "tester")
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_backup_restore_roles_and_the_audit_log(db_url, tmp_path, monkeypatch):
    assert _run(monkeypatch, db_url, "init", "--demo").exit_code == 0
    out = tmp_path / "b.jsonl"
    made = _run(monkeypatch, db_url, "backup", out)
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("backed up ") and str(out) in made.stdout
    again = _run(monkeypatch, db_url, "backup", out)
    assert again.exit_code == 1 and "exists; pass --overwrite" in again.stderr

    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = _run(monkeypatch, target, "restore", out)
    assert restored.exit_code == 0, restored.output
    assert restored.stdout.startswith("restored ")
    assert "demo-peconv" in _run(monkeypatch, target, "projects", "list").stdout
    refused = _run(monkeypatch, target, "restore", out)
    assert refused.exit_code == 1 and "restore needs an empty database" in refused.stderr

    role = _run(monkeypatch, target, "users", "role", "demo-annotator", "reviewer")
    assert role.stdout.strip() == "demo-annotator is now reviewer; their sessions ended"
    gone = _run(monkeypatch, target, "users", "remove", "demo-reviewer")
    assert gone.stdout.strip() == "removed user demo-reviewer"
    listed = _run(monkeypatch, target, "users", "list").stdout
    assert "demo-annotator\treviewer" in listed and "demo-reviewer" not in listed

    log = [json.loads(line) for line in
           _run(monkeypatch, target, "audit", "--json").stdout.splitlines()]
    assert [e["action"] for e in log[:3]] == ["user.delete", "user.role", "restore"]
    assert log[1]["detail"] == {"from": "annotator", "to": "reviewer"}
    assert all(e["user"] == "tester" for e in log[:3])
    only = _run(monkeypatch, target, "audit", "--action", "user.role").stdout.splitlines()
    assert len(only) == 1 and "\ttester\tuser.role\tdemo-annotator\tfrom=annotator to=reviewer" \
        in only[0]


def test_an_unreadable_database_says_why_not_that_it_is_uninitialised(tmp_path, monkeypatch):
    # a SQLite "file" that cannot be opened stands for a full or failing disk: the message is
    # the database's own reason, not "run curation init"
    folder = tmp_path / "db-is-a-folder.db"
    folder.mkdir()
    result = _run(monkeypatch, f"sqlite:///{folder}", "export", "--project", "p",
                  "--format", "jsonl", "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 1
    assert "cannot read the database" in result.stderr
    assert "unable to open database file" in result.stderr
    assert "curation init" not in result.stderr


def test_projects_access_switches_what_annotators_read(db_url, monkeypatch):
    assert _run(monkeypatch, db_url, "init", "--demo").exit_code == 0
    done = _run(monkeypatch, db_url, "projects", "access", "demo-extes", "--annotators-read",
                "all")
    assert done.stdout.strip() == "annotators of demo-extes now read every dialogue"
    ctx = AppContext.from_url(db_url)
    try:
        assert get_project(ctx.uow(), "demo-extes").settings["annotators_read_all"] is True
    finally:
        ctx.close()
    back = _run(monkeypatch, db_url, "projects", "access", "demo-extes", "--annotators-read",
                "own")
    assert back.stdout.strip() == ("annotators of demo-extes now read their own dialogues and "
                                   "unassigned drafts")


def test_users_role_in_one_project_is_set_listed_cleared_and_audited(db_url, monkeypatch):
    assert _run(monkeypatch, db_url, "init", "--demo").exit_code == 0
    set_ = _run(monkeypatch, db_url, "users", "role", "demo-annotator", "lead",
                "--project", "demo-extes")
    assert set_.exit_code == 0, set_.output
    assert set_.stdout.strip() == "demo-annotator is now lead in demo-extes; their sessions ended"
    same = _run(monkeypatch, db_url, "users", "role", "demo-annotator", "lead",
                "--project", "demo-extes")
    assert same.stdout.strip() == "demo-annotator is already lead in demo-extes"
    listed = _run(monkeypatch, db_url, "users", "list").stdout.splitlines()
    assert "demo-annotator\tannotator\tpassword\tlead in demo-extes" in listed
    assert "demo-lead\tlead\tpassword" in listed  # no fourth column without project roles

    cleared = _run(monkeypatch, db_url, "users", "role", "demo-annotator", "--project",
                   "demo-extes", "--clear")
    assert cleared.stdout.strip() == ("demo-annotator is no longer lead in demo-extes (their "
                                      "account's role applies there); their sessions ended")
    again = _run(monkeypatch, db_url, "users", "role", "demo-annotator", "--project",
                 "demo-extes", "--clear")
    assert again.stdout.strip() == ("demo-annotator had no role of their own in demo-extes; "
                                    "nothing changed")
    assert "demo-annotator\tannotator\tpassword" in \
        _run(monkeypatch, db_url, "users", "list").stdout.splitlines()

    log = [json.loads(line) for line in _run(monkeypatch, db_url, "audit", "--json",
                                             "--action", "user.project_role").stdout.splitlines()]
    assert [e["detail"] for e in log] == [
        {"project": "demo-extes", "from": "lead", "to": None},
        {"project": "demo-extes", "from": None, "to": "lead"}]

    for args, message in [
            (("demo-annotator", "--clear"), "--clear takes --project and no ROLE"),
            (("demo-annotator", "lead", "--project", "demo-extes", "--clear"),
             "--clear takes --project and no ROLE"),
            (("demo-annotator", "--project", "demo-extes"), "name the ROLE"),
            (("demo-annotator", "lead", "--project", "nope"), "nope")]:
        bad = _run(monkeypatch, db_url, "users", "role", *args)
        assert bad.exit_code != 0 and message in bad.stderr, (args, bad.output)


def test_users_role_is_found_in_a_fresh_process():
    # `users` is defined in cli/team.py and `users role` in cli/ops.py: the lazy table must load
    # both, or `curation users role …` is "No such command" outside a test process that
    # happened to import ops already
    done = subprocess.run([sys.executable, "-m", "curation_app", "users", "role", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--project" in done.stdout and "--clear" in done.stdout
