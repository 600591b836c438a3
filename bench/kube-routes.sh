#!/usr/bin/env bash
# Kubernetes mode at scale, against a real kube-apiserver and etcd (scripts/kube-env): 10,000
# HTTPRoutes created through the API, time from the last create until all serve traffic and
# until all are Accepted in their status (and the status writes it took, from the apiserver),
# torii's RSS, and the p99 of one route edit reaching traffic with 10,000 routes present
# (100 edits). The measuring is done by bench/kube/routes.py (its docstring says how).
#
# usage: bench/kube-routes.sh   (ROUTES=10000 EDITS=100 SAMPLE=200 WRITERS=16 THREADS=2;
#                                NO_BUILD=1 skips the release build)
# Needs the kube-env binaries (scripts/kube-env build), nginx, curl, python3. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p torii
bin=$CARGO_TARGET_DIR/release/torii
work=$(mktemp -d /tmp/torii-kube-routes.XXXXXX)
api_ip=127.0.211.1 ip=127.0.211.2 port=18580 admin=127.0.211.2:18581 upstream=18582
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/kube-env down "$work/kube" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$upstream; location / { return 200 "ok"; } } }
NGINX
nginx -c "$work/nginx.conf" & pids+=($!)

scripts/kube-env up "$work/kube" --ip "$api_ip" >/dev/null
kubectl() { "$(sed -n 's/^BIN=//p' "$work/kube/state")/kubectl" --kubeconfig "$work/kube/kubeconfig" "$@"; }
kubectl apply -f - >/dev/null 2>&1 <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: torii}
spec: {controllerName: torii.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bench, namespace: default}
spec:
  gatewayClassName: torii
  addresses: [{type: IPAddress, value: "$ip"}]
  listeners: [{name: http, protocol: HTTP, port: $port, allowedRoutes: {namespaces: {from: Same}}}]
---
apiVersion: v1
kind: Service
metadata: {name: upstream, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: upstream-1, namespace: default, labels: {kubernetes.io/service-name: upstream}}
addressType: FQDN
ports: [{name: http, port: $upstream}]
endpoints: [{addresses: [upstream.localhost], conditions: {ready: true}}]
YAML

"$bin" serve --kubernetes --kubeconfig "$work/kube/kubeconfig" --cache-dir "$work/cache" \
  --state-dir "$work/state" --admin "$admin" --threads "${THREADS:-2}" 2>"$work/torii.log" &
torii_pid=$!
pids+=("$torii_pid")
for _ in $(seq 300); do curl -sf "$admin/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$admin/readyz" >/dev/null || { cat "$work/torii.log"; exit 1; }

python3 bench/kube/routes.py "$work/kube" "$ip" "$port" "$torii_pid" || { tail -20 "$work/torii.log"; exit 1; }
echo "torii: $(grep -c 'config applied' "$work/torii.log") configs applied; the slowest apply:"
grep 'config applied' "$work/torii.log" | sed 's/\x1b\[[0-9;]*m//g' |
  sed -n 's/.*translate_ms=\([0-9.]*\) total_ms=\([0-9.]*\).*/\2 \1/p' | sort -n | tail -1 |
  awk '{printf "  total %.0f ms (translate %.0f ms)\n", $1, $2}'
