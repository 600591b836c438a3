#!/usr/bin/env python3
"""Compares callgrind profiles of bench/lb-throughput.sh's configurations, per request.

usage: cgdiff.py REQUESTS BASE_NAME=BASE_FILE NAME=FILE [NAME=FILE...]
Reads callgrind output files directly (one event, Ir), prints total instructions per request,
and for each NAME the functions whose instructions per request differ most from BASE: by self
cost (where the extra instructions are executed; inlined code counts for the function it was
inlined into) and by inclusive cost (which callers carry it). Function symbols only, no files.
"""
import re
import sys
from collections import defaultdict


def parse(path):
    names = {}
    self_cost = defaultdict(int)
    call_cost = defaultdict(int)
    calls = defaultdict(int)
    total = None
    fn = None
    pending_call = None  # callee of the cost line that follows a calls= line
    cfn = None

    def name_of(spec):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", spec)
        if not m:
            return spec
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), spec)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending_call is not None:
                    call_cost[fn] += cost
                    pending_call = None
                else:
                    self_cost[fn] += cost
                continue
            if line.startswith("fn="):
                fn = name_of(line[3:])
            elif line.startswith("cfn="):
                cfn = name_of(line[4:])
            elif line.startswith("calls="):
                pending_call = cfn
                calls[cfn] += int(line[6:].split()[0])
            elif line.startswith(("totals:", "summary:")):
                total = int(line.split()[1])
    inclusive = {k: self_cost.get(k, 0) + call_cost.get(k, 0) for k in set(self_cost) | set(call_cost)}
    if total is None:
        total = sum(self_cost.values())
    return total, dict(self_cost), inclusive, calls


def short(name, width=120):
    name = re.sub(r"::h[0-9a-f]{16}$", "", name)
    return name if len(name) <= width else name[: width - 1] + "…"


def main():
    n = int(sys.argv[1])
    pairs = [a.split("=", 1) for a in sys.argv[2:]]
    base_name = pairs[0][0]
    data = {name: parse(path) for name, path in pairs}
    for name, _ in pairs:
        print(f"{name:8} {data[name][0] / n:>10,.0f} instructions/request")
    b_total, b_self, b_inc, b_calls = data[base_name]
    for name, _ in pairs[1:]:
        total, s, inc, calls = data[name]
        print(f"\n== {name} vs {base_name}: {(total - b_total) / n:+,.0f} instructions/request "
              f"({total / b_total:.3f}x)")
        for label, cur, base, count in (("self", s, b_self, 22), ("inclusive", inc, b_inc, 22)):
            diffs = sorted((((cur.get(k, 0) - base.get(k, 0)) / n), k) for k in set(cur) | set(base))
            print(f"-- {label} Ir/request: largest increases ({name} / {base_name} / calls per request in {name})")
            for d, k in sorted(diffs, reverse=True)[:count]:
                if d < 15:
                    break
                print(f"  {d:>+8,.0f}  {cur.get(k, 0) / n:>8,.0f} / {base.get(k, 0) / n:>8,.0f}"
                      f"  {calls.get(k, 0) / n:>5.2f}  {short(k)}")
            if label == "self":
                print("   largest decreases:")
                for d, k in diffs[:6]:
                    if d > -15:
                        break
                    print(f"  {d:>+8,.0f}  {cur.get(k, 0) / n:>8,.0f} / {base.get(k, 0) / n:>8,.0f}"
                          f"  {calls.get(k, 0) / n:>5.2f}  {short(k)}")


if __name__ == "__main__":
    sys.exit(main())
