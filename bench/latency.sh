#!/usr/bin/env bash
# Fixed-rate latency: p50/p99 of torii and nginx as reverse proxies in front of the same nginx
# upstream, at a moderate open-loop rate (oha -q with latency correction, so a stall counts
# against every request it delayed), interleaved rounds.
#
# usage: bench/latency.sh            (RATE=2000 CONNS=16 DURATION=15 ROUNDS=5 by default;
#                                     NO_BUILD=1 uses the release binary as it is)
# Needs: nginx, oha (cargo install oha --locked), taskset. Proxies on CPU 0, upstream and load
# generator on CPU 1, one proxy worker each; torii with EXTRA_ROUTES (default 100) other routes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
RATE=${RATE:-2000} CONNS=${CONNS:-16} SECONDS_PER_RUN=${DURATION:-15} ROUNDS=${ROUNDS:-5}
command -v nginx >/dev/null || { apt-get install -y -qq nginx >/dev/null; }
command -v oha >/dev/null || cargo install oha --locked
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p torii
bin=$CARGO_TARGET_DIR/release/torii
work=$(mktemp -d /tmp/torii-latency.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

up=127.0.0.1:18999 torii_port=18001 nginx_port=18002
body=0123456789012345678901234567890123456789012345678901234567890123
mkdir -p "$work/up" "$work/proxy"
cat >"$work/up/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $work/up/nginx.pid; error_log $work/up/error.log warn;
events { worker_connections 16384; }
http { access_log off; keepalive_requests 100000000; keepalive_timeout 600s;
  server { listen $up backlog=4096; location / { default_type text/plain; return 200 "$body"; } } }
EOF
cat >"$work/proxy/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $work/proxy/nginx.pid; error_log $work/proxy/error.log warn;
events { worker_connections 16384; }
http { access_log off; keepalive_requests 100000000; keepalive_timeout 600s;
  upstream up { server $up; keepalive 1024; keepalive_requests 100000000; keepalive_timeout 600s; }
  proxy_http_version 1.1; proxy_set_header Connection "";
  server { listen 127.0.0.1:$nginx_port backlog=4096; location / { proxy_pass http://up; } } }
EOF
taskset -c 1 nginx -p "$work/up" -c "$work/up/nginx.conf" & pids+=($!)
taskset -c 0 nginx -p "$work/proxy" -c "$work/proxy/nginx.conf" & pids+=($!)
sed 's/^exec .*//' bench/torii-adapter >"$work/gen.sh"
bash "$work/gen.sh" "$bin" "$torii_port" "${up#*:}" 1 "$work/torii" >/dev/null
taskset -c 0 "$bin" serve -f "$work/torii/resources" --threads 1 --admin 127.0.0.1:19001 \
  2>"$work/torii.log" & pids+=($!)
for _ in $(seq 100); do curl -sf 127.0.0.1:19001/readyz >/dev/null && break; sleep 0.1; done
curl -sf "127.0.0.1:$torii_port/" >/dev/null && curl -sf "127.0.0.1:$nginx_port/" >/dev/null

run() { # name port -> "p50 p99 rps errors"
  taskset -c 1 oha --no-tui -z "${SECONDS_PER_RUN}s" -q "$RATE" -c "$CONNS" --latency-correction \
    --output-format json "http://127.0.0.1:$2/" >"$work/$1.json"
  python3 - "$work/$1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
bad = sum(v for k, v in codes.items() if not k.startswith("2")) + sum(d.get("errorDistribution", {}).values())
print(f'{p["p50"]*1000:.3f} {p["p99"]*1000:.3f} {d["summary"]["requestsPerSec"]:.0f} {bad}')
PY
}
# warm up both
SECONDS_PER_RUN=3 run warm "$torii_port" >/dev/null; SECONDS_PER_RUN=3 run warm "$nginx_port" >/dev/null
echo "rate=$RATE/s conns=$CONNS ${SECONDS_PER_RUN}s x $ROUNDS rounds (p50 ms, p99 ms, req/s, failed)"
: >"$work/results"
for r in $(seq "$ROUNDS"); do
  for target in torii:$torii_port nginx:$nginx_port; do
    name=${target%%:*}
    line=$(run "$name" "${target#*:}")
    echo "round $r $name $line" | tee -a "$work/results"
  done
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(name, i): return statistics.median(float(r[i]) for r in rows if r[2] == name)
t50, t99, n50, n99 = med("torii", 3), med("torii", 4), med("nginx", 3), med("nginx", 4)
print(f"median p50: torii {t50:.3f} ms, nginx {n50:.3f} ms ({t50/n50:.2f}x)")
print(f"median p99: torii {t99:.3f} ms, nginx {n99:.3f} ms ({t99/n99:.2f}x; goal <= 1.10x)")
PY
