#!/usr/bin/env python3
"""Failure injection and health watch for bench/lb-failover.sh (python3 stdlib only).

Waits --at seconds, runs the failure action (--signal SIG --pid PID, and/or --cmd 'shell
command'), then polls torii's GET /api/v1/status every --poll seconds until --until seconds
after start, and prints one JSON object: when the action ran, when --key first turned
unhealthy in the status (and its reason, ejected flag), when the pool's other origins changed.
With --resume-at it undoes the failure then (--resume-signal CONT, --resume-cmd 'shell
command'), so requests that hung on the origin complete late and the load generator sees
them (stock wrk counts no timeout for a request that never completes).
Times are monotonic seconds relative to the action; action_unix is its wall-clock time.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request


def status(admin, timeout=0.5):
    with urllib.request.urlopen(f"http://{admin}/api/v1/status", timeout=timeout) as r:
        return json.load(r)


def origin(doc, key):
    for o in doc.get("origins") or []:
        if o.get("key") == key:
            return o
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admin", required=True)
    ap.add_argument("--key", required=True, help="origin key, e.g. default/web/b")
    ap.add_argument("--other", default="", help="key of an origin that must stay healthy")
    ap.add_argument("--at", type=float, default=5.0)
    ap.add_argument("--until", type=float, default=20.0)
    ap.add_argument("--poll", type=float, default=0.05)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--signal", default="")
    ap.add_argument("--cmd", default="")
    ap.add_argument("--resume-at", type=float, default=0.0,
                    help="seconds after start to undo the failure (0: never)")
    ap.add_argument("--resume-signal", default="")
    ap.add_argument("--resume-cmd", default="")
    a = ap.parse_args()

    t_start = time.monotonic()
    # Before the action: the origin must be known and healthy.
    before = None
    while time.monotonic() - t_start < a.at:
        try:
            before = origin(status(a.admin), a.key)
        except OSError:
            pass
        time.sleep(a.poll)
    t0 = time.monotonic()
    action_unix = time.time()
    if a.cmd:
        subprocess.run(a.cmd, shell=True, check=True)
    if a.signal:
        os.kill(a.pid, getattr(signal, "SIG" + a.signal.upper()))
    out = dict(key=a.key, healthy_before=before.get("healthy") if before else None,
               down_after_s=None, down_reason=None, down_ejected=None,
               other_flaps=0, status_errors=0, polls=0, max_poll_gap_s=0.0,
               action_unix=round(action_unix, 3), resumed_after_s=None)
    last_other = True
    last_poll = time.monotonic()
    while time.monotonic() - t_start < a.until:
        if a.resume_at and out["resumed_after_s"] is None and time.monotonic() - t_start >= a.resume_at:
            if a.resume_signal:
                os.kill(a.pid, getattr(signal, "SIG" + a.resume_signal.upper()))
            if a.resume_cmd:
                subprocess.run(a.resume_cmd, shell=True, check=True)
            out["resumed_after_s"] = round(time.monotonic() - t0, 3)
        try:
            doc = status(a.admin)
        except OSError:
            out["status_errors"] += 1
            time.sleep(a.poll)
            continue
        now = time.monotonic()
        out["polls"] += 1
        out["max_poll_gap_s"] = round(max(out["max_poll_gap_s"], now - last_poll), 3)
        last_poll = now
        o = origin(doc, a.key)
        if o is not None and o.get("healthy") is False and out["down_after_s"] is None:
            out["down_after_s"] = round(now - t0, 3)
            out["down_reason"] = o.get("reason")
            out["down_ejected"] = o.get("ejected")
            out["down_status"] = o
        if a.other:
            other = origin(doc, a.other)
            healthy = bool(other and other.get("healthy"))
            if healthy != last_other:
                out["other_flaps"] += 1
                out.setdefault("other_events", []).append(
                    dict(t=round(now - t0, 3), healthy=healthy, reason=(other or {}).get("reason")))
                last_other = healthy
        time.sleep(max(0.0, a.poll - (time.monotonic() - now)))
    try:
        out["final"] = origin(status(a.admin), a.key)
    except OSError:
        pass
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
