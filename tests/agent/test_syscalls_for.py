"""`tiercel run` attaches what the rules can match plus what the state needs, and leaves `close` out
unless a rule asks for it."""

from __future__ import annotations

from tiercel.commands.options import syscalls_for
from tiercel.events.syscalls import STATE_SYSCALLS, SyscallTable
from tiercel.rules import load_rules_text

RULE = """
- rule: r
  desc: d
  condition: {cond}
  output: o
  priority: WARNING
"""


def attached(cond: str) -> set[str]:
    ruleset, result = load_rules_text([("t.yaml", RULE.format(cond=cond))])
    assert result.ok, result.render_text()
    return syscalls_for(ruleset, SyscallTable())


def test_open_rule_leaves_close_out() -> None:
    got = attached("evt.type=openat and fd.name=/etc/shadow")
    assert "openat" in got and "close" not in got
    assert got >= STATE_SYSCALLS and {"socket", "accept", "dup2"} <= got


def test_close_rule_keeps_close() -> None:
    assert "close" in attached("evt.type=close and fd.name=/etc/shadow")


def test_rule_without_event_type_attaches_everything() -> None:
    assert attached("proc.name=cat") == set(SyscallTable().by_name)
