#!/usr/bin/env bash
# 50 reloads during a load run: wrk drives torii (release build) for 30 s while the config is
# rewritten 50 times (alternating two valid configs that both route the requests). Prints wrk's
# summary (non-2xx responses and socket errors must both be absent) and the reload count.
# Needs nginx (the upstream) and wrk. Addresses: 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
cargo build --release -p torii >/dev/null
bin=$CARGO_TARGET_DIR/release/torii
work=$(mktemp -d /tmp/torii-reload.XXXXXX)
port=${PORT:-18480} upstream=${UPSTREAM_PORT:-18481} admin=${ADMIN_PORT:-18482}
cleanup() { kill "${torii_pid:-}" "${nginx_pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cat >"$work/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$upstream; location / { return 200 "ok"; } } }
NGINX
nginx -c "$work/nginx.conf" & nginx_pid=$!
mkdir -p "$work/cfg"
config() { # $1 = variant (a|b): both route /, they differ in an extra route
cat <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: torii}
spec: {controllerName: torii.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bench}
spec:
  gatewayClassName: torii
  addresses: [{type: IPAddress, value: 127.0.0.1}]
  listeners: [{name: http, protocol: HTTP, port: $port}]
---
apiVersion: v1
kind: Service
metadata: {name: upstream}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: upstream-1, labels: {kubernetes.io/service-name: upstream}}
addressType: IPv4
ports: [{name: http, port: $upstream}]
endpoints: [{addresses: [127.0.0.1]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: main}
spec:
  parentRefs: [{name: bench}]
  rules:
  - backendRefs: [{name: upstream, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /variant-$1}}]
    backendRefs: [{name: upstream, port: 80}]
YAML
}
config a >"$work/cfg/bench.yaml"
"$bin" serve -f "$work/cfg" --threads 1 --admin "127.0.0.1:$admin" 2>"$work/torii.log" & torii_pid=$!
for _ in $(seq 100); do curl -fsS "127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
wrk -t1 -c50 -d30s "http://127.0.0.1:$port/" >"$work/wrk.txt" & wrk_pid=$!
for i in $(seq 1 50); do
  sleep 0.5
  if [ $((i % 2)) = 1 ]; then v=b; else v=a; fi
  config $v >"$work/cfg/.bench.yaml.tmp" && mv "$work/cfg/.bench.yaml.tmp" "$work/cfg/bench.yaml"
done
wait $wrk_pid
cat "$work/wrk.txt"
echo "reloads accepted: $(curl -fsS "127.0.0.1:$admin/metrics" | grep 'torii_reloads_total{result="accepted"}' | awk '{print $2}') (1 is the startup config)"
echo "snapshot generation: $(curl -fsS "127.0.0.1:$admin/metrics" | grep '^torii_snapshot_generation' | awk '{print $2}')"
