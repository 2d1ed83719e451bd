"""Where events come from: one `Source` protocol, two implementations.

    base.py     the Source protocol, its Counters and the CaptureOptions both sources take; the
                FilteredSource protocol of a source with a kernel filter (the live one)
    live.py     LiveSource: probe (BCC, ring buffer) -> decode -> state, from the running kernel
    replay.py   ReplaySource: a .scap capture file (scap: reader, convert) -> state

A source hands each enriched event to the sink it was built with; what comes after (rules,
outputs) is the caller's, so no source imports a later stage.
"""
