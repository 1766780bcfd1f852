#!/usr/bin/env bash
# The race (npm run bench:peers), interleaved: in every round each series runs once at each shape —
# postfix (r=1), postfix+OpenDKIM, Haraka+dkim (r=1), mailgate+DKIM, the stack floor with and without
# one RSA signature (r=1 and 1 MB) — so every ratio compares runs minutes apart on the same box, through
# ../shared/bench-peers (same payload, 20 sessions, a connection per message, counting smtp-sink).
# Shapes: r=1, r=5 and r=20 recipients of 10 KiB, and 1 MB to one recipient.
# postfix sends one transaction per message; mailgate at r=5 and r=20 runs with queue.returnPath:
# message (one transaction per receiving server with the message's return path; the default,
# `recipient`, sends one per recipient so that every bounce can suppress).
# mailgate: fsync'd spool, rsa-2048 DKIM on every message, node --max-semi-space-size=4 --max-old-space-size=512 with MALLOC_ARENA_MAX=2 (as the unit and the image);
# the stack floor runs with the same node settings. At r=20 mailgate also runs with the default return path.
#
#   test/bench/race.sh [-r ROUNDS] [-n COUNT] [-o OUTDIR]      (root; ../shared/bench-peers installed)
#   defaults: 2 rounds; COUNT 10000 messages at r=1, COUNT/5 at r=5, COUNT/20 at r=20, COUNT/50 at 1 MB.
# Prints the table (median of rounds, min–max) and each ratio round by round; writes OUTDIR/table.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench-peers}
PEERS=$PEERS_DIR/peers.sh LOAD=$PEERS_DIR/smtp-load.py
ROUNDS=2 COUNT=10000 OUT=/tmp/mailgate-race-$(date +%Y%m%d-%H%M%S)
while getopts "r:n:o:h" o; do
  case $o in r) ROUNDS=$OPTARG ;; n) COUNT=$OPTARG ;; o) OUT=$OPTARG ;; *) sed -n '2,13p' "$0"; exit 2 ;; esac
