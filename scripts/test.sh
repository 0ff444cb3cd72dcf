#!/usr/bin/env bash
# One command from a fresh checkout to the whole test suite: install with the dev extras,
# make sure PostgreSQL is up, run pytest. Extra arguments go to pytest.
# Under CI (CI=true) the PostgreSQL and browser tests are required: they fail rather than skip,
# and Debian's Chromium (with a CJK font for the screenshots) is installed if it is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS=dev,train "$ROOT/scripts/bootstrap.sh"

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting PostgreSQL…"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if [ "${CI:-}" = "true" ]; then
  export CURATION_REQUIRE_POSTGRES=1
  export CURATION_REQUIRE_BROWSER=1
  if [ ! -x /usr/bin/chromium ]; then
    echo "installing Chromium…"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; } \
      || echo "could not install Chromium: the browser tests will fail" >&2
  fi
  # WordNet 3.0 for METEOR's synonym stage in tests/training (nltk cannot download it here)
  if [ ! -f /usr/share/wordnet/data.noun ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq wordnet-base >/dev/null; } \
      || echo "could not install wordnet-base: the METEOR synonym test will skip" >&2
  fi
fi
export HF_HUB_OFFLINE=1
exec "$ROOT/.venv/bin/python" -m pytest "$@"
