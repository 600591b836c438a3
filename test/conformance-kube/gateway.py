#!/usr/bin/env python3
"""The `--gateway-cmd` of the conformance harness in Kubernetes mode (scripts/conformance-kube).

The harness writes each test's objects into a directory and runs its gateway command with that
directory. This adapter puts the directory's objects into a real kube-apiserver instead of
handing them to torii as files, then runs `torii serve --kubernetes` against it:

1. Reads the directory's YAML (the harness's block-YAML subset, parsed here: stdlib only).
2. Rewrites what a real API server refuses: the harness's IPv4 EndpointSlices point at
   127.0.0.1, which is not a valid endpoint address; each becomes an FQDN slice naming its pod
   `<pod>.localhost` (RFC 6761 section 6.3; torii resolves names under `localhost.` to the
   loopback address itself) with the same ports.
3. Server-side applies (kubectl) the objects that differ from what it applied before, and
   deletes the objects of the previous test that this directory does not hold. What was
   applied is kept in STATE/applied.json, so the API server is never read to find out.
4. Starts torii, and unless --no-status-checks, waits until the status the upstream test
   checks is there (GatewayClass Accepted, every Gateway Accepted and Programmed with an
   address, and the test's own route/Gateway checks from cases.json); a check that does not
   hold within --status-timeout ends the adapter with status 3 and the failed checks on
   stderr, which the harness reports as the reason of the test's cases.
5. Only then answers the harness's readiness URL (--ready-addr, /readyz, 200), and waits for
   torii, forwarding SIGTERM/SIGINT to it; it exits with torii's status.

Timings are appended to STATE/timings.tsv: directory, objects applied, objects deleted, seconds
for the apply, for torii to be ready, for the status checks, from start to ready in all, and
the exit status.
"""

import argparse
import hashlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

