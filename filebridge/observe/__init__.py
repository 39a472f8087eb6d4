"""Running filebridge as an operator: logs, a live view, metrics, health and housekeeping.

Nothing here changes what the engine does; it watches the bridge (its journal, its
partner links and its events) and shows or serves what it sees:

    logs.py          stdlib logging for the daemon: human lines or one JSON object a line
    snapshot.py      what the daemon knows right now, read once per refresh
    live.py          the snapshot as a rich renderable, and the Live view of ``run``
    progress.py      a spinner with counts for ``run --once``
    health.py        whether the daemon can do its work (``/healthz``)
    metrics.py       Prometheus counters, gauges and a histogram (needs ``[metrics]``)
    server.py        the small HTTP server for ``/metrics`` and ``/healthz``
    housekeeping.py  old files out of the partners' archive folders (``prune``)
"""
