#!/usr/bin/env bash
# One command from a fresh checkout to a running app: install, create the embedded SQLite
# database with the demo projects and one demo account per role (demo-annotator,
# demo-reviewer, demo-lead; password demo-password), and serve the app on
# http://127.0.0.1:8501. Extra arguments go to `curation serve` (e.g. --port 8600).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
"$ROOT/.venv/bin/curation" init --demo
exec "$ROOT/.venv/bin/curation" serve "$@"