CONTROLLER = 'torii.dev/gateway-controller'
GATEWAY_GROUP = 'gateway.networking.k8s.io'
# Apply order: what others refer to (or live in) first.
KIND_ORDER = ['Namespace', 'GatewayClass', 'Secret', 'Service', 'EndpointSlice', 'ReferenceGrant',
              'Gateway', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute']


def log(msg):
    print(f'conformance-kube: {msg}', file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# YAML: the subset gwapi_harness.dump_yaml writes (block mappings and sequences, scalars as
# JSON, null/true/false, {} and []), plus '#' comment lines and '---' separators.

PLAIN_KEY = re.compile(r'([A-Za-z_][A-Za-z0-9_./-]*):(?: |$)')


class YamlError(ValueError):
    pass


def parse_yaml_docs(text, where):
    docs = []
    for chunk in re.split(r'^---[ \t]*$', text, flags=re.M):
        lines = [ln.rstrip() for ln in chunk.split('\n')]
        lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith('#')]
        if not lines:
            continue
        try:
            value, i = _block(lines, 0, _indent(lines[0]))
        except (YamlError, ValueError) as e:
            raise YamlError(f'{where}: {e}') from None
        if i != len(lines):
            raise YamlError(f'{where}: unexpected line {lines[i]!r}')
        if value is not None:
            docs.append(value)
    return docs


def _indent(line):
    return len(line) - len(line.lstrip(' '))


def _scalar(s):
    s = s.strip()
    if s in ('null', '~', ''):
        return None
    if s == 'true':
        return True
    if s == 'false':
        return False
    if s == '{}':
        return {}
    if s == '[]':
        return []
    if s.startswith('"'):
        return json.loads(s)
    if re.fullmatch(r'-?\d+(\.\d+)?([eE][-+]?\d+)?', s):
        return json.loads(s)
    return s


def _key(rest):
    """(key, value text) when `rest` is a mapping entry, else None."""
    if rest.startswith('"'):
        key, end = json.JSONDecoder().raw_decode(rest)
        tail = rest[end:]
        if tail == ':' or tail.startswith(': '):
            return key, tail[1:].strip()
        return None
    m = PLAIN_KEY.match(rest)
    if m:
        return m.group(1), rest[m.end():].strip()
    return None


def _block(lines, i, ind):
    rest = lines[i][ind:]
    if rest == '-' or rest.startswith('- '):
        out = []
        while i < len(lines) and _indent(lines[i]) == ind and (lines[i][ind:] == '-' or lines[i][ind:].startswith('- ')):
            item = lines[i][ind + 2:]
            if not item.strip():
                raise YamlError(f'empty sequence item {lines[i]!r}')
            if item.startswith('- ') or _key(item):
                lines[i] = ' ' * (ind + 2) + item
                value, i = _block(lines, i, ind + 2)
            else:
                value, i = _scalar(item), i + 1
            out.append(value)
        return out, i
    if _key(rest) is None:
        return _scalar(rest), i + 1
    out = {}
    while i < len(lines) and _indent(lines[i]) == ind:
        kv = _key(lines[i][ind:])
        if kv is None:
            break
        key, text = kv
        if text:
            out[key] = _scalar(text)
            i += 1
        elif i + 1 < len(lines) and _indent(lines[i + 1]) > ind:
            out[key], i = _block(lines, i + 1, _indent(lines[i + 1]))
        else:
            out[key], i = None, i + 1
    if i < len(lines) and _indent(lines[i]) > ind:
        raise YamlError(f'bad indentation at {lines[i]!r}')
    return out, i


def read_dir(path):
    objs = []
    for name in sorted(os.listdir(path)):
        if name.endswith(('.yaml', '.yml')):
            with open(os.path.join(path, name), encoding='utf-8') as fh:
                objs += [o for o in parse_yaml_docs(fh.read(), name) if isinstance(o, dict) and o.get('kind')]
    return objs


# ---------------------------------------------------------------------------------------------
# objects

def obj_key(o):
    m = o['metadata']
    return f"{o['apiVersion']}|{o['kind']}|{m.get('namespace', '')}|{m['name']}"


def key_ref(key):
    api, kind, ns, name = key.split('|')
    return api, kind, ns, name


def to_fqdn_slice(o):
    """An IPv4 EndpointSlice with loopback addresses as an FQDN slice of `<pod>.localhost`."""
    if o.get('addressType') != 'IPv4':
        return o
    eps = o.get('endpoints') or []
    if not any(a.startswith('127.') for ep in eps for a in ep.get('addresses', [])):
        return o
    o = json.loads(json.dumps(o))
    for ep in o['endpoints']:
        ref = ep.get('targetRef') or {}
        if ref.get('kind') != 'Pod' or not ref.get('name'):
            raise ValueError(f"EndpointSlice {o['metadata'].get('namespace')}/{o['metadata']['name']}: "
                             'a loopback endpoint without a Pod targetRef cannot be named')
        ep['addresses'] = [f"{ref['name']}.localhost"]
    o['addressType'] = 'FQDN'
    return o


def convert(objs):
    out = []
    for o in objs:
        if o['kind'] == 'EndpointSlice':
            o = to_fqdn_slice(o)
            o.setdefault('endpoints', [])
            if o['endpoints'] is None:
                o['endpoints'] = []
        out.append(o)
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    out.sort(key=lambda o: rank.get(o['kind'], len(KIND_ORDER)))
    return out


def digest(o):
    return hashlib.sha256(json.dumps(o, sort_keys=True).encode()).hexdigest()


class Kubectl:
    def __init__(self, binary, kubeconfig, state):
        self.binary, self.kubeconfig, self.state = binary, kubeconfig, state

    def run(self, *args, input=None, timeout=60):
        cmd = [self.binary, '--kubeconfig', self.kubeconfig, *args]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args[:3])} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
        return p.stdout

    def apply(self, objs):
        path = os.path.join(self.state, 'apply.json')
        with open(path, 'w') as fh:
            json.dump({'apiVersion': 'v1', 'kind': 'List', 'items': objs}, fh)
        self.run('apply', '--server-side', '--force-conflicts', '--field-manager', 'conformance-kube', '-f', path)

    def delete(self, keys):
        items = []
        for k in keys:
            api, kind, ns, name = key_ref(k)
            meta = {'name': name}
            if ns:
                meta['namespace'] = ns
            items.append({'apiVersion': api, 'kind': kind, 'metadata': meta})
        path = os.path.join(self.state, 'delete.json')
        with open(path, 'w') as fh:
            json.dump({'apiVersion': 'v1', 'kind': 'List', 'items': items}, fh)
        self.run('delete', '--ignore-not-found', '--wait=false', '-f', path)

    def get(self, kinds):
        return json.loads(self.run('get', kinds, '-A', '-o', 'json', timeout=20))['items']


