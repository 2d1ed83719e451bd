# ruff: noqa: E501 - table rows
"""Detection report: the attack corpus and the benign corpus, live, under tiercel's default rules
and under upstream Falco's stable + incubating files, side by side.

    make detection-report      (root, a kernel with BPF; the oracle directory for upstream)

Per behaviour: variant, expected rule, fired with tiercel's rules (yes / no / known miss / skipped),
the upstream rules that fired in the same window; then totals and the benign corpus's false alarms.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.attacks.attack_run import run_corpus  # noqa: E402
from tests.attacks.corpus import BEHAVIOURS  # noqa: E402
from tests.attacks.live import DEFAULT_RULES, STABLE_RULES, UPSTREAM, loud  # noqa: E402
from tests.attacks.test_benign_live import run_benign  # noqa: E402

from tiercel.testing.oracles import find_oracles  # noqa: E402


def main() -> int:
    ours = run_corpus(DEFAULT_RULES)
    oracles = find_oracles(ROOT)
    theirs = run_corpus([oracles / f for f in UPSTREAM]) if oracles else {}
    rows = ["| tactic | behaviour | variant | expected rule | tiercel fired | upstream rules fired |",
            "|---|---|---|---|---|---|"]
    tot = {"ran": 0, "ours": 0, "theirs": 0, "skipped": 0}
    misses: list[str] = []
    for b in BEHAVIOURS:
        w = ours[b.id]
        if w.skipped:
            tot["skipped"] += 1
            rows.append(f"| {b.tactic} | {b.name} | {b.variant} | {', '.join(b.rules)} | skipped: {w.skipped} | |")
            misses.append(f"- {b.id}: not run here ({w.skipped})")
            continue
        tot["ran"] += 1
        missing = set(b.rules) - w.rules
        fired = "yes" if not missing else ("partly" if missing != set(b.rules) else "**no**")
        tot["ours"] += not missing
        for r in sorted(missing):
            misses.append(f"- {b.id}: {r} did not fire ({b.miss.get(r, 'no reason recorded: a regression')})")
        up = sorted(theirs[b.id].rules) if b.id in theirs else []
        tot["theirs"] += bool(up)
        rows.append(f"| {b.tactic} | {b.name} | {b.variant} | {', '.join(b.rules)} | {fired} | {', '.join(up) or '—'} |")
    benign_ours = run_benign(STABLE_RULES)
    benign_theirs = run_benign([oracles / f for f in UPSTREAM]) if oracles else {}
    fa_ours = {k: loud(w.alerts) for k, w in benign_ours.items() if loud(w.alerts)}
    fa_theirs = {k: loud(w.alerts) for k, w in benign_theirs.items() if loud(w.alerts)}
    ran_benign = sum(1 for w in benign_ours.values() if not w.skipped)
    print("\n".join(rows))
    summary = [
        "## Detection (attack corpus, `make detection-report`)", "",
        f"Actions run: {tot['ran']} ({len({b.name for b in BEHAVIOURS})} behaviours with their evasion variants, "
        f"{tot['skipped']} not runnable here).", "",
        "| rules | actions with every expected rule fired | actions with any alert | benign workflows with alerts >= Warning |",
        "|---|---|---|---|",
        f"| tiercel defaults (stable + incubating; benign: stable) | {tot['ours']}/{tot['ran']} | "
        f"{sum(1 for b in BEHAVIOURS if not ours[b.id].skipped and ours[b.id].rules)}/{tot['ran']} | "
        f"{len(fa_ours)}/{ran_benign} |",
        f"| upstream Falco stable + incubating | — (other rule names) | {tot['theirs']}/{tot['ran']} | "
        f"{len(fa_theirs)}/{ran_benign} |" if oracles else "| upstream | oracle directory not found | | |",
        "", "Misses and behaviours not seen here, with reasons:", "", *misses, "",
    ]
    if fa_ours:
        summary += ["tiercel false alarms:", *[f"- {k}: {sorted({a['rule'] for a in v})}" for k, v in fa_ours.items()], ""]
    if fa_theirs:
        summary += ["upstream false alarms:", *[f"- {k}: {sorted({a['rule'] for a in v})}" for k, v in fa_theirs.items()], ""]
    text = "\n".join(summary)
    print("\n" + text)
    Path("/tmp/detection-readme.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
