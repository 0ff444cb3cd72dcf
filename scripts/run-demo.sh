#!/usr/bin/env bash
# One command from a fresh checkout to a running app: install, create the embedded SQLite
# database with the demo projects and one demo account per role, and serve the app on
# http://127.0.0.1:8501. Extra arguments go to `curation serve` (e.g. --port 8600).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CURATION="$ROOT/.venv/bin/curation"
"$ROOT/scripts/bootstrap.sh"
"$CURATION" init --demo
# Demo accounts, made once: demo-annotator, demo-reviewer, demo-lead (password demo-password).
for role in annotator reviewer lead; do
  if ! "$CURATION" users list | cut -f1 | grep -qx "demo-$role"; then
    echo "demo-password" | "$CURATION" users add "demo-$role" --role "$role" --password-stdin
  fi
done
exec "$CURATION" serve "$@"
