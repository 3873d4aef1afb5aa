#!/usr/bin/env bash
# Alert ingest through POST /api/v2/alerts, side by side in one run: Prometheus Alertmanager (Debian, in memory)
# and kuzet (every accepted alert committed to PostgreSQL before the 200), with the same wrk load
# (shared peers harness 01-alertmanager.sh): 1 and 100 alerts per request, unique and repeated fingerprints.
#
#   bench/ingest.sh                      # DURATION=10 REPS=1 by default here; the harness knobs apply
#   PEERS=../shared/peers bench/ingest.sh
#
# Needs: prometheus-alertmanager wrk jq postgresql (Debian). Starts a private PostgreSQL on 127.0.0.1:$PG_PORT
# for kuzet's store and stops it (by PID) at the end. Results: the harness's TSV/log files and their summary tables.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
export DURATION=${DURATION:-10} REPS=${REPS:-1} NOTIFY=${NOTIFY:-0}
export RUN_DIR=${RUN_DIR:-/tmp/kuzet-bench} RESULTS_DIR=${RESULTS_DIR:-/tmp/kuzet-bench/results}
PG_PORT=${PG_PORT:-55434}
KZ_PORT=${KZ_PORT:-18093}
mkdir -p "$RUN_DIR" "$RESULTS_DIR"

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d "$RUN_DIR/ingest.XXXXXX"); chmod 755 "$WORK"
mkdir -p "$WORK/pgdata" "$WORK/sock" "$WORK/probes"; chown -R postgres:postgres "$WORK/pgdata" "$WORK/sock"
setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/initdb" -D "$WORK/pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/postgres" -D "$WORK/pgdata" -c listen_addresses=127.0.0.1 \
  -c port="$PG_PORT" -c unix_socket_directories="$WORK/sock" >"$WORK/pg.log" 2>&1 &
PG_PID=$!
trap 'kill -TERM $PG_PID 2>/dev/null; wait $PG_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
psql -qX -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE kuzet_bench" >/dev/null

cat >"$WORK/kuzet.yaml" <<YAML
server: { listen: 127.0.0.1, port: $KZ_PORT }
store: { url: "postgres://postgres@127.0.0.1:$PG_PORT/kuzet_bench", pool_size: 8 }
log: { level: warn }
probes_dir: probes
intake:
  alertmanager: { require_auth: false }   # the harness's wrk script sends no credentials
YAML

cat >"$WORK/start-kuzet.sh" <<SH
#!/usr/bin/env bash
psql -qX -h 127.0.0.1 -p $PG_PORT -U postgres -c 'DROP DATABASE IF EXISTS kuzet_bench' -c 'CREATE DATABASE kuzet_bench' >/dev/null
cd "$ROOT" && exec node --import tsx src/main.ts run --config "$WORK/kuzet.yaml"
SH
chmod +x "$WORK/start-kuzet.sh"

echo "== Prometheus Alertmanager (in memory)"
"$PEERS/01-alertmanager.sh"
echo "== kuzet (committed to PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') before answering)"
# A fresh database per repetition, so every repetition starts from the same state.
TARGET_NAME=kuzet TARGET_URL="http://127.0.0.1:$KZ_PORT/api/v2/alerts" TARGET_READY_URL="http://127.0.0.1:$KZ_PORT/healthz" \
TARGET_CMD="$WORK/start-kuzet.sh" \
  "$PEERS/01-alertmanager.sh"
psql -qX -h 127.0.0.1 -p "$PG_PORT" -U postgres -d kuzet_bench -Atc "SELECT 'kuzet ledger (last repetition): ' || count(*) || ' rows, ' || coalesce(sum(repeat_count),0) || ' alerts committed' FROM signals"
