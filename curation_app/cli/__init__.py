"""The command line for leads and scripts: ``curation …`` (also ``python -m curation_app``).

Each command is a thin wrapper over one service function. Errors become one ``Error: …`` line
on stderr and a non-zero exit; details (skipped records, warnings) go to stderr too, so stdout
carries just the one-line summary. One module per family of commands; importing one registers
its commands on ``main``.

The modules are imported only when one of their commands runs (``main`` is a lazy group), so
``curation --help`` and ``curation info`` start in a fraction of a second instead of loading the
OpenAI SDK, SQLAlchemy and the checks. To add a command, add it here with the one-line help that
``curation --help`` shows (tests/test_cli.py checks that this table matches the commands).
"""

from curation_app.cli.base import main

main.lazy.update({
    # name: (module, one-line help as in the command's docstring); a group that other modules
    # add sub-commands to names them all, the defining module first, separated by commas.
    "assign": ("curation_app.cli.team", "Assign dialogues to annotators."),
    "audit": ("curation_app.cli.ops", "Show the audit log, newest first: sign-ins, account "
              "changes, reviews, exports, backups."),
    "backup": ("curation_app.cli.ops", "Write a consistent backup of the whole database to OUT "
               "(a JSON Lines dump)."),
    "check": ("curation_app.cli.quality",
              "Run the checks over a project and store its findings."),
    "dedup": ("curation_app.cli.file_dedup", "Find duplicate dialogues and recycled supporter "
              "turns in FILE, outside any project."),
    "eval": ("curation_app.cli.evaluation", "Rating campaigns, agreement, the LLM judge and group "
             "comparisons."),
    "export": ("curation_app.cli.data", "Export a project's dialogues to a file (for a "
               "versioned dataset: curation release)."),
    "generate": ("curation_app.cli.drafts", "Generate draft dialogues with the model at "
                 "$OPENAI_BASE_URL (key: $OPENAI_API_KEY)."),
    "import": ("curation_app.cli.data", "Import dialogues from FILE into a project."),
    "info": ("curation_app.cli.info", "Show where the data lives and which database is in use."),
    "init": ("curation_app.cli.data",
             "Create or migrate the database; optionally load the demo projects."),
    "jobs": ("curation_app.cli.drafts", "Inspect generation jobs."),
    "progress": ("curation_app.cli.team", "Show a project's progress: statuses, topics against "
                 "targets, annotators."),
    "projects": ("curation_app.cli.data,curation_app.cli.drafts,curation_app.cli.ops",
                 "Create and list projects."),
    "queue": ("curation_app.cli.worker",
              "Plan a generation job and leave it to a worker (`curation worker`)."),
    "release": ("curation_app.cli.release", "Build a versioned release of a project (or: release "
                "verify DIR, release diff A B)."),
    "restore": ("curation_app.cli.ops", "Restore BACKUP_FILE into the (empty) database; creates "
                "its tables first."),
    "seeds": ("curation_app.cli.drafts",
              "Seed dialogues: the in-context examples of iterative expansion."),
    "show": ("curation_app.cli.drafts", "Print dialogue DIALOGUE_ID with where it came from "
             "(model, template, seeds, cost)."),
    "serve": ("curation_app.cli.team", "Start the web app on the configured database."),
    "stats": ("curation_app.cli.release", "Statistics as in the ExTES paper: sizes, topics, "
              "strategies, phases, transitions."),
    "users": ("curation_app.cli.team,curation_app.cli.ops",
              "Accounts for the web app (annotator, reviewer, lead)."),
    "worker": ("curation_app.cli.worker", "Run queued generation jobs (model server: "
               "$OPENAI_BASE_URL, key: $OPENAI_API_KEY)."),
})

__all__ = ["main"]
