#!/usr/bin/env bash
# User-space instructions per request (callgrind) of one or more torii builds, HTTP/1.1
# keep-alive (h2load --h1 -c10) and h2c (h2load -c10 -m10), through the proxybench adapter's
# config (one route to an nginx upstream, 100 other routes). Repeatable on this noisy machine,
# unlike CPU time: use it to check a change for regressions (build the old commit's release
# binary somewhere first).
#   bench/callgrind.sh OLD_BIN NEW_BIN ...     (REQUESTS=20000, KEEP=dir keeps callgrind.out)
# Needs valgrind, nginx, h2load (nghttp2-client), curl. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${REQUESTS:-20000}
work=$(mktemp -d /tmp/torii-callgrind.XXXXXX)
upstream=18899 port=18800
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  pkill -f "callgrind-out-file=$work/" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$work"/cg-* "$KEEP"/ 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/nginx.conf" <<NGINX
worker_processes 1; daemon on; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$upstream;
  location / { return 200 "0123456789012345678901234567890123456789012345678901234567890123"; } } }
NGINX
nginx -c "$work/nginx.conf"
sed 's|^exec "\$bin"|exec valgrind --tool=callgrind -q --instr-atstart=no --callgrind-out-file="$CG_OUT" "$bin"|' \
  bench/torii-adapter >"$work/adapter"
chmod +x "$work/adapter"
printf '%-12s %-6s %12s\n' build proto Ir/request
n=0
for bin in "$@"; do
  n=$((n + 1))
  for proto in h1 h2c; do
    port=$((port + 2))
    out="$work/cg-$n-$proto.out"
    CG_OUT=$out ADMIN_PORT=$((port + 1)) "$work/adapter" "$bin" $port $upstream 1 "$work/cfg-$n-$proto" \
      >"$work/torii-$n-$proto.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.3; done
    load=(h2load -c10 -m10)
    [ $proto = h1 ] && load=(h2load --h1 -c10)
    "${load[@]}" -n2000 "http://127.0.0.1:$port/" >/dev/null
    callgrind_control -i on "$pid" >/dev/null 2>&1 || callgrind_control -i on >/dev/null
    "${load[@]}" -n"$requests" "http://127.0.0.1:$port/" | grep -q "$requests succeeded" \
      || { echo "$bin $proto: not every request succeeded" >&2; exit 1; }
    callgrind_control -i off >/dev/null 2>&1
    kill -INT $pid; wait $pid 2>/dev/null || true
    total=$(callgrind_annotate --auto=no "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
    printf '%-12s %-6s %12d   %s\n' "#$n" $proto $((total / requests)) "$bin"
  done
done
