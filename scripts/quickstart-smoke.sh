#!/usr/bin/env bash
# Runs the README's quickstart as a new user would: `npm start` on the embedded database in a
# fresh data directory, `npm run mock-provider` beside it (both build dist/run first, at the same
# time), then every shell block between the README's quickstart markers, in order, in one shell.
# Fails if any command fails.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() {
  # Each npm runs in its own session (setsid): end its whole group, npm and the node it started.
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
export CONTROL_PLANE_HTTP_PORT=$(free_port) CONTROL_PLANE_GRPC_PORT=$(free_port) PORT=$(free_port) MOCK_PROVIDER_PORT=$(free_port)
export TOLLGATE_DATA_DIR="$work/data"
unset DATABASE_URL TOLLGATE_ADMIN_TOKEN TOLLGATE_MASTER_KEY TOLLGATE_NODE_TOKEN

setsid npm run mock-provider >"$work/mock.log" 2>&1 & pids+=($!)
setsid npm start >"$work/start.log" 2>&1 & pids+=($!)

for _ in $(seq 1 120); do
  grep -q 'admin token' "$work/start.log" 2>/dev/null && curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 1
done
cat "$work/start.log"
ADMIN_TOKEN=$(sed -n 's/.*admin token: *\([^ ]*\).*/\1/p' "$work/start.log" | head -1)
[ -n "$ADMIN_TOKEN" ] || { echo "npm start printed no admin token"; exit 1; }
export ADMIN_TOKEN

# The README's blocks, with the default ports replaced by this run's ports.
awk '/<!-- quickstart:begin -->/{on=1;next} /<!-- quickstart:end -->/{on=0} on' README.md \
  | awk '/^```bash/{inb=1;next} /^```/{inb=0;next} inb' \
  | grep -v '^npm run mock-provider' \
  | sed -e "s#127.0.0.1:4000#127.0.0.1:$CONTROL_PLANE_HTTP_PORT#g" -e "s#127.0.0.1:8080#127.0.0.1:$PORT#g" -e "s#127.0.0.1:9090#127.0.0.1:$MOCK_PROVIDER_PORT#g" \
  > "$work/quickstart.sh"
echo "--- running the README quickstart ($(wc -l < "$work/quickstart.sh") lines)"
bash -euo pipefail "$work/quickstart.sh"
echo "--- quickstart passed"
# Memory of what `npm start` runs, after the quickstart (docs/performance.md).
for pid in $(pgrep -s "${pids[1]}"); do
  printf '    %6s MB  %s\n' "$(( $(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0) / 1024 ))" "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)"
done
