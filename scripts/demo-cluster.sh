#!/usr/bin/env bash
# `make demo-cluster`: the pipeline on NATS JetStream across processes.
# One nats-server (JetStream, on a free loopback port, its files under
# out/demo-cluster), two `intake worker` processes and one `intake serve`;
# the demo uploads go in through the HTTP API, the workers take them from
# the work queue, and the verdicts, account statuses and both
# verifications are read back from the shared store. Everything started
# here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

INTAKE=target/release/intake
DIR=out/demo-cluster
S=samples/committed
P=samples/committed/profiles
TODAY=2026-06-01
TOKEN=demo-cluster-uploader-token-5e1c

NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "nats-server is not installed: run make deps" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

rm -rf "$DIR" && mkdir -p "$DIR"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

NATS_PORT=$(free_port)
API_PORT=$(free_port)
"$NATS" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$DIR/nats" >"$DIR/nats.log" 2>&1 &
pids+=($!)
until (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null; do sleep 0.1; done

$INTAKE keygen --out "$DIR/intake.key" >/dev/null
cat >"$DIR/pipeline.toml" <<EOF
[store]
backend = "jetstream"
path = "$DIR/local"
key_file = "$DIR/intake.key"

[jetstream]
url = "nats://127.0.0.1:$NATS_PORT"
prefix = "demo"

[server]
listen = "127.0.0.1:$API_PORT"

[[server.tokens]]
token = "$TOKEN"
role = "uploader"
name = "portal"
EOF
C=(--config "$DIR/pipeline.toml" --today "$TODAY")

echo "== nats-server on 127.0.0.1:$NATS_PORT; two workers and one API on 127.0.0.1:$API_PORT =="
for n in 1 2; do
  $INTAKE worker "${C[@]}" >"$DIR/worker-$n.out" 2>"$DIR/worker-$n.log" &
  pids+=($!)
done
$INTAKE serve --api-only "${C[@]}" >"$DIR/api.out" 2>"$DIR/api.log" &
pids+=($!)
until curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null; do sleep 0.2; done

echo "== uploads through the API =="
jobs=()
upload() { # account kind file [profile]
  local form=(-F "kind=$2" -F "file=@$3")
  [ -n "${4:-}" ] && form+=(-F "profile=<$4")
  local reply
  reply=$(curl -sS -H "Authorization: Bearer $TOKEN" "${form[@]}" \
    "http://127.0.0.1:$API_PORT/v1/accounts/$1/documents")
  echo "$1 $2 $(basename "$3"): $reply"
  jobs+=("$(jq -r .job_id <<<"$reply")")
}
upload uzb-1 passport "$S/passport.jpg" "$P/passport.transliteration.json"
upload uzb-1 migration_card "$S/migration_card.jpg" "$P/migration_card.matching.json"
upload ukr-1 passport "$S/passport_upside_down.jpg" "$P/passport_upside_down.mismatch_surname.json"
upload ukr-1 visa "$S/visa.jpg" "$P/visa.matching.json"
upload bmp-1 passport "$S/passport_scan.bmp"
upload card-1 id_card "$S/id_card.pdf" "$P/id_card.matching.json"
upload uzb-1 passport "$S/passport.jpg" "$P/passport.transliteration.json"

echo "== waiting for the workers' verdicts =="
for job in "${jobs[@]}"; do
  until [ "$(curl -sS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/v1/jobs/$job" | jq -r .state)" != pending ]; do
    sleep 0.2
  done
done
grep -h "verdict committed" "$DIR"/worker-*.log "$DIR/api.log" | sed 's/^.*INFO //' || true

echo
echo "== the verdict queue (one store, read by any process) =="
$INTAKE queue tail --brief "${C[@]}"
echo
echo "== account statuses (projected by whichever process holds the accounts duty) =="
for a in uzb-1 ukr-1 bmp-1 card-1; do
  until $INTAKE status "$a" "${C[@]}" 2>/dev/null; do sleep 0.5; done
done
echo
$INTAKE accounts verify "${C[@]}"
$INTAKE audit verify "${C[@]}"
