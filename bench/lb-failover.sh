#!/usr/bin/env bash
# Failover under load (issue: "kill one origin of two under a steady load -> zero failed
# requests; report the time to ejection").
#
# Two nginx origins (one process each, 127.0.77.11 and 127.0.77.12, `/` answers 200 with a
# small body, `/health` answers 200), torii in front with an OriginPool of both (HealthMonitor
# GET /health every 1s, timeout 500ms; outlier detection with its defaults written out), a
# LoadBalancer on the pool and an HTTPRoute to the LoadBalancer. wrk drives a steady keep-alive
# load through torii for DURATION seconds; at KILL_AT seconds origin b fails, in one of these
# ways (MODE):
#   kill       SIGKILL: the port refuses connections, open connections are reset
#   term       SIGTERM: nginx fast shutdown (closes listener and connections)
#   quit       SIGQUIT: nginx graceful shutdown (finishes requests, closes idle connections)
#   stop       SIGSTOP: the process hangs; the kernel still accepts connections, nothing answers
#   blackhole  nftables drops every packet to and from origin b's port (connects and requests hang)
# stop and blackhole are undone RESUME_AFTER seconds after the failure (SIGCONT, rule removed):
# stock wrk counts no error for a request that never completes, so requests still hung on the
# origin then complete late and count as wrk timeouts (> WRK_TIMEOUT). Keep >= 8 s of load after
# the resume: a blackholed connection's TCP retransmissions back off (0.2, 0.4, 0.8, 1.6, 3.2 s).
# Failed requests = non-200 answers + wrk socket errors (connect, read, write, timeout), counted
# exactly by bench/lb/status.lua. Time to ejection = from the failure to the first poll (every
# 50 ms) of GET /api/v1/status that shows origin b `healthy: false` (so 0.05 s means "by the
# first poll after the immediate one"; bench/lb/failover_watch.py does the failure and the polls).
# worst_second_vs_before = responses in the worst whole second after the failure, against the
# median second before it (how deep the dip is).
#
# Usage: bench/lb-failover.sh [MODE...]          (default: kill term quit stop blackhole)
#   RUNS=3 bench/lb-failover.sh kill stop        # modes interleaved: kill stop kill stop ...
# Environment:
#   RUNS (1) rounds over the modes; DURATION (20) s of load; KILL_AT (5) s into the load;
#   CONNS (16) wrk connections; WRK_THREADS (1); WRK_TIMEOUT (2s) wrk's per-request timeout;
#   RESUME_AFTER (4) s after the failure, stop/blackhole are undone;
#   WRK_DELAY_MS (0) pause before each request per connection (0: closed loop, full speed);
#   BACKEND_TIMEOUT (1s) the HTTPRoute's timeouts.backendRequest, "none" leaves it out (then a
#     request sent to a hung origin waits for it: expect failures in stop/blackhole);
#   MONITOR_RETRIES (1, torii's default) immediate retries of a failed check;
#   CONSECUTIVE_FAILURES (5) outlier detection's threshold (0 turns passive ejection off);
#   POLICY (weightedRandom) the pool's loadBalancing policy;
#   TORII_THREADS (1); TORII_CPUS (0) and LOAD_CPUS (1): taskset CPU lists for torii, and for
#     nginx + wrk + the watcher; NET (127.0.77) first three octets; PORT (18610) base port;
#   TORII_BIN (default: cargo build --release -p torii, binary in $CARGO_TARGET_DIR).
# Prints one RESULT line per run and a summary; exits 1 if any run had a failed request.
# Needs nginx, wrk, curl, python3 (and nftables for `blackhole`); installs them when root.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD/bench/lb

runs=${RUNS:-1} duration=${DURATION:-20} kill_at=${KILL_AT:-5}
conns=${CONNS:-16} wrk_threads=${WRK_THREADS:-1} wrk_timeout=${WRK_TIMEOUT:-2s}
resume_after=${RESUME_AFTER:-4}
delay_ms=${WRK_DELAY_MS:-0}
backend_timeout=${BACKEND_TIMEOUT:-1s} monitor_retries=${MONITOR_RETRIES:-1}
consecutive_failures=${CONSECUTIVE_FAILURES:-5} policy=${POLICY:-weightedRandom}
torii_threads=${TORII_THREADS:-1} torii_cpus=${TORII_CPUS:-0} load_cpus=${LOAD_CPUS:-1}
net=${NET:-127.0.77} port=${PORT:-18610}
if [ $# -gt 0 ]; then modes=("$@"); else modes=(kill term quit stop blackhole); fi
for mode in "${modes[@]}"; do
  case $mode in kill|term|quit|stop|blackhole) ;; *) echo "unknown mode: $mode" >&2; exit 2 ;; esac
done

# ---- tools
need=(nginx:nginx wrk:wrk curl:curl python3:python3 taskset:util-linux)
[[ " ${modes[*]} " == *" blackhole "* ]] && need+=(nft:nftables)
missing=()
for pair in "${need[@]}"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y "${missing[@]}" >/dev/null 2>&1 \
      || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
  else
    echo "bench/lb-failover.sh needs: apt-get install -y ${missing[*]}" >&2; exit 1
  fi
