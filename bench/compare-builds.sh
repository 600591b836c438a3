#!/usr/bin/env bash
# Two torii builds side by side in one proxybench run: rounds interleaved (A B A B ...), medians
# of CPU per request and throughput, and user-space instructions per request under callgrind
# (repeatable on this noisy machine). For "no regression" checks of a change: build the old
# commit's release binary somewhere, then
#   bench/compare-builds.sh /path/to/old/torii [NEW_BIN] [proxybench options...]
# NEW_BIN defaults to this checkout's release build. Default options: scenarios h1,h2c, 5 rounds
# of 8 s, nginx beside them as the reference, callgrind over 20,000 requests.
# Needs: apt-get install -y nginx libnginx-mod-http-echo haproxy wrk nghttp2-client valgrind
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: bench/compare-builds.sh OLD_BIN [NEW_BIN] [proxybench options...]}
shift
if [ $# -gt 0 ] && [ -x "$1" ]; then
  new=$1
  shift
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
  cargo build --release -p torii
  new=$CARGO_TARGET_DIR/release/torii
fi
shared=${TORII_SHARED_DIR:-../shared}
if [ $# -eq 0 ]; then
  set -- --peers nginx --scenarios h1,h2c --rounds 5 --duration 8 --idle-conns 0 --ir-requests 20000
fi
adapter="$PWD/bench/torii-adapter"
exec python3 "$shared/bench/proxybench" "$@" \
  --proxy torii-before="exec $adapter $old {listen_port} {upstream_port} {threads} {config_dir}" \
  --proxy torii-after="exec $adapter $new {listen_port} {upstream_port} {threads} {config_dir}"
