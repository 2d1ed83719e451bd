"""The `k8s_audit` source: the Kubernetes API server's audit events, evaluated by the same engine.

    events.py    audit.k8s.io Event objects: an Event, an EventList, a JSON array, JSON lines; bounds
    extract.py   how the k8saudit plugin reads values out of an event
    fields.py    the ka.* field table;  table.py  with jevt.* and evt.*, what the rules resolve against
    replay.py    `run -e FILE.json`: a file of events as a source
    follow.py    `file://`: the API server's audit log followed as it grows and rotates
    webhook.py   the HTTP(S) endpoint the API server posts to (asyncio + h11), bounded
    source.py    the webhook's events to the rules, as a source
    settings.py  Falco's load_plugins/plugins for k8saudit, mapped to the above
    sources.py   which of the two sources `run` runs
"""
