#!/usr/bin/env python3
"""Kubernetes mode at 10,000 HTTPRoutes, against a real kube-apiserver (scripts/kube-env).

One torii (`serve --kubernetes`, release build) watches an API server holding a GatewayClass,
a Gateway with one HTTP listener, and a Service whose FQDN EndpointSlice names an nginx on
127.0.0.1 (`upstream.localhost`). Then:

1. ROUTES HTTPRoutes are created through the API (POSTs from WRITERS threads on kept
   connections), each with its own hostname `r<i>.bench.test`. Measured: the time from the
   last create's answer until a sample of SAMPLE routes (the last created among them) all
   answer 200 through torii, then every route is checked once; torii's RSS.
2. EDITS edits, one at a time: a random route gets one more hostname `e<n>.bench.test` (a
   JSON merge patch); measured from just before the PATCH is sent until a request for the new
   hostname is answered 200 (probes every 2 ms). p50, p99, max.

usage: bench/kube-routes.sh (ROUTES=10000 EDITS=100 SAMPLE=200 WRITERS=16)
"""

import http.client
import json
import os
import random
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

ROUTES = int(os.environ.get("ROUTES", "10000"))
EDITS = int(os.environ.get("EDITS", "100"))
SAMPLE = int(os.environ.get("SAMPLE", "200"))
WRITERS = int(os.environ.get("WRITERS", "16"))
LIMIT = 300  # seconds any phase may take


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


class Api:
    """Plain HTTPS requests to the API server as kube-env's admin (client certificate)."""

    def __init__(self, kube_dir):
        state = dict(
            line.split("=", 1) for line in open(f"{kube_dir}/state").read().split()
        )
        self.host, self.port = state["IP"], int(state["API_PORT"])
        self.context = ssl.create_default_context(cafile=f"{kube_dir}/pki/ca.crt")
        self.context.load_cert_chain(f"{kube_dir}/pki/admin.crt", f"{kube_dir}/pki/admin.key")
        self.local = threading.local()

    def request_text(self, method, path):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
        conn.request(method, path)
        response = conn.getresponse()
        data = response.read().decode()
        conn.close()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status}")
        return data

    def request(self, method, path, body=None, content_type="application/json"):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
            self.local.conn = conn
        headers = {"Content-Type": content_type} if body is not None else {}
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            raise
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None


def route(i, hostnames):
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": f"r{i}", "namespace": "default"},
        "spec": {
            "parentRefs": [{"name": "bench"}],
            "hostnames": hostnames,
            "rules": [{"backendRefs": [{"name": "upstream", "port": 80}]}],
        },
    }


ROUTES_PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"


