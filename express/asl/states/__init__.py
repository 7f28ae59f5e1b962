"""One module per state type; each exposes ``compile_<type>(name, spec, env) -> run``."""
