"""Run time: records in, one execution per record, outputs and dead letters out.

Sources and sinks arrive as objects that satisfy the protocols in
``express.runtime.records``; only the wiring modules, ``worker`` and ``telemetry``, know
the connectors, and they import them inside the functions that build them.
"""
