"""The ``express`` command: exec, validate, run, logs.

Exit codes: 0 when the command did its job (for ``exec``: the execution ran, whatever its
status; for ``validate``: the definition is valid), 1 when ``validate`` found problems,
2 for a usage error or a definition that cannot run. Subcommands import their modules
only when chosen, so ``express exec`` starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from express.errors import DefinitionError, Diagnostic, ExpressError, UsageError

if TYPE_CHECKING:
    from express.handlers import HandlerRegistry

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.command(args)
        return code
    except DefinitionError as error:
        print(str(error), file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"express: {error}", file=sys.stderr)
        return 2
    except ExpressError as error:
        print(f"express: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="express", description="Run Amazon States Language workflows the way AWS runs Express workflows."
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("exec", help="run one execution and print StartSyncExecution's response")
    p.add_argument("definition", type=Path, help="state machine definition (JSON file)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="execution input, as JSON text")
    source.add_argument("--input-file", type=Path, help="file holding the execution input")
    p.add_argument("--handlers", type=Path, help="Python file whose functions Task states call")
    p.add_argument("--name", help="execution name (default: a UUID)")
    p.add_argument("--state-machine-name", default=None, help="name used in ARNs (default: the file's stem)")
    p.set_defaults(command=_exec)

    p = sub.add_parser("validate", help="report every problem in a definition")
    p.add_argument("definition", type=Path)
    p.add_argument(
        "--json", action="store_true", help="print ValidateStateMachineDefinition's response shape"
    )
    p.add_argument(
        "--handlers", type=Path, help="also check that every Task resource resolves to one of these handlers"
    )
    p.set_defaults(command=_validate)

    p = sub.add_parser("run", help="process a stream: one execution per record (Kafka or JSON lines)")
    try:
        from express.runtime.run_cli import add_run_arguments, run_command
    except ImportError:  # the stream runtime is optional for exec/validate
        p.set_defaults(command=_unavailable("run"))
    else:
        add_run_arguments(p)
        p.set_defaults(command=run_command)

    p = sub.add_parser("logs", help="list executions and show their event history from a log store")
    try:
        from express.logs_cli import add_logs_arguments, logs_command
    except ImportError:
        p.set_defaults(command=_unavailable("logs"))
    else:
        add_logs_arguments(p)
        p.set_defaults(command=logs_command)
    return parser


def _unavailable(name: str) -> Any:
    def fail(args: argparse.Namespace) -> int:
        print(f"express: the {name} command is not available in this installation", file=sys.stderr)
        return 2

    return fail


def _read_definition(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read definition {path}: {error.strerror}") from None


def _exec(args: argparse.Namespace) -> int:
    from express.handlers import HandlerRegistry, load_handlers
    from express.workflow import compile_workflow

    text = args.input if args.input is not None else _read_file(args.input_file)
    try:
        execution_input = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise UsageError(f"the execution input is not JSON: {error}") from None
    handlers = load_handlers(args.handlers) if args.handlers else HandlerRegistry()
    workflow = compile_workflow(
        _read_definition(args.definition),
        handlers=handlers,
        name=args.state_machine_name or _machine_name(args.definition),
    )
    result = workflow.execute_sync(execution_input, name=args.name)
    sys.stdout.buffer.write(orjson.dumps(result.to_sync_response()) + b"\n")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from express.asl.loader import load_definition
    from express.asl.validate import validate_definition
    from express.handlers import load_handlers

    try:
        definition = load_definition(_read_definition(args.definition))
        diagnostics = validate_definition(definition)
        if not any(d.severity == "ERROR" for d in diagnostics):
            diagnostics += _compile_diagnostics(
                definition, load_handlers(args.handlers) if args.handlers else None
            )
    except DefinitionError as error:
        diagnostics = list(error.diagnostics)
    failed = any(d.severity == "ERROR" for d in diagnostics)
    if args.json:
        response = {
            "result": "FAIL" if failed else "OK",
            "diagnostics": [d.to_json() for d in diagnostics],
            "truncated": False,
        }
        sys.stdout.buffer.write(orjson.dumps(response, option=orjson.OPT_INDENT_2) + b"\n")
    elif diagnostics:
        for d in diagnostics:
            print(f"{d.severity} {d.location or '/'} {d.code}: {d.message}")
    else:
        print("valid")
    return 1 if failed else 0


def _compile_diagnostics(definition: Any, handlers: HandlerRegistry | None) -> list[Diagnostic]:
    """What only compilation finds. Without --handlers, every resource counts as provided."""
    from express.asl.compiler import compile_definition
    from express.handlers import PermissiveRegistry

    try:
        compile_definition(definition, handlers or PermissiveRegistry(), "us-east-1", "111111111111")
    except DefinitionError as error:
        return list(error.diagnostics)
    return []


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def _machine_name(path: Path) -> str:
    stem = path.stem.removesuffix(".asl")
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
    return cleaned[:80] or "express"


if __name__ == "__main__":
    sys.exit(main())
