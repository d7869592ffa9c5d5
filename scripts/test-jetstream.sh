#!/usr/bin/env bash
# The integration suite's service, API, account and webhook tests again, on
# the JetStream backend: one nats-server (JetStream, a free loopback port,
# a temporary directory) for the run, each test's store under a prefix of
# its own. `make test` runs it after the whole suite on sled.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "nats-server is not installed: run make deps" >&2; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d)
"$NATS" -js -a 127.0.0.1 -p "$PORT" -sd "$DIR" >"$DIR/nats.log" 2>&1 &
NATS_PID=$!
trap 'kill -9 $NATS_PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.1; done

INTAKE_TEST_NATS="nats://127.0.0.1:$PORT" ${CARGO:-cargo} test --release --test integration -- \
  service:: api:: accounts:: notify:: "$@"
