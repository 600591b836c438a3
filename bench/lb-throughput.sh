#!/usr/bin/env bash
# Proxy throughput through a LoadBalancer against a plain Service backend (issue: "proxy
# throughput through a LoadBalancer within 5% of a plain Service backend").
#
# One upstream nginx (1 worker, `return 200` with a 64-byte body, listening on two addresses),
# torii with --threads 1, and wrk (keep-alive, -c50, 1 thread). Pinning as in
# ../shared/bench/proxybench: torii alone on CPU 0; nginx, wrk and this script on CPU 1.
# Configurations (same Gateway and HTTPRoute, only the backendRef differs):
#   service  Service + EndpointSlice with the one nginx endpoint
#   lb       LoadBalancer -> OriginPool with the one nginx origin (HealthMonitor every 5 s)
#   lb2      LoadBalancer -> OriginPool with two origins: the same nginx on its two addresses
#   pool     HTTPRoute straight to the OriginPool (kind OriginPool) of `lb`
# Each run starts a fresh torii, warms up WARMUP seconds, then measures DURATION seconds; runs
# are interleaved (service lb lb2 pool, next round rotated by one) over ROUNDS rounds.
# Reported per configuration: median requests/s and torii CPU seconds (utime+stime from
# /proc/PID/stat) per 10,000 requests, with min-max; then each LoadBalancer configuration's
# ratio to `service`: requests/s (LB/service) and requests per CPU second (service cpu/10k / LB
# cpu/10k). CPU per request is the steadier figure on this noisy machine; requests/s only
# measures torii while CPU 0 is saturated by torii (the px-core column) and CPU 1 is not.
#
# A run during which other processes (not torii) used more than FOREIGN_MAX of CPU 0 is redone
# (at most twice); the `foreign` column is that share.
# With CALLGRIND_REQUESTS=N (e.g. 20000) a last phase runs each configuration's torii under
# valgrind --tool=callgrind, sends N requests (h2load --h1 -c10, after 2000 unmeasured ones) and
# prints user-space instructions per request and where the configurations differ, by function
# (bench/lb/cgdiff.py); the profiles are kept in CALLGRIND_DIR (default: a temporary directory).
#
# Usage: bench/lb-throughput.sh [CONFIG...]   (default: service lb lb2 pool)
#   ROUNDS=0 CALLGRIND_REQUESTS=20000 CALLGRIND_DIR=/tmp/cg bench/lb-throughput.sh service lb
# Environment: ROUNDS (5), DURATION (10), WARMUP (2), CONNS (50), WRK_THREADS (1),
#   MONITOR_INTERVAL (5s), TORII_CPUS (0), LOAD_CPUS (1), NET (127.0.78), PORT (18640),
#   FOREIGN_MAX (0.10), CALLGRIND_REQUESTS (0: no callgrind phase), CALLGRIND_DIR,
#   HEADERS (none | browser: nine more request headers, as a browser sends, on every request),
#   TORII_BIN (default: cargo build --release -p torii, binary in $CARGO_TARGET_DIR),
#   RESULTS (a file to append the per-run lines to).
# Exits 1 when a LoadBalancer configuration's requests/s or requests per CPU second is below
# 0.95 of `service` (medians).
# Needs nginx, wrk, curl, python3 (valgrind and h2load for callgrind); installs them when root.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-5} duration=${DURATION:-10} warmup=${WARMUP:-2}
conns=${CONNS:-50} wrk_threads=${WRK_THREADS:-1} monitor_interval=${MONITOR_INTERVAL:-5s}
torii_cpus=${TORII_CPUS:-0} load_cpus=${LOAD_CPUS:-1}
net=${NET:-127.0.78} port=${PORT:-18640} foreign_max=${FOREIGN_MAX:-0.10}
cg_requests=${CALLGRIND_REQUESTS:-0} headers=${HEADERS:-none}
hdr=()
case $headers in
  none) ;;
  browser) for h in \
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36" \
      "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8" \
      "Accept-Language: en-US,en;q=0.9,de;q=0.8" \
      "Accept-Encoding: gzip, deflate, br" \
      "Cookie: session=6f1c2a9e8b7d4c3f2e1a0b9c8d7e6f5a; prefs=theme%3Ddark%26lang%3Den; _ga=GA1.2.1234567890.1700000000" \
      "Referer: http://app.example.com/catalog/items?page=2" \
      "Sec-Fetch-Mode: navigate" \
      "Sec-Fetch-Site: same-origin" \
      "Upgrade-Insecure-Requests: 1"; do hdr+=(-H "$h"); done ;;
  *) echo "HEADERS must be none or browser" >&2; exit 2 ;;
