"""Definition -> linked nodes.

Compilation validates the definition first (every problem at once), then creates an
empty node per state name and compiles each state against those nodes, so every
transition is a direct reference. Problems only compilation can find (a resource with no
handler, a JSONata expression that does not parse) are gathered the same way, each with
its JSON Pointer, and raised together.

Each state compiles in its own query language: its ``QueryLanguage``, else the machine's
(branches and item processors inherit the machine's, not the enclosing state's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from express.asl.driver import drive, drive_metered
from express.asl.intrinsics import IntrinsicSyntaxError
from express.asl.node import Node
from express.asl.paths import PathSyntaxError
from express.asl.states.base import StateEnv
from express.asl.states.choice_state import compile_choice
from express.asl.states.map_state import compile_map
from express.asl.states.parallel import compile_parallel
from express.asl.states.pass_state import compile_pass
from express.asl.states.task import compile_task
from express.asl.states.terminal import compile_fail, compile_succeed
from express.asl.states.wait_state import compile_wait
from express.asl.validate import validate_definition
from express.errors import DefinitionError, Diagnostic
from express.handlers import HandlerRegistry

if TYPE_CHECKING:
    from express.metrics import StateMachineMetrics

__all__ = ["compile_definition"]

StateCompiler = Callable[[str, Mapping[str, Any], StateEnv, "Node | None"], Any]

_COMPILERS: dict[str, StateCompiler] = {
    "Pass": compile_pass,
    "Task": compile_task,
    "Choice": lambda name, spec, env, nxt: compile_choice(name, spec, env),
    "Wait": compile_wait,
    "Succeed": lambda name, spec, env, nxt: compile_succeed(name, spec, env),
    "Fail": lambda name, spec, env, nxt: compile_fail(name, spec, env),
    "Parallel": compile_parallel,
    "Map": compile_map,
}


def compile_definition(
    definition: Mapping[str, Any],
    handlers: HandlerRegistry,
    region: str,
    account: str,
    *,
    metrics: StateMachineMetrics | None = None,
    all_nodes: list[Node] | None = None,
) -> Node:
    """The start node of the compiled machine; raises DefinitionError listing every problem.

    With ``metrics``, states report errors, retries and handler calls into it and nested
    branches count their visits; ``all_nodes`` receives every node, nested ones included.
    """
    diagnostics = [d for d in validate_definition(definition) if d.severity == "ERROR"]
    if diagnostics:
        raise DefinitionError(diagnostics)
    problems: list[Diagnostic] = []
    machine_language = "JSONPath" if definition.get("QueryLanguage", "JSONPath") == "JSONPath" else "JSONata"

    def compile_scope(scope: Mapping[str, Any], pointer: str, language: str) -> Node:
        states: Mapping[str, Mapping[str, Any]] = scope["States"]
        nodes = {name: Node(name, spec.get("Type", "?")) for name, spec in states.items()}
        if all_nodes is not None:
            all_nodes.extend(nodes.values())
        env = StateEnv(
            nodes=nodes,
            handlers=handlers,
            region=region,
            account=account,
            compile_branch=lambda sub, ptr: compile_scope(sub, ptr, language),
            pointer=f"{pointer}/States",
            query_language=language,
            metrics=metrics,
            drive=drive if metrics is None else drive_metered,
        )
        for name, spec in states.items():
            state_pointer = f"{pointer}/States/{name}"
            nxt = nodes[spec["Next"]] if "Next" in spec else None
            try:
                nodes[name].run = _COMPILERS[spec["Type"]](name, spec, env, nxt)
            except DefinitionError as error:
                problems.extend(error.diagnostics)
            except PathSyntaxError as error:
                problems.append(Diagnostic("SCHEMA_VALIDATION_FAILED", str(error), state_pointer))
            except IntrinsicSyntaxError as error:
                problems.append(Diagnostic("SCHEMA_VALIDATION_FAILED", str(error), state_pointer))
        return nodes[scope["StartAt"]]

    start = compile_scope(definition, "", machine_language)
    if problems:
        raise DefinitionError(problems)
    return start
