#!/usr/bin/env bash
# Cold start: from `npm start` on a fresh PGlite data folder (initdb + every migration) to the first 200 from
# /healthz. Issue 2 asks for under 15 s. No probes (the shipped ones watch the real portals).
#   bench/cold-start.sh [runs=3] [port=18181]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; port=${2:-18181}
for i in $(seq 1 "$runs"); do
  data=$(mktemp -d); probes=$(mktemp -d)
  t0=$(date +%s.%N)
  KUZET_PORT=$port KUZET_DATA_DIR=$data KUZET_PROBES_DIR=$probes setsid npm start --silent >/dev/null 2>&1 &
  for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
  t1=$(date +%s.%N)
  echo "run $i: /healthz after $(echo "$t1 - $t0" | bc) s"
  kill -TERM "$(cat "$data/kuzet.pid")"
  for _ in $(seq 1 100); do [ -e "$data/kuzet.pid" ] || break; sleep 0.1; done
  rm -rf "$data" "$probes"
done
