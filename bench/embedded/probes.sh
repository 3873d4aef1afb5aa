#!/usr/bin/env bash
# 10,000 http probes every 30 s on the embedded default: the compiled daemon with the shipped config, results in
# its embedded PostgreSQL; CPU (% of one core) and memory of kuzet and every PostgreSQL process together over the
# measured window. The target is a small Node HTTP server on loopback (its CPU is not counted).
#   bench/embedded/probes.sh     env: TARGETS=10000 WARMUP=60 DURATION=120 PORT=18183 TARGET_PORT=18184
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/embedded/tree.sh
TARGETS=${TARGETS:-10000}; WARMUP=${WARMUP:-60}; DURATION=${DURATION:-120}
PORT=${PORT:-18183}; TARGET_PORT=${TARGET_PORT:-18184}
[ "$DURATION" -le 600 ] || { echo "DURATION capped at 600 s" >&2; exit 1; }
node scripts/build.js --if-stale
data=$(mktemp -d); probes=$(mktemp -d); chmod 755 "$data"
TPID=
cleanup() {
  [ -e "$data/kuzet.pid" ] && kill -TERM "$(cat "$data/kuzet.pid")" 2>/dev/null
  for _ in $(seq 1 300); do [ -e "$data/kuzet.pid" ] || break; sleep 0.1; done
  [ -n "$TPID" ] && kill "$TPID" 2>/dev/null
  rm -rf "$data" "$probes"
}
trap cleanup EXIT
node -e "require('http').createServer((q,s)=>{s.writeHead(200,{'content-type':'application/json'});s.end('{\"status\":\"ok\"}')}).listen($TARGET_PORT,'127.0.0.1')" &
TPID=$!
{
  echo "probes:"
  for i in $(seq 0 $((TARGETS - 1))); do
    echo "  - { name: bench-$i, kind: http, system: enbek, interval: 30s, timeout: 5s, http: { url: \"http://127.0.0.1:$TARGET_PORT/health?t=$i\" } }"
  done
} >"$probes/bench.yaml"
KUZET_PORT=$PORT KUZET_DATA_DIR=$data KUZET_PROBES_DIR=$probes setsid node dist/main.js run --config config/kuzet.yaml >"$data.log" 2>&1 &
for _ in $(seq 1 1200); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.05; done
pid=$(cat "$data/kuzet.pid")
echo "kuzet up with $TARGETS http probes every 30 s; ${WARMUP}s warm-up, ${DURATION}s measured; $(nproc) cores; node $(node -v)"
sleep "$WARMUP"
c0=$(tree_cpu "$pid"); t0=$(date +%s.%N)
maxrss=0; maxpss=0; maxk=0
end=$(( $(date +%s) + DURATION ))
while [ "$(date +%s)" -lt "$end" ]; do
  read -r n rss pss < <(tree_mem "$pid")
  [ "$rss" -gt "$maxrss" ] && maxrss=$rss
  [ "$pss" -gt "$maxpss" ] && maxpss=$pss
  k=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status"); [ "$k" -gt "$maxk" ] && maxk=$k
  sleep 5
done
c1=$(tree_cpu "$pid"); t1=$(date +%s.%N)
rows=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^kuzet_probe_duration_seconds_count/ {s += $2} END {print s + 0}')
echo "CPU $(echo "scale=1; 100 * ($c1 - $c0) / ($t1 - $t0)" | bc) % of one core (kuzet + $n processes in its tree); max RSS sum $((maxrss / 1024)) MB, max PSS sum $((maxpss / 1024)) MB (kuzet alone: max RSS $((maxk / 1024)) MB); probe runs so far $rows"
grep -c '"level":"error"' "$data.log" | sed 's/^/error lines in the log: /'
rm -f "$data.log"
