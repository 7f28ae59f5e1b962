"""Run time: records in, one execution per record, outputs and dead letters out.

The modules here never import a connector; sources and sinks arrive as objects that
satisfy the protocols in ``express.runtime.records``.
"""