esac
if [ $# -gt 0 ]; then configs=("$@"); else configs=(service lb lb2 pool); fi
for c in "${configs[@]}"; do
  case $c in service|lb|lb2|pool) ;; *) echo "unknown configuration: $c" >&2; exit 2 ;; esac
done

missing=() tools=(nginx:nginx wrk:wrk curl:curl python3:python3 taskset:util-linux)
[ "$cg_requests" -gt 0 ] && tools+=(valgrind:valgrind callgrind_control:valgrind h2load:nghttp2-client)
for pair in "${tools[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y "${missing[@]}" >/dev/null 2>&1 \
      || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
  else
    echo "bench/lb-throughput.sh needs: apt-get install -y ${missing[*]}" >&2; exit 1
  fi
fi
if [ -z "${TORII_BIN:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
  cargo build --release -p torii >&2
  TORII_BIN=$CARGO_TARGET_DIR/release/torii
fi
# This script (and what it starts without taskset) stays off torii's CPU.
taskset -pc "$load_cpus" $$ >/dev/null

gw=$net.10 up1=$net.11 up2=$net.12
gw_port=$port admin_port=$((port + 1)) up_port=$((port + 2))
work=$(mktemp -d /tmp/torii-lb-throughput.XXXXXX)
nginx_pid="" torii_pid=""
clk=$(getconf CLK_TCK)

stop_torii() {
  if [ -n "$torii_pid" ]; then
    kill -TERM "$torii_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$torii_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$torii_pid" 2>/dev/null || true
    wait "$torii_pid" 2>/dev/null || true
    torii_pid=""
  fi
}
cleanup() {
  stop_torii
  if [ -n "$nginx_pid" ]; then
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- upstream
cat >"$work/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 16384; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  tcp_nodelay on;
  server {
    listen $up1:$up_port backlog=4096;
    listen $up2:$up_port backlog=4096;
    location = /health { return 200 "ok"; }
    location / { default_type text/plain; return 200 "lb-throughput-upstream-small-body-0123456789abcdefghijklmnopqrstu"; }
  }
}
NGINX
taskset -c "$load_cpus" nginx -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do curl -fsS -o /dev/null "http://$up1:$up_port/" 2>/dev/null && break; sleep 0.1; done

# ---- torii configurations
common() {
  cat <<YAML
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
  addresses: [{type: IPAddress, value: $gw}]
  listeners: [{name: http, protocol: HTTP, port: $gw_port}]
---
apiVersion: v1
kind: Service
metadata: {name: upstream, namespace: default}
spec: {ports: [{name: http, port: 80, targetPort: $up_port}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: upstream-1, namespace: default, labels: {kubernetes.io/service-name: upstream}}
addressType: IPv4
ports: [{name: http, port: $up_port}]
endpoints: [{addresses: [$up1], conditions: {ready: true}}]
---
apiVersion: torii.dev/v1alpha1
kind: HealthMonitor
metadata: {name: check, namespace: default}
spec: {type: http, path: /health, interval: $monitor_interval, timeout: 1s}
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {name: one, namespace: default}
spec:
  monitor: check
  origins: [{name: u1, address: "$up1:$up_port"}]
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {name: two, namespace: default}
spec:
  monitor: check
  origins: [{name: u1, address: "$up1:$up_port"}, {name: u2, address: "$up2:$up_port"}]
---
apiVersion: torii.dev/v1alpha1
kind: LoadBalancer
metadata: {name: lb, namespace: default}
spec: {defaultPools: [one]}
---
apiVersion: torii.dev/v1alpha1
kind: LoadBalancer
metadata: {name: lb2, namespace: default}
spec: {defaultPools: [two]}
---
YAML
}
for c in service lb lb2 pool; do
  case $c in
    service) ref="{name: upstream, port: 80}" ;;
    lb) ref="{group: torii.dev, kind: LoadBalancer, name: lb}" ;;
    lb2) ref="{group: torii.dev, kind: LoadBalancer, name: lb2}" ;;
    pool) ref="{group: torii.dev, kind: OriginPool, name: one}" ;;
  esac
  mkdir -p "$work/$c"
  { common; cat <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bench, namespace: default}
