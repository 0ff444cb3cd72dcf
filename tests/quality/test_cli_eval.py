"""``curation eval``: a campaign from the command line, rated, closed, exported, judged through
the local OpenAI-protocol server and compared; exact summary lines and exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_app.cli import main
from tests.openai_stub_server import OpenAIStub, reply

ASPECTS = ("informativeness", "understanding", "helpfulness", "consistency", "coherence")


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", db_url)
    monkeypatch.setenv("CURATION_USER", "tester")
    runner = CliRunner()

    def invoke(*args: object, user: str = "tester"):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False,
                             env={"CURATION_USER": user})

    assert invoke("init", "--demo").exit_code == 0
    return invoke


def scores(*values: int) -> list[str]:
    out = []
    for aspect, v in zip(ASPECTS, values, strict=True):
        out += ["--score", f"{aspect}={v}"]
    return out


def test_campaign_rate_agreement_export_and_close(run, tmp_path: Path):
    created = run("eval", "campaign", "create", "--project", "demo-extes", "--name", "pilot",
                  "--protocol", "extes", "--raters", "demo-annotator,demo-reviewer",
                  "--overlap", "2", "-n", "3")
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == ("campaign 1 (pilot): 3 items, extes protocol, 2 raters, "
                                      "overlap 2")
    for user, rows in {"demo-annotator": [(3, 2, 3, 3, 2), (1, 1, 2, 2, 1), (2, 3, 2, 3, 3)],
                       "demo-reviewer": [(3, 2, 2, 3, 2), (1, 2, 1, 2, 1), (2, 3, 3, 3, 2)]
                       }.items():
        for n, values in enumerate(rows, start=1):
            result = run("eval", "rate", 1, n, *scores(*values), user=user)
            assert result.exit_code == 0, result.output
    shown = run("eval", "campaign", "show", 1).stdout.splitlines()
    assert shown[2].split() == ["demo-annotator", "3", "3"]
    table = run("eval", "agreement", 1).stdout.splitlines()
    assert table[0] == "pilot (extes): 3 of 3 items rated, overall mean 2.17"
    # Beside ours, ExTES table 4's figures for the same aspect.
    assert table[2].split() == ["informativeness", "2.00", "1.000", "1.000", "3", "2.53", "0.51"]
    assert table[4].split() == ["helpfulness", "2.17", "-0.636", "0.083", "3", "2.61", "0.44"]
    figures = json.loads(run("eval", "agreement", 1, "--json").stdout)
    assert figures["aspects"][1]["fleiss_kappa"] == 0.455

    out = tmp_path / "ratings.csv"
    assert run("eval", "export", 1, "--out", out).stdout.strip() == f"wrote 6 ratings to {out}"
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 6 and {r["rater"] for r in rows} == {"demo-annotator", "demo-reviewer"}
    again = run("eval", "export", 1, "--out", out)
    assert again.exit_code == 1 and "already exists" in again.stderr

    assert run("eval", "campaign", "close", 1).stdout.strip() == "campaign 1 (pilot) closed"
    late = run("eval", "rate", 1, 1, *scores(0, 0, 0, 0, 0), user="demo-annotator")
    assert late.exit_code == 1
    assert late.stderr.strip() == ("Error: campaign pilot is closed; its ratings can no "
                                   "longer change")


def test_bad_input_is_one_error_line(run, tmp_path: Path):
    bad = tmp_path / "responses.jsonl"
    bad.write_text('{"id": "a", "context": "hi", "response": "hello"}\nnot json\n')
    result = run("eval", "campaign", "create", "--project", "demo-extes", "--name", "x",
                 "--protocol", "panda", "--raters", "demo-annotator", "--overlap", "1",
                 "--sample", "none", "--responses", f"{bad}=base")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: responses.jsonl: record 1 (line 2) is not JSON")
    unknown = run("eval", "campaign", "create", "--project", "demo-extes", "--name", "x",
                  "--protocol", "nope", "--raters", "demo-annotator", "-n", "1",
                  "--overlap", "1")
    assert unknown.exit_code == 1 and "no rating protocol named 'nope'" in unknown.stderr


def test_judge_and_compare_responses_of_two_models(run, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    files = []
    for name, text in (("base", "ok."), ("tuned", "That sounds hard. What happened?")):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(json.dumps({"id": f"q{i}", "context": [
            {"role": "user", "content": f"I am worried about exam {i}"}], "response": text})
            for i in range(4)), encoding="utf-8")
        files.append(f"{path}={name}")
    created = run("eval", "campaign", "create", "--project", "demo-extes", "--name", "models",
                  "--protocol", "panda", "--raters", "demo-annotator", "--overlap", "1",
                  "--sample", "none", "--responses", files[0], "--responses", files[1])
    assert created.stdout.strip() == ("campaign 1 (models): 8 items in groups base, tuned, "
                                      "panda protocol, 1 raters, overlap 1")
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli")
        stub.script(*[reply(json.dumps({"scores": dict.fromkeys(
            ("fluency", "coherence", "validation", "empathy", "support"), 5), "reason": "r"}))
            for _ in range(8)])
        judged = run("eval", "judge", 1, "--model", "gpt-4o-mini", "--concurrency", "1")
    assert judged.exit_code == 0, judged.output
    assert judged.stdout.startswith("judge run 1 finished: 8 scored, 0 failed, 0 remaining "
                                    "(gpt-4o-mini, judge@")
    compared = run("eval", "compare", 1, "--a", "base", "--b", "tuned", "--judge", 1)
    lines = compared.stdout.splitlines()
    assert lines[0] == ("models: tuned vs base (judge run 1, paired, 95% bootstrap "
                        "interval)")
    assert lines[2].split() == ["fluency", "5.00", "5.00", "0.00", "[0.00,", "0.00]"]
    figures = run("eval", "agreement", 1).stdout.splitlines()
    assert ("paper overall: Bloom-7b1 5.5, Chinese-LLaMA 3.567, Baichuan2-7B-Base 6.971, "
            "ChatGPT 7.058, PANDA 7.952") in figures
    report = run("eval", "judge-report", 1)
    assert report.exit_code == 0 and "spearman" in report.stdout


def test_a_custom_protocol_from_the_command_line(run):
    made = run("eval", "define-protocol", "--project", "demo-extes", "--name", "warmth",
               "--scale", "1-5", "--aspect", "warmth=The supporter sounds kind.",
               "--aspect", "clarity")
    assert made.stdout.strip() == "protocol warmth of demo-extes: 1-5 on warmth, clarity"
    listed = run("eval", "protocols", "--project", "demo-extes").stdout.splitlines()
    assert listed[-1] == "warmth: 1-5 on warmth, clarity"
    bad = run("eval", "define-protocol", "--project", "demo-extes", "--name", "x",
              "--scale", "1-5", "--aspect", "Not A Name")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == ("Error: protocol 'x', aspects[0].name: lower-case letters, "
                                  "digits and _, starting with a letter")