def sync(kubectl, state_dir, objs):
    """Makes the API server hold exactly `objs` (of the ones this adapter manages)."""
    path = os.path.join(state_dir, 'applied.json')
    try:
        with open(path) as fh:
            applied = json.load(fh)
    except FileNotFoundError:
        applied = {}
    want = {obj_key(o): o for o in objs}
    stale = [k for k in applied if k not in want and key_ref(k)[1] != 'Namespace']
    # An EndpointSlice's addressType cannot change: such a slice is deleted and created again.
    retyped = [k for k, o in want.items() if k in applied and o['kind'] == 'EndpointSlice'
               and applied[k].get('addressType') != o.get('addressType')]
    if stale or retyped:
        kubectl.delete(stale + retyped)
        for k in stale + retyped:
            applied.pop(k, None)
        save(path, applied)
    changed = [o for k, o in want.items() if k not in applied or applied[k]['digest'] != digest(o)]
    if changed:
        kubectl.apply(changed)
        for o in changed:
            applied[obj_key(o)] = {'digest': digest(o), 'addressType': o.get('addressType')}
        save(path, applied)
    return len(changed), len(stale)


def save(path, data):
    with open(path + '.tmp', 'w') as fh:
        json.dump(data, fh)
    os.replace(path + '.tmp', path)


# ---------------------------------------------------------------------------------------------
# status checks (after sigs.k8s.io/gateway-api conformance/utils/kubernetes/helpers.go)

def nn(o):
    return f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"


def cond(conds, ctype):
    return next((c for c in conds or [] if c.get('type') == ctype), None)


def check_cond(what, conds, ctype, status='True', reason=None, generation=None):
    c = cond(conds, ctype)
    if c is None:
        return f'{what}: no {ctype} condition'
    if c.get('status') != status:
        return f"{what}: {ctype} is {c.get('status')} ({c.get('reason')}: {c.get('message', '')}), want {status}"
    if reason and c.get('reason') != reason:
        return f"{what}: {ctype} reason {c.get('reason')}, want {reason}"
    if generation is not None and c.get('observedGeneration') != generation:
        return f"{what}: {ctype} observedGeneration {c.get('observedGeneration')}, generation {generation}"
    return None


def route_parents(route, gateway):
    """The route's status.parents entries of torii's controller for Gateway `ns/name`."""
    gns, gname = gateway.split('/')
    rns = route['metadata'].get('namespace', 'default')
    out = []
    for p in (route.get('status') or {}).get('parents') or []:
        ref = p.get('parentRef') or {}
        if p.get('controllerName') != CONTROLLER:
            continue
        if ref.get('group', GATEWAY_GROUP) != GATEWAY_GROUP or ref.get('kind', 'Gateway') != 'Gateway':
            continue
        if ref.get('name') == gname and ref.get('namespace', rns) == gns:
            out.append(p)
    return out


def parse_ref_pair(desc):
    """`Fn(ns/route, ns/gateway[, ...])` -> (route, gateway)."""
    m = re.match(r'\w+\(([a-z0-9.-]+/[a-z0-9.-]+)(?:, ([a-z0-9.-]+/[a-z0-9.-]+))?', desc)
    if not m:
        raise ValueError(f'cannot read {desc!r}')
    return m.group(1), m.group(2)


def parse_conditions(text):
    out = []
    for m in re.finditer(r'\{Type: "(\w+)", Status: metav1\.Condition(True|False|Unknown)(?:, Reason: "(\w*)")?\}', text):
        out.append((m.group(1), m.group(2), m.group(3) or None))
    return out


