"""Test doubles and builders for code that uses tiercel (and for tiercel's own tests and benches).

    events     processes, fds, containers and events of each kind, raw (as the decoder hands them
               to the state) or enriched (as the state hands them to the rules)
    users      a user/group table from dicts, and a fake host root holding passwd and group files
    state      an Enricher that reads nothing from the host it runs on; fake /proc entries
    streams    synthetic event streams of a busy host (the rules benchmarks' workload)
    oracles    where the upstream oracle files (Falco's suites, rules, captures) are, if anywhere
    receivers  the other ends of the syslog (UDP, unix, TCP) and http outputs, on loopback
    soundness  the alerts of a capture or a stream with and without the kernel filter

Nothing here imports pytest: tests/conftest.py turns `oracles` into a fixture.
"""