fi
if [ -z "${TORII_BIN:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
  cargo build --release -p torii >&2
  TORII_BIN=$CARGO_TARGET_DIR/release/torii
fi

gw=$net.10 a=$net.11 b=$net.12
gw_port=$port admin_port=$((port + 1)) origin_port=$((port + 2))
admin=$gw:$admin_port
nft_table=torii_lb_failover_$$
work=$(mktemp -d /tmp/torii-lb-failover.XXXXXX)
pids=()

stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  nft delete table inet "$nft_table" 2>/dev/null || true
}
cleanup() {
  stop_all
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_origin() { # name address
  local dir=$work/$1
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  default_type text/plain;
  server {
    listen $2:$origin_port backlog=4096;
    location = /health { return 200 "ok\n"; }
    location / { return 200 "origin $1 0123456789abcdefghijklmnopqrstuvwxyz\n"; }
  }
}
NGINX
  taskset -c "$load_cpus" nginx -p "$dir" -c "$dir/nginx.conf" &
  pids+=($!)
  eval "pid_$1=\$!"
}

write_config() {
  mkdir -p "$work/config"
  local timeouts=""
  [ "$backend_timeout" != none ] && timeouts="    timeouts: {backendRequest: $backend_timeout}"
  cat >"$work/config/lb.yaml" <<YAML
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
apiVersion: torii.dev/v1alpha1
kind: HealthMonitor
metadata: {name: check, namespace: default}
spec: {type: http, path: /health, interval: 1s, timeout: 500ms, retries: $monitor_retries}
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {name: web, namespace: default}
spec:
  monitor: check
  origins:
  - {name: a, address: "$a:$origin_port"}
  - {name: b, address: "$b:$origin_port"}
  loadBalancing: {policy: $policy}
  outlierDetection: {consecutiveFailures: $consecutive_failures, baseEjectionTime: 30s, maxEjectionTime: 300s, maxEjectionPercent: 50}
---
apiVersion: torii.dev/v1alpha1
kind: LoadBalancer
metadata: {name: app, namespace: default}
spec:
  defaultPools: [web]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: bench}]
  rules:
  - backendRefs: [{group: torii.dev, kind: LoadBalancer, name: app}]
$timeouts
YAML
}

both_healthy() {
  curl -fsS --max-time 1 "http://$admin/api/v1/status" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
h = {o["key"]: o.get("healthy") for o in d.get("origins") or []}
sys.exit(0 if h.get("default/web/a") and h.get("default/web/b") else 1)'
}

