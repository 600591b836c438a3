#!/usr/bin/env bash
# CPU cost of the health checker (issue: "10,000 origins monitored every 5 s: under 5% of one
# core"). Runs crates/torii-health/examples/health_load.rs (release build) with 10,000 origins,
# an http monitor (GET /health, body must contain "ok") every 5 s, for 30 s after one interval
# of warm-up, against nginx on four 127.0.0.x addresses (a separate process, so the figure is
# the checker alone), and prints the checker's share of one core.
# Needs nginx (apt-get install -y nginx). Addresses: 127.0.0.2-5 only.
# Environment: TARGETS (10000), INTERVAL (5), DURATION (30), PROTOCOL (http|tcp), THREADS (1),
# REUSE (true: http connections kept between checks), PORT (18490).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
targets=${TARGETS:-10000} interval=${INTERVAL:-5} duration=${DURATION:-30}
protocol=${PROTOCOL:-http} threads=${THREADS:-1} reuse=${REUSE:-true} port=${PORT:-18490}
command -v nginx >/dev/null || { echo "bench/health.sh needs nginx: apt-get install -y nginx" >&2; exit 1; }
cargo build --release -p torii-health --example health_load >/dev/null
bin=$CARGO_TARGET_DIR/release/examples/health_load
work=$(mktemp -d /tmp/torii-health-bench.XXXXXX)
cleanup() {
  if [ -n "${nginx_pid:-}" ]; then kill "$nginx_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
upstreams=127.0.0.2:$port,127.0.0.3:$port,127.0.0.4:$port,127.0.0.5:$port
listens=""
for address in ${upstreams//,/ }; do listens="$listens listen $address backlog=4096;"; done
cat >"$work/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx.err;
worker_rlimit_nofile 65536;
events { worker_connections 32768; }
http { access_log off; default_type text/plain; keepalive_requests 1000000; keepalive_timeout 300s;
  server { $listens location / { return 200 "ok"; } } }
NGINX
ulimit -n 65536 2>/dev/null || true
nginx -c "$work/nginx.conf" -p "$work" & nginx_pid=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.2:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin" --targets "$targets" --interval "$interval" --duration "$duration" \
  --protocol "$protocol" --threads "$threads" --reuse "$reuse" --upstreams "$upstreams"
