"""/metrics under Falco's names (read back with prometheus_client's own parser) beside tiercel's own
counters; /versions as JSON."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from tiercel.config import Webserver
from tiercel.outputs.dispatcher import OutputStats
from tiercel.telemetry.stats import AgentStats
from tiercel.telemetry.webserver import WebServer

READ = ("Read sensitive file untrusted", "Warning", "syscall", ("filesystem", "mitre_credential_access"))
SHELL = ("Terminal shell in container", "Notice", "syscall", ("container", "shell"))


def served(stats: AgentStats) -> tuple[dict[str, list[tuple[dict[str, str], float]]], dict[str, str]]:
    web = WebServer(Webserver(enabled=True, listen_port=0), lambda: stats)
    web.start()
    try:
        base = f"http://127.0.0.1:{web.port}"
        with urllib.request.urlopen(f"{base}/metrics") as r:
            text = r.read().decode()
        with urllib.request.urlopen(f"{base}/versions") as r:
            assert r.headers["Content-Type"] == "application/json"
            versions = json.loads(r.read())
    finally:
        web.stop()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples, versions


def stats() -> AgentStats:
    return AgentStats(records=1000, events=900, lost=12, produced=5, filtered=4000,
                      lost_by_kind={"rule": 5, "state": 4, "clone": 2, "exit": 1, "fd": 0},
                      outputs={"stdout": OutputStats(offered=5, delivered=3, dropped_full=2)},
                      by_rule=Counter({READ[0]: 3, SHELL[0]: 2}), matches=Counter({READ: 3, SHELL: 2}),
                      alerts_waited=4, alerts_incomplete=1, version="0.1.0", engine_version="0.57.0",
                      hostname="node-1")


def test_falco_names_and_labels() -> None:
    m, _ = served(stats())
    matches = {lab["rule_name"]: (lab, v) for lab, v in m["falcosecurity_falco_rules_matches_total"]}
    assert matches[READ[0]] == ({"rule_name": READ[0], "priority": "4", "source": "syscall",
                                 "tags": "filesystem, mitre_credential_access"}, 3)
    assert matches[SHELL[0]][0]["priority"] == "5" and matches[SHELL[0]][1] == 2
    assert m["falcosecurity_scap_n_evts_total"] == [({}, 1000)]
    assert m["falcosecurity_scap_n_drops_total"] == [({}, 12)]
    assert dict((lab["drop"], v) for lab, v in m["falcosecurity_scap_n_drops_buffer_total"]) == {
        "rule": 5, "state": 4, "clone_fork": 2, "proc_exit": 1, "fd": 0}
    assert m["falcosecurity_falco_outputs_queue_num_drops_total"] == [({}, 2)]
    assert m["falcosecurity_falco_version_info"] == [({"version": "0.1.0", "engine_version": "0.57.0"}, 1)]
    assert m["falcosecurity_evt_hostname_info"] == [({"hostname": "node-1"}, 1)]
    assert m["falcosecurity_falco_memory_rss_bytes"][0][1] > 0
    assert m["falcosecurity_falco_cpu_usage_ratio"][0][1] >= 0


def test_tiercel_counters_beside_them() -> None:
    m, _ = served(stats())
    assert m["tiercel_alerts_metadata_waited_total"] == [({}, 4)]
    assert m["tiercel_alerts_metadata_incomplete_total"] == [({}, 1)]
    assert m["tiercel_kernel_records_filtered_total"] == [({}, 4000)]
    assert m["tiercel_events_total"] == [({}, 900)]
    assert ({"output": "stdout", "result": "dropped_full"}, 2) in m["tiercel_output_alerts_total"]


def test_versions() -> None:
    _, v = served(AgentStats())
    assert set(v) >= {"version", "engine_version", "git_commit"}
    assert v["version"] and v["engine_version"].count(".") == 2 and v["git_commit"]
