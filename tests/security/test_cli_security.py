"""`curation backup`, `restore`, `users role`, `users remove` and `audit`, end to end."""

from __future__ import annotations

import json

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
