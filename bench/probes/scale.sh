#!/usr/bin/env bash
# 10,000 http probes at a 30 s interval against a local nginx: kuzet's CPU, RSS and start lateness,
# results stored (in a throwaway embedded PostgreSQL by default; its CPU is not counted, see bench/embedded/probes.sh).
#   bench/probes/scale.sh                       # TARGETS=10000 INTERVAL=30s DURATION=150 STORE=embedded PORT=18081
# Every process started here is stopped by its PID on exit. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGETS=${TARGETS:-10000}
INTERVAL=${INTERVAL:-30s}
DURATION=${DURATION:-150}
WARMUP=${WARMUP:-35}
STORE=${STORE:-embedded}
PORT=${PORT:-18081}
[ "$DURATION" -le 600 ] || { echo "DURATION capped at 600 s" >&2; exit 1; }
WORK=$(mktemp -d /tmp/kuzet-bench-probes.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
mkdir -p "$WORK/tmp"
cat >"$WORK/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp; uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    location = /health { default_type application/json; return 200 '{"status":"ok"}'; }
    location = /nginx_status { stub_status; }
  }
}
NGX
/usr/sbin/nginx -c "$WORK/nginx.conf" -p "$WORK" >"$WORK/nginx.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
r0=$(curl -s "http://127.0.0.1:$PORT/nginx_status" | awk 'NR==3{print $3}')
echo "kuzet probes: $TARGETS http probes every $INTERVAL, store=$STORE, ${WARMUP}s warm-up + ${DURATION}s measured; $(nproc) cores; node $(node -v)"
node --import tsx bench/probes/prober.ts --url "http://127.0.0.1:$PORT/health" --targets "$TARGETS" --interval "$INTERVAL" \
  --warmup "$WARMUP" --duration "$DURATION" --report 30 --store "$STORE" | tee "$WORK/prober.out" | grep PROBEJSON | sed 's/^PROBEJSON //'
r1=$(curl -s "http://127.0.0.1:$PORT/nginx_status" | awk 'NR==3{print $3}')
echo "nginx served $((r1 - r0 - 1)) requests"
