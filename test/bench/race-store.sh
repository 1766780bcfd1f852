#!/usr/bin/env bash
# The store in the race (issue 18): mailgate+DKIM on PostgreSQL against mailgate+DKIM on LevelDB and
# postfix+OpenDKIM, r=1, 10 KiB, 20 sessions, a connection per message, in interleaved rounds (one run
# of each series per round) so that every ratio compares runs minutes apart. PostgreSQL runs here as
# in production: fsync and synchronous_commit on, on the same box.
#
#   test/bench/race-store.sh [-r ROUNDS] [-n COUNT] [-o OUTDIR]      (root; ../shared/bench-peers installed)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench-peers}
PEERS=$PEERS_DIR/peers.sh LOAD=$PEERS_DIR/smtp-load.py
ROUNDS=3 COUNT=10000 OUT=/tmp/mailgate-race-store-$(date +%Y%m%d-%H%M%S)
while getopts "r:n:o:h" o; do
  case $o in r) ROUNDS=$OPTARG ;; n) COUNT=$OPTARG ;; o) OUT=$OPTARG ;; *) sed -n '2,8p' "$0"; exit 2 ;; esac
done
[ -x "$LOAD" ] || { echo "no bench harness at $PEERS_DIR" >&2; exit 2; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$OUT"
JSON=$OUT/results.jsonl
work=$(mktemp -d /tmp/mailgate-race-store.XXXXXX)
chown postgres "$work"
mgpid=""
cleanup() {
  [ -n "$mgpid" ] && kill -TERM "$mgpid" 2>/dev/null && sleep 2
  "$PEERS" stop postfix >/dev/null 2>&1 || true; "$PEERS" stop opendkim >/dev/null 2>&1 || true
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$ROOT" && npm run build >/dev/null)
node "$ROOT/dist/cli.js" dkim generate --domain relay.race.test --selector race --type rsa --dir "$work/keys" >/dev/null
runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -o "-c listen_addresses=127.0.0.1 -p 5499 -k $work -c max_connections=100" -l "$work/pg.log" -w start >/dev/null
runuser -u postgres -- "$PGBIN/createdb" -h 127.0.0.1 -p 5499 -U postgres mailgate

# shellcheck source=race-config.sh
. "$HERE/race-config.sh"
race_config "$work/level.yaml" "$work/level-data" "$work/keys/relay.race.test.race.key"
race_config "$work/pg.yaml" "$work/pg-data" "$work/keys/relay.race.test.race.key" "store: { engine: postgres, url: 'postgres://postgres@127.0.0.1:5499/mailgate' }"

mailgate() { # mailgate CONFIG LABEL
  MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --max-old-space-size=512 "$ROOT/dist/cli.js" serve --config "$1" >"$work/mailgate.log" 2>&1 &
  mgpid=$!
  for _ in $(seq 100); do grep -q '"mailgate ready"' "$work/mailgate.log" 2>/dev/null && break; sleep 0.2; done
  "$LOAD" 127.0.0.1:2540 --pid "$mgpid" --json "$JSON" --sessions 20 --runs 1 --count "$COUNT" --size 10240 --rcpts 1 --label "$2" >>"$OUT/mailgate.log" 2>&1 || echo "# series failed: $2"
  kill -TERM "$mgpid"; wait "$mgpid" 2>/dev/null || true; mgpid=""
}

for round in $(seq "$ROUNDS"); do
  echo "# round $round of $ROUNDS"
  "$PEERS" start opendkim >/dev/null; "$PEERS" start postfix >/dev/null; "$PEERS" purge >/dev/null 2>&1 || true
  "$LOAD" 127.0.0.1:2527 --pid "$("$PEERS" pid postfix)" --pid "$("$PEERS" pid opendkim)" --json "$JSON" --sessions 20 --runs 1 --count "$COUNT" --size 10240 --rcpts 1 --label "postfix+opendkim r=1" >>"$OUT/peers.log" 2>&1 || echo "# postfix series failed"
  "$PEERS" stop postfix >/dev/null; "$PEERS" stop opendkim >/dev/null
  mailgate "$work/level.yaml" "mailgate+dkim r=1 LevelDB"
  mailgate "$work/pg.yaml" "mailgate+dkim r=1 PostgreSQL"
done

/usr/bin/python3 - "$JSON" <<'PY' | tee "$OUT/table.md"
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if '"summary": true' in l and 'median_msgs_per_s' in l]
by = {}
for r in rows: by.setdefault(r['label'], []).append(r['median_msgs_per_s'])
print("| series | msgs/s median of rounds | min–max |")
print("|---|---:|---:|")
for label, xs in by.items(): print(f"| {label} | {statistics.median(xs):.0f} | {min(xs):.0f}–{max(xs):.0f} |")
pf, lv, pg = (by.get(k) for k in ('postfix+opendkim r=1', 'mailgate+dkim r=1 LevelDB', 'mailgate+dkim r=1 PostgreSQL'))
if pf and pg: print(f"\nPostgreSQL / postfix+OpenDKIM, round by round: {', '.join(f'{a / b:.2f}' for a, b in zip(pg, pf))}")
if lv and pg: print(f"PostgreSQL / LevelDB, round by round: {', '.join(f'{a / b:.2f}' for a, b in zip(pg, lv))}")
PY
echo "# results: $OUT"
