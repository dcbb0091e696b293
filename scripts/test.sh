#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then runs pytest.
# PostgreSQL: tests start their own throwaway cluster (tests/pg.py); here we only make sure
# the server binaries exist, installing Debian's postgresql when they do not.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "PostgreSQL server binaries not found: installing Debian's postgresql" >&2
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || echo "warning: could not install postgresql; PostgreSQL tests will be skipped" >&2
  else
    echo "warning: not root; PostgreSQL tests will be skipped" >&2
  fi
fi

.venv/bin/ruff check vivim tests benchmarks
exec .venv/bin/pytest "$@"