class Checks:
    """The status checks of one gateway start: general ones plus the test's from cases.json."""

    def __init__(self, test, phase):
        self.test, self.phase = test, phase
        self.unchecked = []

    def events(self):
        if not self.test:
            return []
        out, phase = [], 0
        for e in self.test['events']:
            if e['kind'] == 'mutate':
                if e['op'] != 'delete':
                    break  # the harness runs nothing after other mutations
                phase += 1
            elif e['kind'] == 'status' and phase == self.phase:
                out.append(e)
        return out

    def failures(self, objs, applied_objs):
        """Everything that does not hold now (empty: all checks pass)."""
        byk = {}
        for o in objs:
            byk.setdefault(o['kind'], {})[nn(o)] = o
        classes = byk.get('GatewayClass', {})
        gateways = byk.get('Gateway', {})
        routes = byk.get('HTTPRoute', {})
        fails = []
        # Suite set-up: the GatewayClass is Accepted (GWCMustHaveAcceptedConditionTrue).
        for o in applied_objs:
            if o['kind'] == 'GatewayClass':
                gc = classes.get(nn(o))
                if gc is None:
                    fails.append(f'GatewayClass {o["metadata"]["name"]}: not found')
                    continue
                fails += filter(None, [check_cond(f"GatewayClass {gc['metadata']['name']}",
                                                  (gc.get('status') or {}).get('conditions'), 'Accepted',
                                                  generation=gc['metadata'].get('generation'))])
        # Every Gateway applied: Accepted and Programmed for its generation, with an address
        # (WaitForGatewayAddress, GatewayMustHaveLatestConditions, NamespacesMustBeReady).
        for o in applied_objs:
            if o['kind'] == 'Gateway':
                fails += self.gateway_ready(gateways.get(nn(o)), nn(o))
        for e in self.events():
            fails += self.event(e, gateways, routes)
        return fails

    def gateway_ready(self, gw, name):
        if gw is None:
            return [f'Gateway {name}: not found']
        st, gen = gw.get('status') or {}, gw['metadata'].get('generation')
        out = [check_cond(f'Gateway {name}', st.get('conditions'), t, generation=gen) for t in ('Accepted', 'Programmed')]
        if not st.get('addresses'):
            out.append(f'Gateway {name}: no status.addresses')
        return [f for f in out if f]

    def event(self, e, gateways, routes):
        fn, where = e['fn'], f"[{e['fn']}, upstream line {e['line']}]"

        def route(name):
            r = routes.get(name)
            if r is None:
                raise LookupError(f'HTTPRoute {name}: not found {where}')
            return r

        try:
            if fn == 'NamespacesMustBeReady':
                return []  # every Gateway is checked above; echo pods are up before any test
            if fn == 'GatewayAndHTTPRoutesMustBeAccepted':
                out = []
                gw = gateways.get(e['gateway'])
                if gw is None:
                    return [f"Gateway {e['gateway']}: not found {where}"]
                for ls in (gw.get('status') or {}).get('listeners') or []:
                    for t in ('Accepted', 'ResolvedRefs', 'Programmed'):
                        f = check_cond(f"Gateway {e['gateway']} listener {ls.get('name')}", ls.get('conditions'), t)
                        if f:
                            out.append(f'{f} {where}')
                if not (gw.get('status') or {}).get('listeners'):
                    out.append(f"Gateway {e['gateway']}: no status.listeners {where}")
                for rn in e['routes']:
                    out += self.route_cond(route(rn), rn, e['gateway'], 'Accepted', 'True', None, where)
                return out
            if fn == 'HTTPRouteMustHaveResolvedRefsConditionsTrue':
                rn, gn = parse_ref_pair(e['desc'])
                return self.route_cond(route(rn), rn, gn, 'ResolvedRefs', 'True', None, where)
            if fn == 'HTTPRouteMustHaveCondition':
                rn, gn = parse_ref_pair(e['desc'])
                (ctype, status, reason), = parse_conditions(e['desc'])
                return self.route_cond(route(rn), rn, gn, ctype, status, reason, where)
            if fn == 'HTTPRouteMustHaveNoAcceptedParents':
                rn, _ = parse_ref_pair(e['desc'])
                ps = [p for p in ((route(rn).get('status') or {}).get('parents') or [])
                      if p.get('controllerName') == CONTROLLER]
                bad = [p for p in ps if (cond(p.get('conditions'), 'Accepted') or {}).get('status') != 'False']
                return [f'HTTPRoute {rn}: a parent is not Accepted=False: {json.dumps(p["parentRef"])} {where}'
                        for p in bad]
            if fn == 'GatewayMustHaveZeroRoutes':
                gn, _ = parse_ref_pair(e['desc'])
                gw = gateways.get(gn)
                if gw is None:
                    return [f'Gateway {gn}: not found {where}']
                return [f"Gateway {gn} listener {ls.get('name')}: attachedRoutes {ls.get('attachedRoutes')}, want 0 {where}"
                        for ls in (gw.get('status') or {}).get('listeners') or [] if ls.get('attachedRoutes')]
            if fn == 'HTTPRouteMustHaveLatestConditions':
                rn, _ = parse_ref_pair(e['desc'])
                r = route(rn)
                gen = r['metadata'].get('generation')
                return [f"HTTPRoute {rn}: {c.get('type')} observedGeneration {c.get('observedGeneration')}, generation {gen} {where}"
                        for p in (r.get('status') or {}).get('parents') or [] if p.get('controllerName') == CONTROLLER
                        for c in p.get('conditions') or [] if c.get('observedGeneration') != gen]
            if fn == 'HTTPRouteMustHaveParents':
                rn, _ = parse_ref_pair(e['desc'])
                gname = re.search(r'Kind: "Gateway", Namespace: "([a-z0-9-]+)", Name: "([a-z0-9-]+)"', e['desc'])
                conds = parse_conditions(e['desc'])
                if not gname or len(conds) != 1:
                    raise ValueError('cannot read the expected parents')
                (ctype, status, reason), = conds
                return self.route_cond(route(rn), rn, f'{gname.group(1)}/{gname.group(2)}', ctype, status, reason, where)
        except LookupError as ex:
            return [str(ex)]
        except ValueError as ex:
            self.unchecked.append(f'{e["desc"][:120]}: {ex}')
            return []
        self.unchecked.append(f"{e['desc'][:120]}: not ported")
        return []

    def route_cond(self, r, rn, gateway, ctype, status, reason, where):
        ps = route_parents(r, gateway)
        if not ps:
            return [f'HTTPRoute {rn}: no status.parents entry of {CONTROLLER} for Gateway {gateway} {where}']
        gen = r['metadata'].get('generation')
        out = []
        for p in ps:
            f = check_cond(f"HTTPRoute {rn} parent {gateway}/{(p.get('parentRef') or {}).get('sectionName', '')}",
                           p.get('conditions'), ctype, status, reason, gen)
            if f:
                out.append(f'{f} {where}')
        return out


