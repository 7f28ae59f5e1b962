"""``express run``: the command-line face of the stream runtime.

``add_run_arguments`` declares the options on a parser (the ``express`` CLI hooks it up
as the ``run`` subcommand); ``run_command`` turns the parsed namespace, the config file
and ``EXPRESS_*`` variables into one ``RunConfig`` and runs it. Options left out keep
no value here (``argparse.SUPPRESS``), so the config file and environment can supply
them. ``python -m express.runtime.run_cli`` runs the command on its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from express.errors import ExpressError
from express.logs.layout import DEFAULT_LOG_STORE
from express.logs.levels import LogLevel
from express.runtime.config import LOOPS, load_config
from express.runtime.ordering import ORDERINGS

__all__ = ["add_run_arguments", "main", "run_command"]

_EPILOG = """\
examples:
  express run router.asl.json --handlers handlers.py --input-file readings.jsonl
  express run router.asl.json --handlers handlers.py --bootstrap-servers 127.0.0.1:9092 \\
      --input-topic readings --output-topic routed --dlq-topic routed-dlq --ordering key \\
      --execution-log-level ALL --include-execution-data --log-destination express-logs \\
      --metrics-port 9358
  express logs --store express-logs          # the executions the run above logged

Every option can also come from a TOML config file (--config, or EXPRESS_CONFIG) and
from EXPRESS_<OPTION> environment variables, e.g. EXPRESS_BOOTSTRAP_SERVERS or
EXPRESS_SASL_PASSWORD; options on the command line win, then the environment, then the file.
"""


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    s = argparse.SUPPRESS
    parser.add_argument("definition", nargs="?", default=s, help="state machine definition (JSON file)")
    parser.add_argument("--config", metavar="FILE", help="TOML (or .json) file of settings")
    parser.add_argument(
        "--handlers", default=s, metavar="FILE", help="Python file whose functions Task states call"
    )
    parser.add_argument(
        "--state-machine-name", default=s, help="name used in ARNs (default: the file's stem)"
    )

    kafka = parser.add_argument_group("Kafka")
    kafka.add_argument("--bootstrap-servers", default=s, metavar="HOST:PORT[,...]")
    kafka.add_argument("--input-topic", default=s, metavar="TOPIC")
    kafka.add_argument("--output-topic", default=s, metavar="TOPIC")
    kafka.add_argument("--dlq-topic", default=s, metavar="TOPIC", help="dead letters (default: stderr)")
    kafka.add_argument("--group-id", default=s, help="consumer group (default: express-<state machine name>)")
    kafka.add_argument("--client-id", default=s)
    kafka.add_argument("--auto-offset-reset", default=s, choices=["earliest", "latest"])
    kafka.add_argument("--isolation-level", default=s, choices=["read_committed", "read_uncommitted"])
    kafka.add_argument("--session-timeout-ms", default=s, type=int)
    kafka.add_argument("--heartbeat-interval-ms", default=s, type=int)
    kafka.add_argument("--acks", default=s, choices=["all", "1", "0"])
    kafka.add_argument("--linger-ms", default=s, type=int)
    kafka.add_argument(
        "--max-batch-size", default=s, type=int, metavar="BYTES", help="per partition (default: 524288)"
    )
    kafka.add_argument("--compression-type", default=s, choices=["gzip", "snappy", "lz4", "zstd"])
    kafka.add_argument(
        "--exactly-once",
        default=s,
        action=argparse.BooleanOptionalAction,
        help="transactional outputs and offsets (read_committed consumers see each output once)",
    )
    kafka.add_argument("--transactional-id", default=s, help="prefix (default: the group id)")
    kafka.add_argument(
        "--security-protocol", default=s, choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
    )
    kafka.add_argument("--sasl-mechanism", default=s)
    kafka.add_argument("--sasl-username", default=s)
    kafka.add_argument("--sasl-password", default=s, help="prefer EXPRESS_SASL_PASSWORD")
    kafka.add_argument("--ssl-cafile", default=s)
    kafka.add_argument("--ssl-certfile", default=s)
    kafka.add_argument("--ssl-keyfile", default=s)
    kafka.add_argument("--ssl-password", default=s, help="prefer EXPRESS_SSL_PASSWORD")

    files = parser.add_argument_group("JSON lines (without Kafka)")
    files.add_argument("--input-file", default=s, metavar="FILE", help="default: stdin")
    files.add_argument("--output-file", default=s, metavar="FILE", help="default: stdout")
    files.add_argument("--dlq-file", default=s, metavar="FILE", help="dead letters (default: stderr)")

    runtime = parser.add_argument_group("runtime")
    runtime.add_argument("--ordering", default=s, choices=ORDERINGS, help="default: partition")
    runtime.add_argument("--max-in-flight", default=s, type=int, metavar="N", help="default: 20000")
    runtime.add_argument("--fetch-max-records", default=s, type=int, metavar="N", help="default: 500")
    runtime.add_argument("--commit-interval", default=s, type=float, metavar="SECONDS", help="default: 1")
    runtime.add_argument("--drain-timeout", default=s, type=float, metavar="SECONDS", help="default: 300")
    runtime.add_argument(
        "--processes", default=s, type=int, metavar="N", help="worker processes (default: 1)"
    )
    runtime.add_argument("--loop", default=s, choices=LOOPS, help="event loop (default: uvloop)")
    runtime.add_argument("--log-level", default=s, choices=["debug", "info", "warning", "error"])
    runtime.add_argument(
        "--metrics-port", default=s, type=int, help="serve /metrics and /healthz (worker i: port+i)"
    )
    runtime.add_argument("--metrics-host", default=s, help="address to serve them on (default: 127.0.0.1)")
    runtime.add_argument(
        "--stall-timeout",
        default=s,
        type=float,
        metavar="SECONDS",
        help="/healthz fails once an assigned partition goes this long without a fetch (default: 60)",
    )

    logs = parser.add_argument_group(
        "execution logs (AWS's LoggingConfiguration; --log-level is the worker's own logging)"
    )
    logs.add_argument(
        "--execution-log-level",
        default=s,
        type=str.upper,
        choices=[level.value for level in LogLevel],
        help="which history events to log, as AWS's level (default: OFF)",
    )
    logs.add_argument(
        "--include-execution-data",
        default=s,
        action=argparse.BooleanOptionalAction,
        help="log inputs, outputs and parameters too (AWS's includeExecutionData)",
    )
    logs.add_argument(
        "--log-destination",
        default=s,
        metavar="stdout|kafka:TOPIC|FOLDER",
        help=f"where log records go (default: the folder {DEFAULT_LOG_STORE}, which `express logs` reads)",
    )
    logs.add_argument(
        "--log-group", default=s, metavar="NAME", help="default: /aws/vendedlogs/states/<state machine name>"
    )
    logs.add_argument(
        "--log-retention-days",
        default=s,
        type=float,
        metavar="DAYS",
        help="delete a folder's log streams older than this (default: keep them)",
    )
    logs.add_argument(
        "--logging-configuration",
        default=s,
        metavar="FILE",
        help="AWS's LoggingConfiguration JSON (level, includeExecutionData, destinations)",
    )


def run_command(args: argparse.Namespace) -> int:
    from express.runtime.worker import run

    values = vars(args)
    config = load_config(values, config_file=values.get("config"))
    return run(config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="express run", description="One execution per stream record.")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except ExpressError as exc:
        print(f"express: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