spec:
  parentRefs: [{name: bench}]
  rules: [{backendRefs: [$ref]}]
YAML
  } >"$work/$c/config.yaml"
done

proc_ticks() { # utime+stime (+ reaped children) of a process, clock ticks
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'
}
core_busy() { # busy ticks (all but idle and iowait) of a CPU list like 0 or 0,1
  awk -v list="$1" 'BEGIN { n = split(list, l, ","); for (i = 1; i <= n; i++) want["cpu" l[i]] = 1 }
    $1 in want { busy += $2 + $3 + $4 + $7 + $8 + $9 } END { print busy + 0 }' /proc/stat
}

run_one() { # config round
  local c=$1 r=$2
  taskset -c "$torii_cpus" "$TORII_BIN" serve -f "$work/$c" --threads 1 \
    --admin "$gw:$admin_port" 2>"$work/torii-$c-$r.err" &
  torii_pid=$!
  local ok=0
  for _ in $(seq 100); do
    curl -fsS --max-time 1 -o /dev/null "http://$gw:$gw_port/" 2>/dev/null && { ok=1; break; }
    sleep 0.1
  done
  if [ $ok = 0 ]; then echo "torii ($c) did not answer:" >&2; cat "$work/torii-$c-$r.err" >&2; exit 1; fi
  taskset -c "$load_cpus" wrk -t "$wrk_threads" -c "$conns" -d "${warmup}s" ${hdr[@]+"${hdr[@]}"} "http://$gw:$gw_port/" >/dev/null
  local t0 t1 c0 c1 l0 l1 w0 w1 out
  t0=$(proc_ticks "$torii_pid"); c0=$(core_busy "$torii_cpus"); l0=$(core_busy "$load_cpus")
  w0=$(date +%s.%N)
  out=$(taskset -c "$load_cpus" wrk -t "$wrk_threads" -c "$conns" -d "${duration}s" --latency ${hdr[@]+"${hdr[@]}"} \
    "http://$gw:$gw_port/")
  w1=$(date +%s.%N)
  t1=$(proc_ticks "$torii_pid"); c1=$(core_busy "$torii_cpus"); l1=$(core_busy "$load_cpus")
  stop_torii
  python3 - "$c" "$r" "$out" "$((t1 - t0))" "$((c1 - c0))" "$((l1 - l0))" "$w0" "$w1" "$clk" <<'PY'
import re, sys
c, r, out, ticks, core, lcore, w0, w1, clk = sys.argv[1:]
wall = float(w1) - float(w0)
clk = int(clk)
m = re.search(r"(\d+) requests in", out)
n = int(m.group(1)) if m else 0
rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
errors = re.search(r"Socket errors:.*|Non-2xx.*", out)
cpu = int(ticks) / clk
print(f"RUN config={c} round={r} requests={n} rps={rps.group(1) if rps else 0} "
      f"cpu_s={cpu:.2f} cpu_s_per_10k={cpu / n * 1e4 if n else 0:.4f} "
      f"torii_util={cpu / wall:.2f} px_core={int(core) / clk / wall:.2f} "
      f"foreign={max(0.0, int(core) / clk - cpu) / wall:.2f} "
      f"lg_core={int(lcore) / clk / wall:.2f} p50={p50.group(1) if p50 else '?'} "
      f"p99={p99.group(1) if p99 else '?'}" + (f" errors={errors.group(0).replace(' ', '_')}" if errors else ""))
PY
}

echo "# torii $TORII_BIN ($(stat -c %y "$TORII_BIN" | cut -d. -f1)), --threads 1 on CPU $torii_cpus;" \
  "nginx (1 process) + wrk -t$wrk_threads -c$conns on CPU $load_cpus; $rounds rounds x ${duration}s" \
  "(+${warmup}s warm-up), request headers: $headers, configs: ${configs[*]}"