def status(ip, port, host, timeout=2.0):
    """The status torii answers for GET / with this Host (0 when the request fails)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            head = sock.recv(64)
        match = re.match(rb"HTTP/1\.1 (\d{3})", head)
        return int(match.group(1)) if match else 0
    except OSError:
        return 0


def rss_kib(pid, field="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def accepted_count(api):
    """How many HTTPRoutes have Accepted=True from torii for the current generation."""
    routes = api.request("GET", ROUTES_PATH)["items"]
    count = 0
    for r in routes:
        generation = r["metadata"].get("generation")
        for parent in (r.get("status") or {}).get("parents", []):
            if parent.get("controllerName") != "torii.dev/gateway-controller":
                continue
            if any(c.get("type") == "Accepted" and c.get("status") == "True"
                   and c.get("observedGeneration") == generation
                   for c in parent.get("conditions", [])):
                count += 1
                break
    return count


def status_writes(api):
    """Successful status PUTs the API server has served (its apiserver_request_total)."""
    text = api.request_text("GET", "/metrics")
    total = 0
    for line in text.splitlines():
        if line.startswith("apiserver_request_total{") and 'subresource="status"' in line \
                and 'verb="PUT"' in line and 'code="200"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    kube_dir, ip, port, torii_pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    api = Api(kube_dir)

    # 1. ROUTES creates.
    log(f"creating {ROUTES} HTTPRoutes with {WRITERS} writers")
    todo = list(range(ROUTES))
    lock = threading.Lock()
    errors = []

    def writer():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop(0)
            for attempt in range(5):
                try:
                    api.request("POST", ROUTES_PATH, route(i, [f"r{i}.bench.test"]))
                    break
                except Exception as error:  # noqa: BLE001 - retried, then reported
                    if attempt == 4:
                        errors.append(f"r{i}: {error}")
                    time.sleep(0.2)

    started = time.monotonic()
    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last_create = time.monotonic()
    if errors:
        sys.exit(f"{len(errors)} creates failed, e.g. {errors[:3]}")
    log(f"created in {last_create - started:.1f} s ({ROUTES / (last_create - started):.0f}/s)")

    sample = random.sample(range(ROUTES - 10), min(SAMPLE, ROUTES - 10)) + list(range(ROUTES - 10, ROUTES))
    waiting = set(sample)
    while waiting and time.monotonic() - last_create < LIMIT:
        waiting = {i for i in waiting if status(ip, port, f"r{i}.bench.test") != 200}
        if waiting:
            time.sleep(0.01)
    serving = time.monotonic()
    if waiting:
        sys.exit(f"{len(waiting)} sampled routes not serving after {LIMIT} s")
    all_serving = serving - last_create
    rss_after_creates = rss_kib(torii_pid)
    not_serving = [i for i in range(ROUTES) if status(ip, port, f"r{i}.bench.test") != 200]
    if not_serving:
        sys.exit(f"{len(not_serving)} routes not serving, e.g. {not_serving[:5]}")
    log(f"all {ROUTES} routes serve (checked one by one)")

    # Status: every route Accepted by torii (the leader's writer), and the writes it took.
    accepted = 0
    while time.monotonic() - last_create < LIMIT:
        accepted = accepted_count(api)
        if accepted == ROUTES:
            break
        time.sleep(0.5)
    all_accepted = time.monotonic() - last_create
    if accepted != ROUTES:
        sys.exit(f"only {accepted} of {ROUTES} routes Accepted after {LIMIT} s")
    time.sleep(5)
    writes_settled = status_writes(api)
    time.sleep(5)
    writes_idle = status_writes(api) - writes_settled
    log(f"all {ROUTES} routes Accepted {all_accepted:.1f} s after the last create; "
        f"{writes_settled} status writes, {writes_idle} in 5 s with nothing changing")

    # 2. EDITS edits, one at a time.
    latencies = []
    for n in range(EDITS):
        i = random.randrange(ROUTES)
        host = f"e{n}.bench.test"
        if status(ip, port, host) != 404:
            sys.exit(f"{host} answered before its edit")
        patch = {"spec": {"hostnames": [f"r{i}.bench.test", host]}}
        t0 = time.monotonic()
        api.request("PATCH", f"{ROUTES_PATH}/r{i}", patch, "application/merge-patch+json")
        while status(ip, port, host) != 200:
            if time.monotonic() - t0 > LIMIT:
                sys.exit(f"edit {n} never reached traffic")
            time.sleep(0.002)
        latencies.append(time.monotonic() - t0)
    time.sleep(1)
    result = {
        "routes": ROUTES,
        "create_seconds": round(last_create - started, 1),
        "all_serving_after_last_create_s": round(all_serving, 2),
        "all_accepted_after_last_create_s": round(all_accepted, 1),
        "status_writes_after_creates": writes_settled,
        "status_writes_idle_5s": writes_idle,
        "torii_rss_mib_after_creates": round(rss_after_creates / 1024, 1),
        "torii_rss_mib_end": round(rss_kib(torii_pid) / 1024, 1),
        "torii_peak_rss_mib": round(rss_kib(torii_pid, "VmHWM") / 1024, 1),
        "edits": EDITS,
        "edit_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "edit_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "edit_max_ms": round(max(latencies) * 1000, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
