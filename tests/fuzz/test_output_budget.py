"""Issue 27 row 2: a rule output of 4,000 `%fd.name` over a 60 KB file name built 240 MB per alert
and crashed (SIGSEGV: orjson, when its buffer cannot be allocated under an address-space limit).
The message and output_fields now have a byte budget, the cut says what was cut, and nothing past
the budget is built; under a 1 GB address-space limit six such alerts are written and the process
exits normally."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.fuzz.conftest import bounded
from tiercel.outputs.alert import make_alert, to_json
from tiercel.rules.fields.table import FieldTable
from tiercel.rules.output import MAX_FIELDS, MAX_MESSAGE, OutputFormatError, compile_output
from tiercel.testing.events import event, file_fd, process

NAME = "/tmp/" + "n" * 60_000
TEMPLATE = "opened " + " ".join(["%fd.name"] * 4000) + " " + " ".join(
    f"%proc.aname[{i}]" for i in range(1, 2000))


class _Rule:
    name, priority, source, tags = "big", 4, "syscall", ("t",)

    def __init__(self) -> None:
        self.output = compile_output(TEMPLATE, FieldTable())

    def render_output(self, ev: Any) -> tuple[str, dict[str, Any]]:
        return self.output.render(ev), self.output.fields(ev)


def test_message_and_fields_are_bounded() -> None:
    ev = event("openat", fd=file_fd(NAME), who=process("cat"))
    rule = _Rule()
    with bounded(seconds=5, megabytes=50):
        line = to_json(make_alert(rule, ev))
    doc = json.loads(line)
    message = doc["output"]
    assert len(message) < MAX_MESSAGE + 200
    assert message.endswith("fields not shown]") and "...[cut: " in message
    assert len(line) < MAX_MESSAGE + 2 * MAX_FIELDS + 50_000
    assert doc["output_fields"]["fd.name"].startswith("/tmp/nnn")


def test_the_cut_extracts_nothing_past_the_budget() -> None:
    calls = 0

    class Counting(FieldTable):
        def resolve(self, name: str, arg: str | None) -> Any:
            real = super().resolve(name, arg)

            class Wrapped:
                def __init__(self) -> None:
                    self.name, self.type = real.name, real.type

                def extract(self, ev: Any) -> Any:
                    nonlocal calls
                    calls += 1
                    return real.extract(ev)
            return Wrapped()

    fmt = compile_output(TEMPLATE, Counting())
    fmt.render(event("openat", fd=file_fd(NAME), who=process("cat")))
    assert calls == 2      # the first value fits, the second is cut: the other 5,997 are not read


def test_width_and_token_errors_are_bounded() -> None:
    for template in ("%" + "9" * 5000 + "proc.name", "%nope.field" + "x" * 100_000):
        try:
            compile_output(template, FieldTable())
        except OutputFormatError as e:
            assert len(str(e)) < 600
        else:
            raise AssertionError("compiled")


_UNDER_LIMIT = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parents[2])!r})
from tests.fuzz.test_output_budget import _Rule, NAME
from tiercel.outputs.alert import make_alert, to_json
from tiercel.testing.events import event, file_fd, process
rule = _Rule()
total = 0
for i in range(6):
    total += len(to_json(make_alert(rule, event("openat", fd=file_fd(NAME + str(i)), who=process("cat")))))
print(total)
"""


def test_under_an_address_space_limit() -> None:
    r = subprocess.run([sys.executable, "-c", _UNDER_LIMIT], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert 0 < int(r.stdout) < 6 * (MAX_MESSAGE + 2 * MAX_FIELDS + 50_000)
