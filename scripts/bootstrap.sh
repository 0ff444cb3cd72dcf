#!/usr/bin/env bash
# Create .venv (if missing) and install the package into it. Sourced by the other scripts.
# EXTRAS picks the optional dependencies ("dev" for tests); PYTHON picks the interpreter.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
spec="$ROOT"
[ -n "${EXTRAS:-}" ] && spec="$ROOT[$EXTRAS]"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
