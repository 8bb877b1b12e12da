#!/usr/bin/env bash
# cluster.sh: the split topology on this machine, each part a process of its own (`make cluster`).
#
#   kfake          Kafka-protocol broker, 8 partitions per topic      127.0.0.1:9092 (log in .data/cluster/kafka)
#   api1, api2     ROLES=api,saga                                     :8080, :8081
#   relay1, relay2 ROLES=relay,projector (the second is a standby)    operations on :9090, :9091
#
# It expects DATABASE_URL (make cluster sets it from make db), builds both commands into
# .data/cluster, migrates and seeds, starts everything with logs in .data/cluster/*.log, and stops
# every process it started on Ctrl-C. CLUSTER_PORT_BASE moves the API ports (default 8080; the
# relays' operations ports are 1010 and 1011 above it), CLUSTER_KAFKA_PORT the broker's (9092).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/.data/cluster"
base="${CLUSTER_PORT_BASE:-8080}"
kafka_port="${CLUSTER_KAFKA_PORT:-9092}"
mkdir -p "$dir"
: "${DATABASE_URL:?DATABASE_URL is required (make db prints one)}"

go build -o "$dir/commerce" "$root/cmd/commerce"
go build -o "$dir/kfake" "$root/cmd/kfake"

export KAFKA_BROKERS="127.0.0.1:$kafka_port" SECRETS_FILE="$root/.data/dev-secrets.json"
"$dir/commerce" migrate
"$dir/commerce" seed

pids=()     # the commerce processes
kfake_pid=""
stop() {
  trap - INT TERM EXIT
  echo "cluster: stopping ${pids[*]}, then kfake $kfake_pid" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # The broker goes last, so that no saga loses it while it drains.
  if [ -n "$kfake_pid" ]; then
    kill -TERM "$kfake_pid" 2>/dev/null || true
    wait "$kfake_pid" 2>/dev/null || true
  fi
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

start() { # name, then VAR=value... for the process
  local name=$1
  shift
  env "$@" "$dir/commerce" serve >"$dir/$name.log" 2>&1 &
  pids+=($!)
  echo "cluster: $name pid $! ($*) log $dir/$name.log" >&2
}

# The broker keeps its log in .data/cluster/kafka, so that a restart of the cluster loses no
# message the relay has published and a saga has not consumed yet.
# setsid: a Ctrl-C in the terminal reaches the commerce processes, not the broker, which stop
# stops after them.
setsid "$dir/kfake" -port "$kafka_port" -data "$dir/kafka" >"$dir/kfake.log" 2>&1 &
kfake_pid=$!
echo "cluster: kfake pid $kfake_pid on 127.0.0.1:$kafka_port" >&2
start api1 ROLES=api,saga HTTP_ADDR=":$base"
start api2 ROLES=api,saga HTTP_ADDR=":$((base + 1))"
start relay1 ROLES=relay,projector METRICS_ADDR=":$((base + 1010))"
start relay2 ROLES=relay,projector METRICS_ADDR=":$((base + 1011))"

for port in "$base" "$((base + 1))" "$((base + 1010))" "$((base + 1011))"; do
  for _ in $(seq 1 120); do
    if HTTP_ADDR=":$port" ROLES=api "$dir/commerce" healthcheck 2>/dev/null; then break; fi
    sleep 0.5
  done
done
echo "cluster: ready. APIs http://127.0.0.1:$base and :$((base + 1)); operations of the relays :$((base + 1010)), :$((base + 1011)). Ctrl-C stops it." >&2
wait -n "${pids[@]}" "$kfake_pid" || true
echo "cluster: a process exited; see $dir/*.log" >&2
