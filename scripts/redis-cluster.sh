#!/usr/bin/env bash
# Starts a 3-node Redis Cluster on loopback for the cluster conformance tests, or reuses the one
# already running: ports 7101-7103 (RIALTO_REDIS_CLUSTER_PORTS to change), no persistence, data
# under a temporary directory. Safe to run concurrently (flock) and again at any time. Prints the
# URL the tests read from RIALTO_TEST_REDIS_CLUSTER_URL.
set -euo pipefail

ports=(${RIALTO_REDIS_CLUSTER_PORTS:-7101 7102 7103})
dir="${TMPDIR:-/tmp}/rialto-redis-cluster"
mkdir -p "$dir"

cluster_ok() {
  redis-cli -h 127.0.0.1 -p "${ports[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

exec 9>"$dir/start.lock"
flock 9

if ! cluster_ok; then
  for port in "${ports[@]}"; do
    if ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
      # A node left from an earlier run would remember a cluster that is gone: start it afresh.
      rm -f "$dir/nodes-$port.conf"
      redis-server --port "$port" --cluster-enabled yes --cluster-config-file "$dir/nodes-$port.conf" \
        --save "" --appendonly no --daemonize yes --bind 127.0.0.1 --dir "$dir" \
        --logfile "$dir/redis-$port.log" 9>&-  # the daemon must not inherit the lock
    fi
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  # Nodes that know only themselves still need their slots assigned.
  if [ "$(redis-cli -h 127.0.0.1 -p "${ports[0]}" cluster info | grep -c '^cluster_known_nodes:1')" = 1 ]; then
    nodes=()
    for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log"
  fi
  for _ in $(seq 1 100); do
    cluster_ok && break
    sleep 0.1
  done
  cluster_ok || { echo "Redis Cluster on ports ${ports[*]} did not reach cluster_state:ok" >&2; exit 1; }
fi

urls=()
for port in "${ports[@]}"; do urls+=("127.0.0.1:$port"); done
(IFS=,; echo "redis+cluster://${urls[*]}")
