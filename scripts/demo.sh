#!/usr/bin/env bash
# The main job on the embedded default (SQLite master + one SQLite file per user):
# create a demo user, import sample conversations, and show what vivim holds.
set -euo pipefail
cd "$(dirname "$0")/.."
export VIVIM_DATA_DIR="${VIVIM_DATA_DIR:-$PWD/demo-data}"
V=.venv/bin/vivim

echo "== vivim demo (data in $VIVIM_DATA_DIR)"
$V init
$V user list --json | grep -q '"handle": "demo"' || $V user create demo --display-name "Demo User"
export VIVIM_USER=demo

echo "== importing the bundled sample export (examples/)"
$V import --no-index examples/
SHARED_FIXTURES="$PWD/../shared/fixtures"
if [ -d "$SHARED_FIXTURES" ]; then
  echo "== importing the real provider exports and share pages in ../shared/fixtures"
  $V import --no-index "$SHARED_FIXTURES/exports" "$SHARED_FIXTURES/share-pages" || true
fi

echo "== splitting conversations into signed units and indexing them (local model, no network)"
$V index
echo "== search: 'readers blocked while importing into sqlite'"
$V search "readers blocked while importing into sqlite" --limit 3
echo "== search, filtered to Claude: 'vegetarian hiking'"
$V search "vegetarian hiking" --provider claude --limit 2
echo "== verifying every unit's Ed25519 signature"
$V verify | tail -n 1
echo "== memories found in your own words (no LLM), and topics"
$V memory list --limit 10
$V profiles topics --limit 5 || true
echo "== a 600-token context bundle for the next AI conversation"
$V context "how do I keep sqlite readers unblocked during imports?" --budget 600

echo "== conversations"
$V conversations list --limit 15
echo "== statistics"
$V stats --recent 5
echo "== databases"
$V db status