run_one() { # mode run
  local mode=$1 run=$2 log=$work/run-$1-$2
  start_origin a "$a"
  start_origin b "$b"
  taskset -c "$torii_cpus" "$TORII_BIN" serve -f "$work/config" --threads "$torii_threads" \
    --admin "$admin" 2>"$log.torii.err" &
  pids+=($!)
  local ok=0
  for _ in $(seq 100); do
    if curl -fsS --max-time 1 -o /dev/null "http://$gw:$gw_port/" 2>/dev/null && both_healthy; then
      ok=1; break
    fi
    sleep 0.1
  done
  if [ $ok = 0 ]; then
    echo "torii or the origins did not come up; torii stderr:" >&2
    cat "$log.torii.err" >&2
    exit 1
  fi
  local action=() resume_at=$((kill_at + resume_after))
  case $mode in
    kill) action=(--pid "$pid_b" --signal KILL) ;;
    term) action=(--pid "$pid_b" --signal TERM) ;;
    quit) action=(--pid "$pid_b" --signal QUIT) ;;
    stop) action=(--pid "$pid_b" --signal STOP --resume-at "$resume_at" --resume-signal CONT) ;;
    blackhole) action=(--cmd "nft add table inet $nft_table \
      && nft add chain inet $nft_table out '{ type filter hook output priority 0; }' \
      && nft add rule inet $nft_table out ip daddr $b tcp dport $origin_port drop \
      && nft add rule inet $nft_table out ip saddr $b tcp sport $origin_port drop" \
      --resume-at "$resume_at" --resume-cmd "nft delete table inet $nft_table") ;;
  esac
  WRK_DELAY_MS=$delay_ms taskset -c "$load_cpus" wrk -t "$wrk_threads" -c "$conns" -d "${duration}s" \
    --timeout "$wrk_timeout" --latency -s "$here/status.lua" "http://$gw:$gw_port/" -- "$delay_ms" \
    >"$log.wrk" 2>&1 &
  local wrk_pid=$!
  pids+=($wrk_pid)
  taskset -c "$load_cpus" python3 "$here/failover_watch.py" --admin "$admin" \
    --key default/web/b --other default/web/a --at "$kill_at" --until "$((duration - 1))" \
    "${action[@]}" >"$log.watch" &
  local watch_pid=$!
  pids+=($watch_pid)
  # (stderr off: bash would report the killed origin here, "Killed nginx ...")
  { wait "$watch_pid" || true; wait "$wrk_pid" || true; } 2>/dev/null
  if ! kill -0 "$pid_b" 2>/dev/null; then { wait "$pid_b" || true; } 2>/dev/null; fi
  local result
  result=$(python3 - "$log.wrk" "$log.watch" "$mode" "$run" <<'PY'
import json, re, sys
wrk = open(sys.argv[1]).read()
watch = json.loads(open(sys.argv[2]).read() or "{}")
mode, run = sys.argv[3], sys.argv[4]
statuses = {int(c): int(n) for c, n in re.findall(r"^STATUS (\d+) (\d+)$", wrk, re.M)}
m = re.search(r"^ERRORS connect=(\d+) read=(\d+) write=(\d+) status=(\d+) timeout=(\d+)$", wrk, re.M)
if not m:
    print(f"RESULT mode={mode} run={run} wrk produced no result: {wrk[-400:]!r}")
    sys.exit(0)
connect, read, write, _status, timeout = map(int, m.groups())
ok = statuses.get(200, 0)
non200 = sum(n for c, n in statuses.items() if c != 200)
failures = non200 + connect + read + write + timeout
rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk)
lat = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", wrk, re.M)
p99 = re.search(r"^\s+99%\s+(\S+)", wrk, re.M)
down = watch.get("down_after_s")
reason = watch.get("down_reason")
# responses per second: the worst full second after the failure against the median before it
counts = {int(s): int(n) for s, n in re.findall(r"(\d+):(\d+)", (re.search(r"^TIMELINE(.*)$", wrk, re.M) or [None, ""])[1])}
timeline = [(s, counts.get(s, 0)) for s in range(min(counts), max(counts) + 1)] if counts else []
t_fail = watch.get("action_unix") or 0
before = sorted(n for s, n in timeline[1:-1] if s < int(t_fail))
after = [(s, n) for s, n in timeline[1:-1] if s > int(t_fail)]
dip = "?"
if before and after:
    med = before[len(before) // 2]
    worst = min(after, key=lambda x: x[1])
    dip = f"{100.0 * worst[1] / med:.0f}%@+{worst[0] - int(t_fail)}s"
print(f"RESULT mode={mode} run={run} requests={ok + non200} ok={ok} failures={failures} "
      f"non200={json.dumps({str(c): n for c, n in statuses.items() if c != 200}, separators=(',', ':'))} "
      f"connect={connect} read={read} write={write} timeout={timeout} "
      f"rps={rps.group(1) if rps else '?'} lat_max={lat.group(3) if lat else '?'} "
      f"p99={p99.group(1) if p99 else '?'} worst_second_vs_before={dip} "
      f"time_to_unhealthy_s={down if down is not None else 'never'} "
      f"ejected={watch.get('down_ejected')} reason={json.dumps(reason)} "
      f"other_flaps={watch.get('other_flaps')} poll_gap_max_s={watch.get('max_poll_gap_s')}"
      + (f" resumed_after_s={watch['resumed_after_s']}" if watch.get("resumed_after_s") else ""))
PY
)
  echo "$result"
  echo "$result" >>"$work/results"
  stop_all
}

write_config
echo "# torii $TORII_BIN ($(stat -c %y "$TORII_BIN" | cut -d. -f1)); modes: ${modes[*]}; runs: $runs;" \
  "load: wrk -t$wrk_threads -c$conns ${duration}s timeout $wrk_timeout (delay ${delay_ms} ms)," \
  "failure at ${kill_at}s (stop/blackhole undone ${resume_after}s later);" \
  "backendRequest timeout: $backend_timeout; monitor 1s/500ms retries=$monitor_retries;" \
  "outlier consecutiveFailures=$consecutive_failures; policy $policy; torii threads $torii_threads" \
  "on CPU $torii_cpus, nginx+wrk on CPU $load_cpus"
: >"$work/results"
for run in $(seq 1 "$runs"); do
  for mode in "${modes[@]}"; do
    run_one "$mode" "$run"
  done
done
python3 - "$work/results" <<'PY'
import re, statistics, sys
rows = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in open(sys.argv[1]) if l.startswith("RESULT")]
print("# summary per mode: runs, requests, failed requests, time to unhealthy (s) min/median/max")
for mode in dict.fromkeys(r["mode"] for r in rows):
    rs = [r for r in rows if r["mode"] == mode]
    fails = [int(r.get("failures", 1)) for r in rs]
    downs = [float(r["time_to_unhealthy_s"]) for r in rs
             if r.get("time_to_unhealthy_s", "never") not in ("never", "?")]
    never = len(rs) - len(downs)
    d = (f"{min(downs):.3f}/{statistics.median(downs):.3f}/{max(downs):.3f}" if downs else "-")
    print(f"SUMMARY mode={mode} runs={len(rs)} requests={sum(int(r.get('requests', 0)) for r in rs)} "
          f"failures={sum(fails)} (per run {','.join(map(str, fails))}) time_to_unhealthy_s={d}"
          + (f" never_unhealthy_runs={never}" if never else ""))
PY
if grep -qv ' failures=0 ' "$work/results"; then
  echo "FAIL: failed requests during failover (goal: zero)" >&2
  exit 1
fi
echo "OK: zero failed requests"