results=$work/results
: >"$results"
n=${#configs[@]}
for r in $(seq 1 "$rounds"); do
  for i in $(seq 0 $((n - 1))); do
    c=${configs[$(((i + r - 1) % n))]}
    for attempt in 1 2 3; do
      line=$(run_one "$c" "$r")
      foreign=$(sed -n 's/.* foreign=\([0-9.]*\) .*/\1/p' <<<"$line")
      if [ "$attempt" -lt 3 ] && awk -v f="$foreign" -v m="$foreign_max" 'BEGIN { exit !(f > m) }'; then
        echo "# redo (other processes took $foreign of CPU $torii_cpus): $line"
        continue
      fi
      break
    done
    echo "$line"
    echo "$line" >>"$results"
  done
done
if [ -n "${RESULTS:-}" ]; then cat "$results" >>"$RESULTS"; fi

# ---- callgrind: instructions per request, and where they go
if [ "$cg_requests" -gt 0 ]; then
  cgdir=${CALLGRIND_DIR:-$work/callgrind}
  mkdir -p "$cgdir"
  cg_args=()
  for c in "${configs[@]}"; do
    rm -f "$cgdir/cg-$c".*
    taskset -c "$torii_cpus" valgrind --tool=callgrind -q --callgrind-out-file="$cgdir/cg-$c.%p" \
      "$TORII_BIN" serve -f "$work/$c" --threads 1 --admin "$gw:$admin_port" 2>"$work/cg-$c.err" &
    torii_pid=$!
    ok=0
    for _ in $(seq 600); do
      curl -fsS --max-time 2 -o /dev/null "http://$gw:$gw_port/" 2>/dev/null && { ok=1; break; }
      sleep 0.1
    done
    if [ $ok = 0 ]; then echo "torii ($c) under callgrind did not answer:" >&2; cat "$work/cg-$c.err" >&2; exit 1; fi
    taskset -c "$load_cpus" h2load --h1 -n 2000 -c 10 ${hdr[@]+"${hdr[@]}"} "http://$gw:$gw_port/" >/dev/null
    callgrind_control -z "$torii_pid" >/dev/null
    out=$(taskset -c "$load_cpus" h2load --h1 -n "$cg_requests" -c 10 ${hdr[@]+"${hdr[@]}"} "http://$gw:$gw_port/")
    callgrind_control -d "$torii_pid" >/dev/null
    stop_torii
    done_ok=$(sed -n 's/.* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
    dump=$(ls "$cgdir/cg-$c".*.1 2>/dev/null | head -1)
    if [ "$done_ok" != "$cg_requests" ] || [ -z "$dump" ]; then
      echo "callgrind $c: $done_ok of $cg_requests requests succeeded, dump: ${dump:-none}" >&2; exit 1
    fi
    cg_args+=("$c=$dump")
  done
  echo "# callgrind: $cg_requests requests per configuration (h2load --h1 -c10), profiles in $cgdir"
  python3 bench/lb/cgdiff.py "$cg_requests" "${cg_args[@]}"
fi

[ -s "$results" ] || exit 0
python3 - "$results" <<'PY'
import re, statistics, sys
rows = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in open(sys.argv[1]) if l.startswith("RUN")]
med = {}
print(f"{'config':8} {'runs':>4} {'req/s median':>12} {'(min-max)':>17} {'cpu s/10k':>9} {'(min-max)':>15} "
      f"{'px-core':>7} {'lg-core':>7} {'foreign':>7}")
for c in dict.fromkeys(r["config"] for r in rows):
    rs = [r for r in rows if r["config"] == c]
    rps = [float(r["rps"]) for r in rs]
    cpu = [float(r["cpu_s_per_10k"]) for r in rs]
    px = statistics.median(float(r["px_core"]) for r in rs)
    lg = statistics.median(float(r["lg_core"]) for r in rs)
    fo = statistics.median(float(r["foreign"]) for r in rs)
    med[c] = (statistics.median(rps), statistics.median(cpu))
    print(f"{c:8} {len(rs):>4} {med[c][0]:>12.0f} {f'({min(rps):.0f}-{max(rps):.0f})':>17} "
          f"{med[c][1]:>9.4f} {f'({min(cpu):.4f}-{max(cpu):.4f})':>15} {px:>7.2f} {lg:>7.2f} {fo:>7.2f}")
bad = False
if "service" in med:
    s_rps, s_cpu = med["service"]
    for c, (rps, cpu) in med.items():
        if c == "service":
            continue
        r_rps, r_cpu = rps / s_rps, s_cpu / cpu
        miss = r_rps < 0.95 or r_cpu < 0.95
        bad |= miss
        print(f"RATIO {c}/service: requests/s {r_rps:.3f}, requests per CPU second {r_cpu:.3f} "
              f"(cpu/10k {cpu / s_cpu:.3f}x) -> {'MISSES' if miss else 'meets'} the 0.95 goal")
sys.exit(1 if bad else 0)
PY
