#!/usr/bin/env python3
"""Unit tests of gateway.py (the Kubernetes-mode adapter of the conformance harness): its YAML
reader against the harness's own writer, the EndpointSlice rewrite, and the status checks on
objects shaped like what a status writer puts into the API server.

    python3 test/conformance-kube/test_gateway.py [-v]
"""

import copy
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gateway as g  # noqa: E402

HARNESS = os.environ.get('TORII_CONFORMANCE_DIR', os.path.join(HERE, '..', '..', '..', 'shared', 'conformance'))

GC = {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'GatewayClass', 'metadata': {'name': 'torii', 'generation': 1},
      'status': {'conditions': [{'type': 'Accepted', 'status': 'True', 'reason': 'Accepted', 'observedGeneration': 1}]}}


def gateway(name, attached=1, ns='infra', generation=2, accepted='True'):
    conds = [{'type': t, 'status': accepted if t == 'Accepted' else 'True', 'reason': t, 'observedGeneration': generation}
             for t in ('Accepted', 'Programmed')]
    ls = [{'name': 'http', 'attachedRoutes': attached,
           'conditions': [{'type': t, 'status': 'True', 'reason': t, 'observedGeneration': generation}
                          for t in ('Accepted', 'ResolvedRefs', 'Programmed')]}]
    return {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'Gateway',
            'metadata': {'name': name, 'namespace': ns, 'generation': generation},
            'status': {'addresses': [{'type': 'IPAddress', 'value': '127.0.1.1'}], 'conditions': conds, 'listeners': ls}}


def route(name, parent='gw', ns='infra', generation=1, accepted=('True', 'Accepted'), resolved=('True', 'ResolvedRefs'),
          controller=g.CONTROLLER, parent_ns=None):
    ref = {'group': 'gateway.networking.k8s.io', 'kind': 'Gateway', 'name': parent}
    if parent_ns:
        ref['namespace'] = parent_ns
    conds = [{'type': 'Accepted', 'status': accepted[0], 'reason': accepted[1], 'observedGeneration': generation},
             {'type': 'ResolvedRefs', 'status': resolved[0], 'reason': resolved[1], 'observedGeneration': generation}]
    return {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'HTTPRoute',
            'metadata': {'name': name, 'namespace': ns, 'generation': generation},
            'status': {'parents': [{'parentRef': ref, 'controllerName': controller, 'conditions': conds}]}}


def test_of(*events):
    return {'name': 'T', 'events': [dict(e, kind=e.get('kind', 'status'), line=1, subtest=[]) for e in events]}


def spec_only(o):
    o = copy.deepcopy(o)
    o.pop('status', None)
    return o


class YamlTest(unittest.TestCase):
    def test_reads_what_the_harness_writes(self):
        """Every object of every case, written by the harness's dump_yaml, reads back equal."""
        if not os.path.exists(os.path.join(HARNESS, 'gwapi_harness.py')):
            self.skipTest(f'no conformance harness at {HARNESS}')
        sys.path.insert(0, HARNESS)
        import gwapi_harness as h
        with open(os.path.join(HARNESS, 'data', 'cases.json')) as fh:
            data = json.load(fh)
        objs = list(data['base_manifests']) + [o for t in data['tests'] for m in t['manifests'].values() for o in m]
        objs = [o for o in objs if o]
        self.assertGreater(len(objs), 100)
        text = '\n---\n'.join(h.dump_yaml(o) for o in objs) + '\n'
        self.assertEqual(g.parse_yaml_docs(text, 'all'), objs)

    def test_shapes(self):
        cases = [
            ('a: 1\nb: "x: y"\n', [{'a': 1, 'b': 'x: y'}]),
            ('a:\n  - 1\n  - "two"\n  - null\n', [{'a': [1, 'two', None]}]),
            ('a:\n  - b: {}\n    c: []\n  - - x\n    - y\n', [{'a': [{'b': {}, 'c': []}, ['x', 'y']]}]),
            ('"on": true\n"a b": false\n', [{'on': True, 'a b': False}]),
            ('# comment\na: 1\n---\nb: 2\n', [{'a': 1}, {'b': 2}]),
        ]
        for text, want in cases:
            self.assertEqual(g.parse_yaml_docs(text, 't'), want, text)

    def test_refuses_bad_indentation(self):
        with self.assertRaises(g.YamlError):
            g.parse_yaml_docs('a: 1\n    b: 2\n', 't')


