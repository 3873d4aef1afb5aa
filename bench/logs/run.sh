#!/usr/bin/env bash
# Log-rule benchmark, side by side with grep in one run, through the peers harness 04-logscan.sh:
#   PEERS_DIR=/path/to/peers SIZE_MB=512 REPS=3 bench/logs/run.sh
# kuzet's scanner (bench/logs/scan-once.ts) reads the same generated file with the same 20 rules
# (peers lib/log-patterns.txt) and reports per-rule match counts; grep -E uses the 20 as one alternation.
set -euo pipefail
: "${PEERS_DIR:?set PEERS_DIR to the directory holding 04-logscan.sh}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export SIZE_MB=${SIZE_MB:-512}
export REPS=${REPS:-3}
export VARIANTS=${VARIANTS:-"grep-alt-utf8 grep-alt-c node-chunk-each"}
export SCAN_CMD="node --import tsx $ROOT/bench/logs/scan-once.ts --file {file} --rules {patterns}"
cd "$ROOT"   # tsx resolves from the project
exec "$PEERS_DIR/04-logscan.sh"
