#!/usr/bin/env bash
# Exercises `fleet watch` the way an operator sees it: a real worker (flash + large lanes) under load on a
# throwaway prefix, `fleet watch` in a detached 80×24 tmux session, the pane captured after a few seconds,
# `q` sent, and a check that watch exited 0 and gave the screen back. Prints the captured pane.
#
#   scripts/watch-under-tmux.sh [SECONDS_BEFORE_CAPTURE]      (REDIS_URL as for the fleet; default 8 s)
#
# Exit codes: 0 ok, 1 a check failed, 77 tmux is not installed (apt-get install -y tmux).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tmux >/dev/null 2>&1; then
  echo "tmux is not installed (apt-get install -y tmux); skipping the fleet watch check" >&2
  exit 77
fi

WAIT_SECONDS=${1:-8}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export LANG=C.UTF-8 LOG_LEVEL=warn
PREFIX="watch-$(date +%s)-$$"
SOCKET="fleet-watch-$$"
WORK=$(mktemp -d)
WORKER_PID=""

cleanup() {
  tmux -L "$SOCKET" kill-server 2>/dev/null || true
  if [ -n "$WORKER_PID" ] && kill -0 "$WORKER_PID" 2>/dev/null; then
    kill -TERM "$WORKER_PID" 2>/dev/null || true
    wait "$WORKER_PID" 2>/dev/null || true
  fi
  node --import tsx --input-type=module -e "const { cleanupPrefix } = await import('./test/helpers/redis.ts'); await cleanupPrefix(process.argv[1]);" "$PREFIX" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "prefix $PREFIX; starting a worker (flash, large)…" >&2
node bin/fleet.js worker --prefix "$PREFIX" --lanes flash,large --metrics-port 0 --store "file://$WORK/renders" >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
for _ in $(seq 1 100); do
  grep -q '"worker running"' "$WORK/worker.log" 2>/dev/null && break
  kill -0 "$WORKER_PID" 2>/dev/null || { cat "$WORK/worker.log" >&2; echo "the worker exited" >&2; exit 1; }
  sleep 0.2
done

# Load: a backlog of large exports (about 1.6 s per batch of 2 on CPU) and a stream of flash previews.
node --import tsx --input-type=module -e "
  const { createProducer } = await import('./producer/index.ts');
  const producer = createProducer({ redis: process.env.REDIS_URL, prefix: process.argv[1] });
  await producer.ready();
  const account = { id: 'watch-demo', tier: 'pro' };
  for (let i = 0; i < 16; i++) await producer.enqueue({ prompt: 'export ' + i, intent: 'export', account });
  const until = Date.now() + Number(process.argv[2]) * 1000 + 4000;
  for (let i = 0; Date.now() < until; i++) {
    await Promise.all([0, 1, 2].map((j) => producer.enqueue({ prompt: 'preview ' + i + '-' + j, width: 256, height: 256, account })));
    await new Promise((r) => setTimeout(r, 250));
  }
  await producer.close();
" "$PREFIX" "$WAIT_SECONDS" >"$WORK/load.log" 2>&1 &
LOAD_PID=$!

tmux -L "$SOCKET" new-session -d -s watch -x 80 -y 24 \
  "env LANG=C.UTF-8 REDIS_URL='$REDIS_URL' node bin/fleet.js watch --prefix '$PREFIX'; echo \$? > '$WORK/watch.rc'"
sleep "$WAIT_SECONDS"
tmux -L "$SOCKET" capture-pane -p -t watch >"$WORK/pane.txt"
tmux -L "$SOCKET" send-keys -t watch q

for _ in $(seq 1 50); do
  [ -f "$WORK/watch.rc" ] && break
  sleep 0.2
done
wait "$LOAD_PID" 2>/dev/null || true

echo "----- captured pane (80×24) -----"
cat "$WORK/pane.txt"
echo "---------------------------------"

status=0
if [ ! -f "$WORK/watch.rc" ]; then
  echo "FAIL: fleet watch did not exit after q" >&2
  status=1
elif [ "$(cat "$WORK/watch.rc")" != "0" ]; then
  echo "FAIL: fleet watch exited $(cat "$WORK/watch.rc")" >&2
  status=1
fi
if ! grep -q 'fleet watch' "$WORK/pane.txt" || ! grep -q '^flash ' "$WORK/pane.txt"; then
  echo "FAIL: the pane does not show the watch screen" >&2
  status=1
fi
if awk '{ if (length($0) > 80) bad = 1 } END { exit !bad }' "$WORK/pane.txt"; then
  echo "FAIL: a line is wider than 80 columns" >&2
  status=1
fi
[ "$status" = 0 ] && echo "ok: fleet watch drew an 80×24 screen under tmux and exited 0 on q" >&2
exit "$status"