done
[ -x "$LOAD" ] || { echo "no bench harness at $PEERS_DIR" >&2; exit 2; }
mkdir -p "$OUT"
JSON=$OUT/results.jsonl
# mailgate's node settings as the unit and the image run it; the stack floor runs with the same ones.
NODE_FLAGS="--max-semi-space-size=4 --max-old-space-size=512"
work=$(mktemp -d /tmp/mailgate-race.XXXXXX)
relay=""
stop_relay() {
  if [ -n "$relay" ]; then kill -TERM "$relay" 2>/dev/null || true; wait "$relay" 2>/dev/null || true; fi
  relay=""
}
cleanup() {
  stop_relay || true
  "$PEERS" stop all >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$ROOT" && npm run build >/dev/null)
node "$ROOT/dist/cli.js" dkim generate --domain relay.race.test --selector race --type rsa --dir "$work/keys" >/dev/null
# shellcheck source=race-config.sh
. "$HERE/race-config.sh"
race_config "$work/mailgate.yaml" "$work/data" "$work/keys/relay.race.test.race.key"
sed 's/^queue: { concurrency: 100 }$/queue: { concurrency: 100, returnPath: message }/' "$work/mailgate.yaml" >"$work/mailgate-message.yaml"
{
  echo "# $(date -Is) $(nproc) cpus, kernel $(uname -r), node $(node --version)"
  echo "# $("$PEERS" versions 2>/dev/null | tr '\n' ' ')"
} | tee "$OUT/machine.txt"

# SHAPE: "label size rcpts count"
SHAPES=("r=1 10240 1 $COUNT" "r=5 10240 5 $((COUNT / 5))" "r=20 10240 20 $((COUNT / 20))" "1 MB 1048576 1 $((COUNT / 50))")
load() { # load TARGET LABEL SIZE RCPTS COUNT PID... [--expect-per-msg N]
  local target=$1 label=$2 size=$3 rcpts=$4 count=$5; shift 5
  local pids=() more=()
  while [ $# -gt 0 ]; do
    if [ "$1" = --expect-per-msg ]; then more=(--expect-per-msg "$2"); shift 2; else pids+=(--pid "$1"); shift; fi
  done
  "$LOAD" "$target" "${pids[@]}" "${more[@]}" --json "$JSON" --sessions 20 --runs 1 --count "$count" --size "$size" --rcpts "$rcpts" --label "$label" >>"$OUT/runs.log" 2>&1 || echo "# series failed: $label"
}

for round in $(seq "$ROUNDS"); do
  echo "# round $round of $ROUNDS ($(date +%T))"
  for shape in "${SHAPES[@]}"; do
    set -- $shape; if [ "$1" = 1 ]; then label="1 MB"; shift 2; else label=$1; shift; fi
    size=$1 rcpts=$2 count=$3
    # postfix+OpenDKIM (and plain postfix at r=1), alone on the box
    "$PEERS" start opendkim >/dev/null 2>&1; "$PEERS" start postfix >/dev/null 2>&1; "$PEERS" purge >/dev/null 2>&1 || true
    [ "$label" = r=1 ] && load 127.0.0.1:2526 "postfix $label" "$size" "$rcpts" "$count" "$("$PEERS" pid postfix)"
    load 127.0.0.1:2527 "postfix+opendkim $label" "$size" "$rcpts" "$count" "$("$PEERS" pid postfix)" "$("$PEERS" pid opendkim)"
    "$PEERS" stop postfix >/dev/null 2>&1; "$PEERS" stop opendkim >/dev/null 2>&1
    if [ "$label" = r=1 ]; then
      "$PEERS" start haraka-dkim >/dev/null 2>&1
      load 127.0.0.1:2529 "haraka+dkim $label" "$size" "$rcpts" "$count" "$("$PEERS" pid haraka-dkim)"
      "$PEERS" stop haraka-dkim >/dev/null 2>&1
    fi
    # mailgate+DKIM, a fresh data directory per run; at r=20 also with the default return path (one
    # transaction per recipient), as the series "mailgate+dkim r=20 per recipient"
    runs=("$work/mailgate.yaml:")
    [ "$rcpts" -gt 1 ] && runs=("$work/mailgate-message.yaml:")
    [ "$rcpts" -ge 20 ] && runs+=("$work/mailgate.yaml: per recipient")
    for run in "${runs[@]}"; do
      rm -rf "$work/data"
      config=${run%%:*} suffix=${run#*:}
      MALLOC_ARENA_MAX=2 node $NODE_FLAGS "$ROOT/dist/cli.js" serve --config "$config" >"$work/mailgate.log" 2>&1 &
      relay=$!
      for _ in $(seq 100); do grep -q '"mailgate ready"' "$work/mailgate.log" 2>/dev/null && break; sleep 0.2; done
      # per recipient: the sink sees one transaction per recipient
      extra=(); [ -n "$suffix" ] && extra=(--expect-per-msg "$rcpts")
      load 127.0.0.1:2540 "mailgate+dkim $label$suffix" "$size" "$rcpts" "$count" "$relay" "${extra[@]}"
      stop_relay
    done
    # the stack's floor: smtp-server in, nodemailer out (stack-floor.ts), without and with one RSA-2048 signature
    if [ "$label" = r=1 ] || [ "$label" = "1 MB" ]; then
      for sign in "" "--sign $work/keys/relay.race.test.race.key"; do
        # shellcheck disable=SC2086  # "--sign KEYFILE" is two words
        (cd "$ROOT" && MALLOC_ARENA_MAX=2 exec node $NODE_FLAGS --import tsx "$HERE/stack-floor.ts" --port 2550 $sign) >"$work/floor.log" 2>&1 &
        relay=$!
        for _ in $(seq 50); do grep -q 'stack floor ready' "$work/floor.log" 2>/dev/null && break; sleep 0.2; done
        load 127.0.0.1:2550 "stack floor${sign:+ + rsa} $label" "$size" "$rcpts" "$count" "$relay"
        stop_relay
      done
    fi
  done
done

/usr/bin/python3 - "$JSON" "$ROUNDS" <<'PY' | tee "$OUT/table.md"
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if '"summary": true' in l and 'median_msgs_per_s' in l]
by = {}
for r in rows: by.setdefault(r['label'], []).append(r)
med = lambda xs: statistics.median(xs)
print(f"Interleaved race, {sys.argv[2]} rounds (one run of each series per round; median of rounds, min–max).")
print("postfix and mailgate (queue.returnPath: message) both send one transaction per message at r=5 and r=20.\n")
print("| series | msgs/s | min–max | relay CPU ms/msg | peak PSS MB |")
print("|---|---:|---:|---:|---:|")
for label, rs in by.items():
    m = [r['median_msgs_per_s'] for r in rs]
    cpu = [r['median_cpu_relay_ms_per_msg'] for r in rs if r.get('median_cpu_relay_ms_per_msg') is not None]
    pss = [r['max_relay_pss_peak_mb'] for r in rs if r.get('max_relay_pss_peak_mb') is not None]
    print(f"| {label} | {med(m):.0f} | {min(m):.0f}–{max(m):.0f} | {f'{med(cpu):.2f}' if cpu else '–'} | {f'{max(pss):.0f}' if pss else '–'} |")
def ratio(a, b, key='median_msgs_per_s', what='msg/s'):
    A, B = by.get(a), by.get(b)
    if not A or not B: return
    xs = [x[key] / y[key] for x, y in zip(A, B) if x.get(key) and y.get(key)]
    if xs: print(f"- {a} / {b} ({what}), round by round: {', '.join(f'{x:.2f}' for x in xs)} (median {med(xs):.2f})")
print()
for s in ('r=1', 'r=5', 'r=20', '1 MB'): ratio(f'mailgate+dkim {s}', f'postfix+opendkim {s}')
ratio('mailgate+dkim r=20 per recipient', 'postfix+opendkim r=20')
ratio('mailgate+dkim r=1', 'haraka+dkim r=1')
ratio('mailgate+dkim r=1', 'stack floor + rsa r=1', 'median_cpu_relay_ms_per_msg', 'relay CPU ms/msg')
ratio('mailgate+dkim 1 MB', 'stack floor + rsa 1 MB', 'median_cpu_relay_ms_per_msg', 'relay CPU ms/msg')
PY
echo "# results: $OUT"
