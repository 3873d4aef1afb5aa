#!/usr/bin/env bash
# Idle memory of the embedded default: the compiled daemon with the shipped config on an empty data folder, no
# probes; RSS and PSS of kuzet and every PostgreSQL process it started, IDLE seconds after /healthz.
#   bench/embedded/idle.sh [IDLE=60] [PORT=18182]
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/embedded/tree.sh
IDLE=${1:-60}; PORT=${2:-18182}
node scripts/build.js --if-stale
data=$(mktemp -d); probes=$(mktemp -d); chmod 755 "$data"
cleanup() { [ -e "$data/kuzet.pid" ] && kill -TERM "$(cat "$data/kuzet.pid")" 2>/dev/null; for _ in $(seq 1 100); do [ -e "$data/kuzet.pid" ] || break; sleep 0.1; done; rm -rf "$data" "$probes"; }
trap cleanup EXIT
KUZET_PORT=$PORT KUZET_DATA_DIR=$data KUZET_PROBES_DIR=$probes setsid node dist/main.js run --config config/kuzet.yaml >/dev/null 2>&1 &
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.05; done
pid=$(cat "$data/kuzet.pid")
echo "up; waiting ${IDLE}s idle"
sleep "$IDLE"
read -r n rss pss < <(tree_mem "$pid")
read -r krss < <(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")
echo "after ${IDLE}s idle: $n processes (kuzet + PostgreSQL), RSS sum $((rss / 1024)) MB, PSS sum $((pss / 1024)) MB; kuzet alone RSS $((krss / 1024)) MB"
