"""Fields nothing in tiercel fills: marked in the field table, named by a load warning when asked for."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from tiercel.events.model import Container, Event, Fd, Process
from tiercel.rules import FieldTable, load_rules_text, validate_command
from tiercel.rules.fields.table import FIELDS
from tiercel.rules.files.diagnostics import LOAD_UNFILLED_FIELD

UNFILLED = {
    "proc.env", "proc.sid", "proc.sname", "proc.sid.exe", "proc.sid.exepath", "proc.vpgid",
    "proc.vpgid.name", "proc.vpgid.exe", "proc.vpgid.exepath", "proc.is_sid_leader",
    "proc.is_vpgid_leader", "proc.pidns_init_start_ts", "thread.vtid", "fd.name_changed",
    "fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name",
}

RULES = textwrap.dedent("""\
    - macro: proxied
      condition: proc.env[HTTP_PROXY] exists or proc.env contains "https_proxy="
    - rule: proxy env
      desc: d
      condition: evt.type = execve and proxied and not fd.name_changed = true
      output: "%proc.name %proc.env"
      priority: NOTICE
    - rule: plain
      desc: d
      condition: evt.type = execve and proc.name = curl
      output: "%proc.name"
      priority: NOTICE
""")


def test_the_marked_fields() -> None:
    assert {name for name, f in FIELDS.items() if f.unfilled} == UNFILLED


def _rich_events() -> list[Event]:
    """Events with every attribute the model has set, on every path the extractors take."""
    container = Container(id="0123456789ab", full_id="0123456789ab" * 5, type="docker", name="web",
                          image="nginx:1", ip="172.17.0.2", start_ts=1)
    parent = Process(pid=1, ppid=0, vpid=1, comm="sshd", exe="sshd", exepath="/usr/sbin/sshd", start_ts=5)
    proc = Process(pid=100, ppid=1, vpid=7, comm="bash", exe="bash", exepath="/bin/bash", args=["-c", "ls"],
                   uid=0, user="root", loginuid=1000, tty=34816, start_ts=10, parent=parent,
                   container_id="0123456789ab", container=container)
    sock = Fd(num=3, typechar="4", name="10.0.0.1:5->10.0.0.2:80", cip="10.0.0.1", cport=5, sip="10.0.0.2",
              sport=80)
    # each event's arguments as a capture holds them (scap/table.py): execve carries env and vpgid,
    # clone vtid and pidns_init_start_ts
    args = {"execve": {"res": 0, "exe": "bash", "args": ["-c", "ls"], "env": ["HTTP_PROXY=x"], "vpgid": 3},
            "clone": {"res": 0, "vtid": 7, "vpid": 7, "pidns_init_start_ts": 1},
            "connect": {"res": 0, "fd": 3}, "sendto": {"res": 0, "fd": 3}}
    return [Event(num=1, ts=10**18, type=t, dir="<", tid=101, pid=100, res=0, args=a, proc=proc, fd=sock,
                  vpid=7) for t, a in args.items()]


def test_marked_fields_have_no_value_on_any_event() -> None:
    """When something starts filling one of them, it is no longer `unfilled`."""
    table = FieldTable()
    for name in sorted(UNFILLED):
        extract = table.resolve(name, None).extract
        assert [extract(ev) for ev in _rich_events()] == [None] * 4, name


def test_loading_warns_only_when_asked() -> None:
    _, plain = load_rules_text([("r.yaml", RULES)])
    assert not [w for w in plain.warnings if w.code == LOAD_UNFILLED_FIELD]
    _, result = load_rules_text([("r.yaml", RULES)], warn_unfilled=True)
    got = [(w.context, w.message.split("'")[1]) for w in result.warnings if w.code == LOAD_UNFILLED_FIELD]
    assert got == [(("rule 'proxy env'", "condition"), "proc.env"),
                   (("rule 'proxy env'", "condition"), "fd.name_changed")]
    assert result.ok


def test_validate_names_the_fields(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RULES)
    out = io.StringIO()
    assert validate_command([path], out=out) == 0
    text = out.getvalue()
    assert "r.yaml:3:3: warning: rule 'proxy env' -> condition: field 'proc.env' has no value" in text
    assert "field 'fd.name_changed'" in text and "rule 'plain'" not in text
