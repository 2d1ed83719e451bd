"""Rules throughput: one million synthetic events through the upstream stable + incubating rules.

    .venv/bin/python bench/rules_throughput.py [--events N] [--rules FILE ...] [--stream legacy]

The events are tiercel.testing.streams' "host" stream (its docstring says what it holds and why):
execve (10%), openat (70%) and connect (20%) over a process tree built like the state stage builds
it, 0.1% of them (`--suspicious`) actions the rules exist to catch; `--stream legacy` is the earlier
uniform stream (13% alerts), kept to compare against. A pool of distinct events is built first and
cycled through, so only `Ruleset.match` is timed. One core, no threads. Every loaded rule stays
enabled. The default rules are the oracle copies of Falco's (tiercel.testing.oracles); without
them, name rule files with --rules.

Prints the load time, the rule counts, the alert rate and events per second. A benchmark, not a
test: no asserts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tiercel.rules import load_rules
from tiercel.testing.oracles import find_oracles, missing_reason
from tiercel.testing.streams import build_stream

CHECKOUT = Path(__file__).resolve().parents[1]
UPSTREAM = ["rules/falco_rules.yaml", "rules/falco-incubating_rules.yaml"]  # under the oracle directory


def default_rules() -> list[Path] | None:
    oracles = find_oracles(CHECKOUT)
    return [oracles / f for f in UPSTREAM] if oracles is not None else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--pool", type=int, default=100_000, help="distinct events, cycled")
    ap.add_argument("--rules", type=Path, nargs="*", help="default: Falco's stable + incubating rules")
    ap.add_argument("--stream", choices=("host", "legacy"), default="host")
    ap.add_argument("--suspicious", type=float, default=0.001, help="share of events the rules should catch")
    opts = ap.parse_args()
    opts.rules = opts.rules or default_rules()
    if not opts.rules:
        print(f"rules_throughput: no rules: {missing_reason(CHECKOUT)}; name rule files with --rules",
              file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    ruleset, result = load_rules(opts.rules)
    load_s = time.perf_counter() - t0
    if result.errors:
        print(result.render_text(), file=sys.stderr)
        return 1
    pool = build_stream(opts.stream, opts.pool, suspicious=opts.suspicious)
    mix = {t: round(sum(e.type == t for e in pool) * 100 / len(pool))
           for t in ("execve", "openat", "connect")}

    match = ruleset.match
    alerts = 0
    n = len(pool)
    t1, c1 = time.perf_counter(), time.process_time()
    for i in range(opts.events):
        if match(pool[i % n]):
            alerts += 1
    elapsed, cpu = time.perf_counter() - t1, time.process_time() - c1
    print(f"rules: {len(ruleset.enabled_rules())} enabled of {len(ruleset.rules)} loaded "
          f"in {load_s:.2f}s from {', '.join(p.name for p in opts.rules)}")
    print(f"events: {opts.events} ({opts.stream} stream: "
          f"{', '.join(f'{t} {p}%' for t, p in mix.items())}), alerts: {alerts} "
          f"({100 * alerts / opts.events:.2f}%), predicate errors: {ruleset.errors}")
    # CPU time too: on a shared machine, wall time also counts the time other processes ran.
    print(f"throughput: {opts.events / elapsed:,.0f} events/s on one core ({elapsed:.2f}s); "
          f"{opts.events / cpu:,.0f} events per CPU second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
