#!/usr/bin/env bash
# One command from a fresh checkout to the whole test suite: install with the dev extras,
# make sure PostgreSQL is up, run pytest. Extra arguments go to pytest.
# Under CI (CI=true) the PostgreSQL tests are required: they fail rather than skip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS=dev "$ROOT/scripts/bootstrap.sh"

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting PostgreSQL…"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if [ "${CI:-}" = "true" ]; then
  export CURATION_REQUIRE_POSTGRES=1
fi
export HF_HUB_OFFLINE=1
exec "$ROOT/.venv/bin/python" -m pytest "$@"