def phase_of(test, objs):
    """Which part of the test the directory is for: the number of its delete mutations whose
    object the directory no longer holds (the harness writes a new directory after each)."""
    if not test:
        return 0
    have = {(o['kind'], o['metadata'].get('namespace', ''), o['metadata']['name']) for o in objs}
    phase = 0
    for e in test['events']:
        if e['kind'] == 'mutate' and e['op'] == 'delete':
            o = e['object']
            meta = o.get('ObjectMeta') or {}
            if (o['_type'].split('.')[-1], meta.get('Namespace', ''), meta.get('Name')) in have:
                break
            phase += 1
    return phase


def find_test(cases, dirpath):
    """The test a directory is for: the harness names it `<test name>-<version>`."""
    base = os.path.basename(os.path.normpath(dirpath))
    name = base.rsplit('-', 1)[0]
    return next((t for t in cases['tests'] if t['name'] == name), None)


# ---------------------------------------------------------------------------------------------
# torii

def http_ok(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError):
        return False


class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path.startswith('/readyz') else 404)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *_):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('dir', help='the resource directory the harness wrote')
    ap.add_argument('--state', required=True, help='directory kept across tests (applied.json, timings.tsv)')
    ap.add_argument('--kubeconfig', required=True)
    ap.add_argument('--kubectl', default='kubectl')
    ap.add_argument('--torii', required=True, help='the torii binary')
    ap.add_argument('--cases', help="the harness's cases.json (the test's status checks)")
    ap.add_argument('--ready-addr', default='127.0.0.1:9901', help='where /readyz answers once all is ready')
    ap.add_argument('--admin', default='127.0.0.1:9902', help="torii's own admin address")
    ap.add_argument('--no-status-checks', action='store_true')
    ap.add_argument('--status-timeout', type=float, default=20.0)
    args = ap.parse_args()

    t0 = time.time()
    os.makedirs(args.state, exist_ok=True)
    kubectl = Kubectl(args.kubectl, args.kubeconfig, args.state)
    try:
        desired = convert(read_dir(args.dir))
        applied, deleted = sync(kubectl, args.state, desired)
    except (YamlError, ValueError, RuntimeError, subprocess.TimeoutExpired) as ex:
        log(f'cannot apply {args.dir}: {ex}')
        return 2
    t_apply = time.time() - t0
    log(f'applied {applied} objects, deleted {deleted} in {t_apply:.2f}s')

    torii = [args.torii, 'serve', '--kubernetes', '--kubeconfig', args.kubeconfig,
             '--cache-dir', os.path.join(args.state, 'cache'), '--admin', args.admin]
    proc = subprocess.Popen(torii)
    stopping = []

    def forward(sig, _frame):
        stopping.append(sig)
        if proc.poll() is None:
            proc.send_signal(sig)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)

    times = {'torii': 0.0, 'status': 0.0, 'ready': 0.0}

    def finish(code):
        with open(os.path.join(args.state, 'timings.tsv'), 'a') as fh:
            fh.write(f"{os.path.basename(os.path.normpath(args.dir))}\t{applied}\t{deleted}\t{t_apply:.3f}\t"
                     f"{times['torii']:.3f}\t{times['status']:.3f}\t{times['ready']:.3f}\t{code}\n")
        return code

    # torii's own readiness first (bounded by the harness's --ready-timeout as well).
    while not http_ok(f'http://{args.admin}/readyz'):
        if proc.poll() is not None or stopping:
            return finish(proc.wait())
        time.sleep(0.1)

    t1 = time.time()
    times['torii'] = t1 - t0 - t_apply
    if not args.no_status_checks:
        cases = None
        if args.cases:
            with open(args.cases) as fh:
                cases = json.load(fh)
        raw = read_dir(args.dir)
        test = find_test(cases, args.dir) if cases else None
        checks = Checks(test, phase_of(test, raw))
        deadline, fails = time.time() + args.status_timeout, ['not checked yet']
        while fails and time.time() < deadline:
            if proc.poll() is not None or stopping:
                times['status'] = time.time() - t1
                return finish(proc.wait())
            try:
                got = kubectl.get('gatewayclasses,gateways,httproutes')
                checks.unchecked = []
                fails = checks.failures(got, desired)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as ex:
                fails = [f'reading status: {ex}']
            if fails:
                time.sleep(0.5)
        for u in checks.unchecked:
            log(f'status check not evaluated: {u}')
        if fails:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=4)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            # Last in the log: the harness reports the log's tail as the cases' reason.
            for f in fails:
                log(f'status check failed: {f}')
            log(f'{len(fails)} status checks failed after {args.status_timeout:.0f}s: ' + '; '.join(f[:160] for f in fails[:3]) +
                (f' (and {len(fails) - 3} more)' if len(fails) > 3 else ''))
            times['status'] = time.time() - t1
            return finish(3)
        log(f'status checks passed in {time.time() - t1:.2f}s')
    times['status'] = time.time() - t1
    times['ready'] = time.time() - t0

    host, port = args.ready_addr.rsplit(':', 1)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer((host, int(port)), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    code = proc.wait()
    server.shutdown()
    return finish(code)


if __name__ == '__main__':
    sys.exit(main())
