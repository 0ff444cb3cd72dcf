"""The command line, end to end against real databases: exact summary lines and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_app.cli import main
from curation_app.store.db import head_revision
from tests.conftest import shared_file

HEAD = head_revision()


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", db_url)
    monkeypatch.setenv("CURATION_USER", "tester")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def test_init_reports_the_schema_and_loads_the_demo_once(run):
    first = run("init", "--demo")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        f"database is up to date (schema {HEAD}); loaded demo projects demo-peconv, demo-extes; "
        "added demo users demo-annotator, demo-reviewer, demo-lead (password demo-password)")
    again = run("init", "--demo")
    assert again.stdout.strip() == f"database is up to date (schema {HEAD})"
    listed = run("projects", "list")
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["project", "preset", "lang", "dialogues", "turns", "by", "status"]
    assert lines[1].split() == ["demo-extes", "extes", "en", "3", "32", "draft", "3"]
    assert lines[2].split() == ["demo-peconv", "peconv", "zh", "3", "24", "draft", "3"]


def test_init_creates_a_new_sqlite_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CURATION_DATABASE_URL", raising=False)
    monkeypatch.setenv("CURATION_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"created database at schema {HEAD}"
    assert (tmp_path / "data" / "curation.db").exists()


def test_commands_before_init_say_to_run_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(main, ["projects", "list"])
    assert result.exit_code == 1
    assert "is not initialised or is out of date; run `curation init` first" in result.stderr


def test_esconv_import_and_export_round_trip_through_the_cli(run, tmp_path: Path):
    source = shared_file("esconv", "ESConv.json")
    assert run("projects", "create", "esconv-demo", "--preset", "esconv").stdout.strip() == (
        "created project esconv-demo (preset esconv, en: 13 topics, 11 emotions, 8 strategies)")
    imported = run("import", source, "--format", "esconv", "--project", "esconv-demo")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == "imported 1300 dialogues (38365 turns) into esconv-demo"

    out = tmp_path / "out.json"
    exported = run("export", "--project", "esconv-demo", "--format", "esconv", "-o", out)
    assert exported.stdout.strip() == (
        f"exported 1300 dialogues (38365 turns) from esconv-demo to {out} as esconv")
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(
        source.read_text(encoding="utf-8"))

    again = run("export", "--project", "esconv-demo", "--format", "esconv", "-o", out)
    assert again.exit_code == 1 and "exists" in again.stderr


def test_peconv_import_refuses_unknown_topics_then_adds_them(run, tmp_path: Path):
    source = shared_file("peconv", "child_chat_100.json")
    run("projects", "create", "qiaoban", "--preset", "peconv")
    refused = run("import", source, "--format", "peconv", "--project", "qiaoban")
    assert refused.exit_code == 1
    assert "nothing imported" in refused.stderr
    assert "is not in project qiaoban's vocabulary (pass --add-labels to add it)" in refused.stderr
    assert run("projects", "list").stdout.split("\n")[1].split()[3] == "0"

    added = run("import", source, "--format", "peconv", "--project", "qiaoban", "--add-labels",
                "--status", "approved", "--verbose")
    assert added.exit_code == 0, added.output
    summary = added.stdout.strip()
    assert summary.startswith("imported 100 dialogues (1577 turns) into qiaoban, ")
    assert "labels added" in summary
    assert "record 96 (dialog_id 100), field topic" in added.stderr  # the NaN topic is named

    out = tmp_path / "peconv.json"
    run("export", "--project", "qiaoban", "--format", "peconv", "-o", out, "--status", "approved")
    written = json.loads(out.read_text(encoding="utf-8"))
    original = json.loads(source.read_text(encoding="utf-8"))
    assert [d["dialog_id"] for d in written] == [d["dialog_id"] for d in original]
    assert [t["text"] for d in written for t in d["dialog"]] == [
        t["text"] for d in original for t in d["dialog"]]
    assert {t["speaker"] for d in written for t in d["dialog"]} == {"孩子", "家长"}


def test_skip_invalid_imports_the_valid_records_and_lists_the_rest(run, tmp_path: Path):
    records = json.loads(shared_file("extes", "extes_one_record.json").read_text("utf-8"))
    broken = json.loads(json.dumps(records[0]))
    broken["content"] = "not a list"
    bad = tmp_path / "mixed.json"
    bad.write_text(json.dumps([records[0], broken, records[0]]), encoding="utf-8")
    run("projects", "create", "ex", "--preset", "extes")

    refused = run("import", bad, "--format", "extes", "--project", "ex")
    assert refused.exit_code == 1
    assert "record 1" in refused.stderr and "content" in refused.stderr
    assert "1 of 3 records refused, nothing imported" in refused.stderr

    skipped = run("import", bad, "--format", "extes", "--project", "ex", "--skip-invalid")
    assert skipped.exit_code == 0
    assert skipped.stdout.strip().startswith(
        "imported 2 dialogues (32 turns) into ex, 1 record skipped")
    assert "skipped: record 1" in skipped.stderr


@pytest.mark.parametrize("content, message", [
    (b'[{"scene": "caf\xe9"}]', "not UTF-8"),
    (b'[{"scene": "x", "content": [', "truncated"),
    (b"hello", "not valid JSON"),
])
def test_unreadable_files_get_one_clear_line(run, tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "in.json"
    path.write_bytes(content)
    run("projects", "create", "ex", "--preset", "extes")
    result = run("import", path, "--format", "extes", "--project", "ex")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert "Traceback" not in result.output


def test_unknown_project_is_an_error_line(run, tmp_path: Path):
    result = run("export", "--project", "ghost", "--format", "jsonl", "-o", tmp_path / "x.jsonl")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: no project named 'ghost' (see `curation projects list`)")


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "curation_app", "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "Curate emotional-support dialogue datasets" in result.stdout


def test_users_assign_and_progress_commands(run):
    run("init", "--demo")
    runner = CliRunner()
    added = runner.invoke(main, ["users", "add", "ann", "--role", "annotator",
                                 "--password-stdin"], input="a long password\n")
    assert added.stdout.strip() == "added user ann (annotator) with a password"
    assert run("users", "add", "rita", "--role", "reviewer", "--no-password").stdout.strip() == (
        "added user rita (reviewer) with no password (identity provider only)")
    short = runner.invoke(main, ["users", "add", "bob", "--role", "lead", "--password-stdin"],
                          input="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.stderr
    assert run("users", "list").stdout.splitlines() == [
        "ann\tannotator\tpassword", "demo-annotator\tannotator\tpassword",
        "demo-lead\tlead\tpassword", "demo-reviewer\treviewer\tpassword",
        "rita\treviewer\tOIDC only"]

    refused = runner.invoke(main, ["assign", "--project", "demo-extes", "--to", "ann", "--to",
                                   "rita", "--count", "2"])
    assert refused.exit_code == 1
    assert "rita is a reviewer; annotation work can be assigned to annotators and leads only" \
        in refused.stderr
    assigned = run("assign", "--project", "demo-extes", "--to", "ann", "--to",
                   "demo-annotator", "--count", "2", "--overlap", "2")
    assert assigned.stdout.strip() == (
        "assigned 4 dialogues in demo-extes: ann 2, demo-annotator 2")
    report = run("progress", "--project", "demo-extes")
    assert report.stdout.strip() == (
        "demo-extes: 3 dialogues (draft 3); 0 edited by people, "
        "0.0 revisions per edited dialogue")
    assert "annotator ann: draft 2; 0 revisions, 0 min" in report.stderr


def test_generate_jobs_and_seeds_commands_against_the_stub(run, monkeypatch):
    from tests.openai_stub_server import OpenAIStub, truncated

    run("init", "--demo")
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        stub.script(truncated())
        made = run("generate", "--project", "demo-extes", "--topic",
                   "Job Loss or Career Setbacks", "-n", "3", "--concurrency", "1",
                   "--max-retries", "0")
    assert made.exit_code == 0, made.output
    line = made.stdout.strip()
    assert line.startswith("job 1 finished: 2 drafts stored, 1 failed, 0 remaining of 3 (")
    assert "see the failures with `curation jobs show 1 --failed`" in made.stderr
    shown = run("jobs", "show", "1", "--failed")
    assert ("item 0 (Job Loss or Career Setbacks): ModelOutputError: the reply was cut off"
            in shown.stdout)
    assert "raw reply: " in shown.stdout
    listed = run("jobs", "list").stdout.splitlines()
    assert listed[0].startswith("demo-extes: job 1 finished")
    assert listed[1].startswith("demo-extes in all: ")
    # demo-peconv was loaded first (ids 1-3); demo-extes holds 4-6
    promoted = run("seeds", "promote", "--project", "demo-extes", "--id", "4", "--id", "5")
    assert promoted.stderr.strip() == ("Error: only approved dialogues can become seeds; "
                                       "not approved: 4 (draft), 5 (draft)")
    assert run("seeds", "list", "--project", "demo-extes").stdout.startswith(
        "demo-extes has no seeds")
    wrong = run("seeds", "promote", "--project", "demo-extes", "--id", "1")
    assert wrong.stderr.strip() == "Error: project demo-extes has no dialogues with ids 1"
    bad = run("generate", "--project", "demo-extes", "--topic", "Mars Travel", "-n", "1")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == ("Error: topic 'Mars Travel' is not in the project's "
                                  "vocabulary (`curation projects show` lists them)")


@pytest.mark.slow
def test_serve_starts_the_web_app_on_the_configured_database(tmp_path: Path):
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**__import__("os").environ, "CURATION_DATA_DIR": str(tmp_path)}
    env.pop("CURATION_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "curation_app", "init"], env=env, check=True,
                   capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "curation_app", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=2) as reply:
                    assert reply.read() == b"ok"
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the app did not come up in 60 s"
                time.sleep(0.5)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    assert out.splitlines()[0] == (
        f"serving on http://127.0.0.1:{port} (database sqlite:///{tmp_path / 'curation.db'})")


def test_projects_configure_sets_check_rules_or_changes_nothing(run, db_url: str):
    from curation_app.services.context import AppContext

    assert run("init", "--demo").exit_code == 0
    done = run("projects", "configure", "demo-extes", "--rule", "lint.roles_alternate=off",
               "--rule", "safety.violence=error", "--dedup-threshold", "0.9")
    assert done.exit_code == 0, done.output
    assert "check rule safety.violence: on, error" in done.stderr
    # a bad rule is refused before anything, the temperature included, is written
    bad = run("projects", "configure", "demo-extes", "--temperature", "0.5",
              "--rule", "lint.nope=off")
    assert bad.exit_code == 1 and "unknown check rule 'lint.nope'" in bad.stderr
    loud = run("projects", "configure", "demo-extes", "--rule", "lint.roles_alternate=loud")
    assert loud.exit_code == 1
    assert loud.stderr.strip() == ("Error: --rule 'lint.roles_alternate=loud' is not "
                                   "RULE=error, RULE=warning, RULE=on or RULE=off")
    ctx = AppContext.from_url(db_url)
    try:
        with ctx.uow() as uow:
            settings = uow.repo.get_project("demo-extes").settings
    finally:
        ctx.close()
    assert settings["checks"]["rules"] == {
        "lint.roles_alternate": {"enabled": False},
        "safety.violence": {"enabled": True, "severity": "error"}}
    assert settings["checks"]["dedup_threshold"] == 0.9
    assert "temperature" not in settings