class SliceTest(unittest.TestCase):
    def slice(self, addr='127.0.0.1', ref=True, family='IPv4'):
        ep = {'addresses': [addr], 'conditions': {'ready': True}}
        if ref:
            ep['targetRef'] = {'kind': 'Pod', 'name': 'web-abc-1', 'namespace': 'infra'}
        return {'apiVersion': 'discovery.k8s.io/v1', 'kind': 'EndpointSlice', 'metadata': {'name': 's', 'namespace': 'infra'},
                'addressType': family, 'endpoints': [ep], 'ports': [{'name': 'http', 'port': 40001}]}

    def test_loopback_becomes_pod_name_under_localhost(self):
        """RFC 6761 section 6.3: names under localhost. are the loopback address."""
        got = g.to_fqdn_slice(self.slice())
        self.assertEqual(got['addressType'], 'FQDN')
        self.assertEqual(got['endpoints'][0]['addresses'], ['web-abc-1.localhost'])
        self.assertEqual(got['ports'], [{'name': 'http', 'port': 40001}])

    def test_other_slices_unchanged(self):
        for s in (self.slice('10.0.0.1'), self.slice(family='IPv6', addr='::1')):
            self.assertEqual(g.to_fqdn_slice(s), s)

    def test_loopback_without_pod_is_an_error(self):
        with self.assertRaises(ValueError):
            g.to_fqdn_slice(self.slice(ref=False))

    def test_empty_slice_gets_endpoints_list(self):
        s = self.slice()
        del s['endpoints']
        self.assertEqual(g.convert([s])[0]['endpoints'], [])


