#!/usr/bin/env bash
# The race (npm run bench:peers): mailgate against postfix, postfix+OpenDKIM, Haraka and Haraka+dkim
# in one run on this machine, through ../shared/bench-peers (same payload, sessions and counting sink).
# mailgate runs as deployed: fsync'd spool, rsa-2048 DKIM on every message (system key), one
# transaction per message with the message's VERP return path (queue.returnPath: message, the default;
# the sink sees one transaction per message, as from postfix), node --max-semi-space-size=4 --max-old-space-size=512.
#
#   sudo test/bench/race.sh [-r RUNS] [-n COUNT] [-o OUTDIR] [SERIES...]
#   defaults: 3 runs of 20000 x 10 KiB, series: postfix postfix-dkim haraka haraka-dkim
# Then mailgate at 1, 5 and 20 recipients per message and with a 1 MB message, then the floor of
# the stack (stack-floor.ts: smtp-server -> nodemailer only, with and without one RSA signature).
# Needs root and `sudo ../shared/bench-peers/peers.sh install` once.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench-peers}
RUNS=3 COUNT=20000 OUT=/tmp/mailgate-race-$(date +%Y%m%d-%H%M%S)
while getopts "r:n:o:h" o; do
  case $o in r) RUNS=$OPTARG ;; n) COUNT=$OPTARG ;; o) OUT=$OPTARG ;; *) sed -n '2,10p' "$0"; exit 2 ;; esac
done
shift $((OPTIND - 1))
SERIES=("$@"); [ ${#SERIES[@]} -gt 0 ] || SERIES=(postfix postfix-dkim haraka haraka-dkim)
[ -x "$PEERS_DIR/run-baseline.sh" ] || { echo "no bench harness at $PEERS_DIR" >&2; exit 2; }
mkdir -p "$OUT"
JSON=$OUT/results.jsonl

work=$(mktemp -d /tmp/mailgate-race.XXXXXX)
mgpid=""
cleanup() { [ -n "$mgpid" ] && kill -TERM "$mgpid" 2>/dev/null && sleep 2; rm -rf "$work"; }
trap cleanup EXIT

(cd "$ROOT" && npm run build >/dev/null)
node "$ROOT/dist/cli.js" dkim generate --domain relay.race.test --selector race --type rsa --dir "$work/keys" >/dev/null
# shellcheck source=race-config.sh
. "$HERE/race-config.sh"
race_config "$work/mailgate.yaml" "$work/data" "$work/keys/relay.race.test.race.key"

# The peers, each alone on the box (run-baseline stops what it started after each series).
"$PEERS_DIR/run-baseline.sh" -r "$RUNS" -n "$COUNT" -o "$OUT" "${SERIES[@]}" >"$OUT/peers.log" 2>&1 || echo "# some peer series failed; see $OUT/peers.log"

node --max-semi-space-size=4 --max-old-space-size=512 "$ROOT/dist/cli.js" serve --config "$work/mailgate.yaml" >"$work/mailgate.log" 2>&1 &
mgpid=$!
for _ in $(seq 50); do grep -q '"mailgate ready"' "$work/mailgate.log" 2>/dev/null && break; sleep 0.2; done
target=127.0.0.1:2540 tpid=$mgpid
load() { "$PEERS_DIR/smtp-load.py" "$target" --pid "$tpid" --json "$JSON" --sessions 20 "$@" >>"$OUT/mailgate.log" 2>&1 || echo "# series failed: $*"; }
load --label "mailgate+dkim r=1" --runs "$RUNS" --count "$COUNT" --size 10240 --rcpts 1
load --label "mailgate+dkim r=5" --runs "$RUNS" --count $((COUNT / 5)) --size 10240 --rcpts 5
load --label "mailgate+dkim r=20" --runs "$RUNS" --count $((COUNT / 20)) --size 10240 --rcpts 20
load --label "mailgate+dkim 1 MB r=1" --runs "$RUNS" --count 500 --size 1048576 --rcpts 1
kill -TERM "$mgpid"; wait "$mgpid" 2>/dev/null || true; mgpid=""

# The floor of the stack: smtp-server in, nodemailer out, nothing else (stack-floor.ts), then with one
# RSA-2048 signature per message. No relay built from these parts can spend less CPU per message.
floor() {
  (cd "$ROOT" && exec node --import tsx "$HERE/stack-floor.ts" --port 2550 "$@") >"$work/floor.log" 2>&1 &
  mgpid=$!
  for _ in $(seq 50); do grep -q 'stack floor ready' "$work/floor.log" 2>/dev/null && break; sleep 0.2; done
}
target=127.0.0.1:2550
floor; tpid=$mgpid
load --label "stack floor r=1" --runs "$RUNS" --count "$COUNT" --size 10240 --rcpts 1
kill -TERM "$mgpid"; wait "$mgpid" 2>/dev/null || true
floor --sign "$work/keys/relay.race.test.race.key"; tpid=$mgpid
load --label "stack floor+rsa r=1" --runs "$RUNS" --count "$COUNT" --size 10240 --rcpts 1

/usr/bin/python3 - "$JSON" <<'PY' | tee "$OUT/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"summary": true' in l]
print("| series | msgs/s e2e (median) | min–max | inject msgs/s | relay CPU ms/msg | relay PSS MB | box CPU % |")
print("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if "median_msgs_per_s" not in r:
        print(f"| {r['label']} | FAILED | | | | | |"); continue
    print(f"| {r['label']} | {r['median_msgs_per_s']:.0f} | {r['min_msgs_per_s']:.0f}–{r['max_msgs_per_s']:.0f} "
          f"| {r['median_inject_msgs_per_s']:.0f} | {r.get('median_cpu_relay_ms_per_msg', '–')} "
          f"| {r.get('max_relay_pss_peak_mb', '–')} | {r['median_cpu_total_pct_of_box']} |")
by = {r['label']: r.get('median_msgs_per_s') for r in rows}
mg = by.get('mailgate+dkim r=1')
for peer in ('postfix+opendkim r=1', 'haraka-dkim r=1', 'postfix r=1', 'haraka r=1'):
    if mg and by.get(peer): print(f"\nmailgate+dkim / {peer}: {mg / by[peer]:.2f}x", end='')
print()
PY
echo "# results: $OUT"
