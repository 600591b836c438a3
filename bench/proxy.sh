#!/usr/bin/env bash
# Runs ../shared/bench/proxybench with torii (release build) beside nginx and the other peers.
# Usage: bench/proxy.sh [proxybench options...]
#   default: bench/proxy.sh --peers nginx --scenarios h1,h2c --rounds 3 --duration 5 --idle-conns 0 --ir-requests 0
# Needs: apt-get install -y nginx libnginx-mod-http-echo haproxy wrk nghttp2-client valgrind
# EXTRA_ROUTES (default 100) sets how many other routes the config holds.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/torii-target}
cargo build --release -p torii
bin=$CARGO_TARGET_DIR/release/torii
shared=${TORII_SHARED_DIR:-../shared}
if [ $# -eq 0 ]; then
  set -- --peers nginx --scenarios h1,h2c --rounds 3 --duration 5 --idle-conns 0 --ir-requests 0
fi
exec python3 "$shared/bench/proxybench" "$@" \
  --proxy torii="exec $PWD/bench/torii-adapter $bin {listen_port} {upstream_port} {threads} {config_dir}"