class ChecksTest(unittest.TestCase):
    def run_checks(self, events, objs, phase=0):
        applied = [spec_only(o) for o in objs if o['kind'] in ('GatewayClass', 'Gateway')]
        checks = g.Checks(test_of(*events), phase)
        return checks.failures(objs, applied), checks.unchecked

    def test_table(self):
        accepted = {'fn': 'GatewayAndHTTPRoutesMustBeAccepted', 'gateway': 'infra/gw', 'routes': ['infra/r'], 'desc': ''}
        resolved = {'fn': 'HTTPRouteMustHaveResolvedRefsConditionsTrue', 'desc': 'HTTPRouteMustHaveResolvedRefsConditionsTrue(infra/r, infra/gw)'}
        refused = {'fn': 'HTTPRouteMustHaveCondition',
                   'desc': 'HTTPRouteMustHaveCondition(infra/r, infra/gw, {Type: "ResolvedRefs", Status: metav1.ConditionFalse, Reason: "RefNotPermitted"})'}
        no_parents = {'fn': 'HTTPRouteMustHaveNoAcceptedParents', 'desc': 'HTTPRouteMustHaveNoAcceptedParents(infra/r)'}
        zero = {'fn': 'GatewayMustHaveZeroRoutes', 'desc': 'GatewayMustHaveZeroRoutes(infra/gw)'}
        latest = {'fn': 'HTTPRouteMustHaveLatestConditions', 'desc': 'HTTPRouteMustHaveLatestConditions(infra/r)'}
        parents = {'fn': 'HTTPRouteMustHaveParents', 'desc': 'HTTPRouteMustHaveParents(infra/r, [{ParentRef: {Group: "gateway.networking.k8s.io", Kind: "Gateway", Namespace: "infra", Name: "gw"}, ControllerName: suite.ControllerName, Conditions: [{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "NoMatchingListenerHostname"}]}], True)'}
        refused_route = route('r', resolved=('False', 'RefNotPermitted'))
        unattached = route('r', accepted=('False', 'NotAllowedByListeners'))
        cases = [
            # (name, events, objects, expected failure substrings; [] = pass)
            ('all accepted', [accepted, resolved], [GC, gateway('gw'), route('r')], []),
            ('class not accepted', [], [dict(GC, status={}), gateway('gw')], ['GatewayClass torii: no Accepted']),
            ('gateway not programmed', [], [GC, gateway('gw', accepted='False')], ['Gateway infra/gw: Accepted is False']),
            ('gateway stale generation', [], [GC, gateway('gw', generation=3) | {'metadata': {'name': 'gw', 'namespace': 'infra', 'generation': 4}}],
             ['observedGeneration 3, generation 4']),
            ('gateway without address', [], [GC, dict(gateway('gw'), status=dict(gateway('gw')['status'], addresses=[]))],
             ['no status.addresses']),
            ('route not accepted', [accepted], [GC, gateway('gw'), unattached], ['HTTPRoute infra/r parent infra/gw/: Accepted is False']),
            ('route of another controller', [accepted], [GC, gateway('gw'), route('r', controller='example.com/other')],
             ['no status.parents entry of torii.dev/gateway-controller']),
            ('route for another gateway', [accepted], [GC, gateway('gw'), route('r', parent='gw2')], ['no status.parents entry']),
            ('route parent in explicit namespace', [accepted], [GC, gateway('gw'), route('r', parent_ns='infra')], []),
            ('route parent in another namespace', [accepted], [GC, gateway('gw'), route('r', parent_ns='other')],
             ['no status.parents entry']),
            ('route missing', [resolved], [GC, gateway('gw')], ['HTTPRoute infra/r: not found']),
            ('refs not resolved', [resolved], [GC, gateway('gw'), refused_route], ['ResolvedRefs is False']),
            ('expected refusal holds', [refused], [GC, gateway('gw'), refused_route], []),
            ('expected refusal missing', [refused], [GC, gateway('gw'), route('r')], ['ResolvedRefs is True']),
            ('expected reason differs', [refused], [GC, gateway('gw'), route('r', resolved=('False', 'BackendNotFound'))],
             ['reason BackendNotFound, want RefNotPermitted']),
            ('no accepted parents holds', [no_parents, zero], [GC, gateway('gw', attached=0), unattached], []),
            ('no accepted parents, empty status', [no_parents], [GC, gateway('gw'), dict(route('r'), status={})], []),
            ('accepted parent present', [no_parents], [GC, gateway('gw'), route('r')], ['a parent is not Accepted=False']),
            ('routes attached', [zero], [GC, gateway('gw', attached=2)], ['attachedRoutes 2, want 0']),
            ('latest conditions', [latest], [GC, gateway('gw'), route('r', generation=1)], []),
            ('stale route conditions', [latest], [GC, gateway('gw'), route('r', generation=1) | {'metadata': {'name': 'r', 'namespace': 'infra', 'generation': 2}}],
             ['observedGeneration 1, generation 2']),
            ('expected parents hold', [parents], [GC, gateway('gw'), route('r', accepted=('False', 'NoMatchingListenerHostname'))], []),
            ('expected parents differ', [parents], [GC, gateway('gw'), route('r')], ['Accepted is True']),
        ]
        for name, events, objs, want in cases:
            with self.subTest(name):
                fails, unchecked = self.run_checks(events, objs)
                self.assertEqual(unchecked, [])
                if not want:
                    self.assertEqual(fails, [])
                for w in want:
                    self.assertTrue(any(w in f for f in fails), f'{w!r} not in {fails}')

    def test_truncated_descriptions_are_reported_not_checked(self):
        ev = {'fn': 'GatewayStatusMustHaveListeners', 'desc': 'GatewayStatusMustHaveListeners(infra/gw, [{Name: "l", ...'}
        fails, unchecked = self.run_checks([ev], [GC, gateway('gw')])
        self.assertEqual(fails, [])
        self.assertEqual(len(unchecked), 1)

    def test_phases_follow_deletions(self):
        """After the ReferenceGrant is deleted, the checks of the first phase no longer apply."""
        grant = {'_type': 'v1.ReferenceGrant', 'ObjectMeta': {'Name': 'rg', 'Namespace': 'web'}}
        t = test_of({'fn': 'HTTPRouteMustHaveResolvedRefsConditionsTrue', 'desc': 'X(infra/r, infra/gw)'},
                    {'kind': 'mutate', 'op': 'delete', 'object': grant})
        rg = {'kind': 'ReferenceGrant', 'metadata': {'name': 'rg', 'namespace': 'web'}}
        self.assertEqual(g.phase_of(t, [rg]), 0)
        self.assertEqual(g.phase_of(t, []), 1)
        self.assertEqual(len(g.Checks(t, 0).events()), 1)
        self.assertEqual(g.Checks(t, 1).events(), [])

    def test_test_name_from_directory(self):
        cases = {'tests': [{'name': 'HTTPRouteWeight'}, {'name': 'HTTPRouteReferenceGrant'}]}
        self.assertEqual(g.find_test(cases, '/w/dirs/HTTPRouteReferenceGrant-2')['name'], 'HTTPRouteReferenceGrant')
        self.assertIsNone(g.find_test(cases, '/w/dirs/Other-1'))


if __name__ == '__main__':
    unittest.main()
