"""Agent-wide telemetry, beside the pipeline rather than in it: what was seen, what became of it.

    stats.py      AgentStats, one snapshot of every count; as text (--stats, SIGUSR2) and Prometheus
    webserver.py  /healthz and /metrics
    tables.py     the state tables' sizes (processes, threads, fds, containers)
    drops.py      kernel drops -> Falco's syscall-event-drop alert (log, alert, exit)

It reads the outputs' counts and hands the drop alert to them; outputs never import telemetry.
"""
