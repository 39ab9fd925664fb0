#!/usr/bin/env bash
# One machine playing several: a PostgreSQL Dagster instance and Iceberg catalog, a Redis broker, two
# Celery workers and the daemon, then one day and a month's backfill of the built-in market through them.
#   deploy/demo-distributed.sh [DAY] [FROM TO]      (defaults: 2025-06-02, 2025-06-02 2025-06-30)
# Needs PostgreSQL (PG, default postgresql://postgres@127.0.0.1:5432; it creates the databases
# technic_dagster and technic_catalog) and Redis (REDIS, default redis://127.0.0.1:6379/0) running.
# Everything it starts is stopped when it ends (Ctrl-C too); the data stays under $DEMO (default
# ./.demo-distributed). On several machines, run the same settings everywhere with DEMO on a shared folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
day="${1:-2025-06-02}" from="${2:-2025-06-02}" to="${3:-2025-06-30}"
pg="${PG:-postgresql://postgres@127.0.0.1:5432}"
demo="$(mkdir -p "${DEMO:-$root/.demo-distributed}" && cd "${DEMO:-$root/.demo-distributed}" && pwd)"
"$root/dev" python - "$pg" <<'PY'
import sys, psycopg2
admin = psycopg2.connect(f"{sys.argv[1]}/postgres"); admin.autocommit = True
with admin.cursor() as cur:
    for name in ("technic_dagster", "technic_catalog"):
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{name}"')
PY
mkdir -p "$demo/home" "$demo/logs"
cp "$root/deploy/dagster-postgres.yaml" "$demo/home/dagster.yaml"
export DAGSTER_HOME="$demo/home"
export TECHNIC_PG_URL="${pg/postgresql:/postgresql+psycopg2:}/technic_dagster"
export TECHNIC_STORE="iceberg+$pg/technic_catalog?warehouse=$demo/warehouse"
export TECHNIC_EXECUTOR=celery TECHNIC_BROKER_URL="${REDIS:-redis://127.0.0.1:6379/0}"
export TECHNIC_SYNTHETIC_STOCKS="${TECHNIC_SYNTHETIC_STOCKS:-500}"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT
for name in w1 w2; do
  "$root/dev" technic worker --name "$name" >"$demo/logs/$name.log" 2>&1 & pids+=($!)
done
(cd "$demo" && exec "$root/dev" dagster-daemon run -m technic_assets >"$demo/logs/daemon.log" 2>&1) & pids+=($!)
sleep 10
echo "one day, $day, its 13 steps on the two workers:"
"$root/dev" dagster asset materialize -m technic_assets --select '*' --partition "$day" >"$demo/logs/day.log" 2>&1
grep -c "execute_plan.*succeeded" "$demo/logs/w1.log" "$demo/logs/w2.log" || true  # steps each worker ran
echo "backfill $from...$to in runs of about a month (the daemon launches them; logs in $demo/logs):"
"$root/dev" technic backfill --from "$from" --to "$to" --wait
echo "the top of $to, read back from the Iceberg store:"
"$root/dev" technic top --date "$to"
