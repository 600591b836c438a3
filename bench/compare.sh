#!/usr/bin/env bash
# Mirroring with comparison: what it costs the users. One torii (--threads 1, CPU 0) serves two
# hostnames over the same upstream (nginx, 1 worker, CPU 1, a ~10 KiB JSON body):
#   plain.test     HTTPRoute -> Service "primary"
#   compared.test  the same, plus a Comparison sending 100% of requests to Service
#                  "candidate" (same nginx, another port, one JSON field different) and
#                  comparing the answers
# Latency: oha open loop at RATE req/s (default 1000, the issue's figure) with latency
# correction, p50/p99 per hostname, interleaved over ROUNDS rounds. Throughput: wrk -c CONNS
# closed loop, requests/s per hostname: there torii's CPU is saturated and comparisons give way
# (shed, counted). The comparison's counters during the RATE runs: compared and shed (the goal:
# no shedding at 1,000 req/s). The candidate's body differs from the primary's in one field, so
# every comparison parses both bodies and records a regression (the expensive path).
#
# usage: bench/compare.sh   (RATE=1000 DURATION=10 ROUNDS=3 CONNS=32; NO_BUILD=1 skips the build)
# Needs nginx, oha (cargo install oha --locked), wrk, taskset, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
RATE=${RATE:-1000} SECONDS_PER_RUN=${DURATION:-10} ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-32}
command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v oha >/dev/null || cargo install oha --locked
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p torii
bin=$CARGO_TARGET_DIR/release/torii
work=$(mktemp -d /tmp/torii-compare.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

ip=127.0.0.1 port=18101 admin=127.0.0.1:19101 primary=18102 candidate=18103
mkdir -p "$work/up" "$work/state"
chmod 755 "$work" "$work/up"  # nginx workers (user nobody) read the body file
python3 bench/compare/body.py >"$work/up/primary.json"
python3 bench/compare/body.py candidate >"$work/up/candidate.json"
sed -e "s|@WORK@|$work|g" -e "s|@IP@|$ip|g" -e "s|@PRIMARY@|$primary|g" \
  -e "s|@CANDIDATE@|$candidate|g" bench/compare/nginx.conf >"$work/up/nginx.conf"
taskset -c 1 nginx -p "$work/up" -c "$work/up/nginx.conf" & pids+=($!)
for _ in $(seq 100); do curl -sf "$ip:$candidate/" >/dev/null && break; sleep 0.1; done
sed -e "s|@IP@|$ip|g" -e "s|@PORT@|$port|g" -e "s|@PRIMARY@|$primary|g" \
  -e "s|@CANDIDATE@|$candidate|g" bench/compare/config.yaml >"$work/config.yaml"
taskset -c 0 "$bin" serve -f "$work/config.yaml" --threads 1 --admin "$admin" \
  --state-dir "$work/state" 2>"$work/torii.log" & pids+=($!)
for _ in $(seq 100); do curl -sf "$admin/readyz" >/dev/null && break; sleep 0.1; done
for host in plain compared; do
  curl -sf -H "Host: $host.test" "$ip:$port/" >/dev/null || { echo "no answer for $host"; cat "$work/torii.log"; exit 1; }
done

latency() { # host -> "p50 p99 rps failed"
  taskset -c 1 oha --no-tui -z "${SECONDS_PER_RUN}s" -q "$RATE" -c 16 --latency-correction \
    -H "Host: $1.test" --output-format json "http://$ip:$port/" >"$work/$1.json"
  python3 - "$work/$1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
bad = sum(v for k, v in codes.items() if not k.startswith("2")) + sum(d.get("errorDistribution", {}).values())
print(f'{p["p50"]*1000:.3f} {p["p99"]*1000:.3f} {d["summary"]["requestsPerSec"]:.0f} {bad}')
if bad:
    print(f'failures: codes {codes} errors {d.get("errorDistribution")}', file=sys.stderr)
PY
}
throughput() { # host -> rps
  taskset -c 1 wrk -t1 -c "$CONNS" -d "${SECONDS_PER_RUN}s" -H "Host: $1.test" "http://$ip:$port/" |
    awk '/Requests\/sec/ {print $2}'
}
SECONDS_PER_RUN=2 latency plain >/dev/null; SECONDS_PER_RUN=2 latency compared >/dev/null
echo "rate=$RATE/s ${SECONDS_PER_RUN}s x $ROUNDS rounds; body $(wc -c <"$work/up/primary.json") bytes, one field differs"
: >"$work/results"
counters() { # -> "compared shed"
  curl -sf "$admin/api/v1/diffs" | python3 -c 'import json,sys; c=json.load(sys.stdin)["comparisons"][0]; print(c["compared"], c["shed"])'
}
for r in $(seq "$ROUNDS"); do
  for host in plain compared; do
    before=$(counters)
    line=$(latency $host)
    after=$(counters)
    echo "round $r latency $host $line $(python3 -c "b='$before'.split(); a='$after'.split(); print(int(a[0])-int(b[0]), int(a[1])-int(b[1]))")" |
      tee -a "$work/results"
  done
  for host in compared plain; do
    echo "round $r throughput $host $(throughput $host)" | tee -a "$work/results"
  done
done
curl -sf "$admin/api/v1/diffs" >"$work/diffs.json"
python3 - "$work/results" "$work/diffs.json" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(kind, host, i): return statistics.median(float(r[i]) for r in rows if r[2] == kind and r[3] == host)
p99p, p99c = med("latency", "plain", 5), med("latency", "compared", 5)
p50p, p50c = med("latency", "plain", 4), med("latency", "compared", 4)
tp, tc = med("throughput", "plain", 4), med("throughput", "compared", 4)
print(f"median p50: plain {p50p:.3f} ms, compared {p50c:.3f} ms")
print(f"median p99: plain {p99p:.3f} ms, compared {p99c:.3f} ms ({p99c/p99p:.2f}x; goal <= 1.05x)")
print(f"median throughput: plain {tp:.0f} req/s, compared {tc:.0f} req/s ({tc/tp:.2f}x; goal >= 0.90x)")
c = json.load(open(sys.argv[2]))["comparisons"][0]
lat = [r for r in rows if r[2] == "latency" and r[3] == "compared"]
print(f"at {lat[0][6]} req/s: compared {sum(int(r[8]) for r in lat)}, shed {sum(int(r[9]) for r in lat)} (goal: 0 shed)")
print(f"comparison totals: compared {c['compared']}, regressions {c['regressions']}, noise {c['noise']}, shed {c['shed']} (shed while saturated by wrk)")
PY
