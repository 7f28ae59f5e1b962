"""Parallel: every branch runs on the same input; the output lists their outputs in order.

The branches' input and the state's output follow the state's query language
(``dataflow``); each branch runs in a variable scope of its own.

Branches that finish without waiting run inline, one after the other; those that have to
wait run concurrently in one task group. The first branch to fail cancels the others and
fails the state with that branch's own error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anyio.abc import TaskGroup

from express.asl.io import check_size
from express.asl.node import Node, Pending, is_pending
from express.asl.states.base import StateEnv, fail_in_state, record, uses_context
from express.asl.states.dataflow import compile_arguments, compile_completion
from express.asl.states.guard import guarded_state
from express.asl.states.policy import compile_policy
from express.asl.states.together import run_together
from express.errors import FieldFailure, StatesError
from express.runtime.context import EventKind, ExecutionContext
from express.types import JSON

__all__ = ["compile_parallel"]

_STARTED = EventKind("ParallelStateStarted")
_SUCCEEDED = EventKind("ParallelStateSucceeded")
_FAILED = EventKind("ParallelStateFailed")


def compile_parallel(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    pointer = f"{env.pointer}/{name}"
    jsonata = env.jsonata(spec)
    branches = tuple(env.compile_branch(b, f"{pointer}/Branches/{i}") for i, b in enumerate(spec["Branches"]))
    arguments = compile_arguments(spec, pointer, jsonata)
    complete = compile_completion(spec, pointer, jsonata)

    def finish(data: JSON, ctx: ExecutionContext, entered: int, results: list[JSON]) -> Any:
        record(ctx, _SUCCEEDED)
        try:
            check_size(results, name)
            return results if complete is None else complete(data, ctx, results)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None

    def attempt(data: JSON, ctx: ExecutionContext, entered: int) -> Any:
        try:
            payload = data if arguments is None else arguments(data, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        record(ctx, _STARTED)
        results: list[JSON] = [None] * len(branches)
        pending: list[tuple[int, Any]] = []
        try:
            for i, start in enumerate(branches):
                out = env.drive(start, payload, ctx.child())
                if is_pending(out):
                    pending.append((i, out))
                else:
                    results[i] = out
        except StatesError:
            record(ctx, _FAILED)
            raise
        if not pending:
            return finish(data, ctx, entered, results)
        return Pending(_await_branches, data, ctx, entered, results, pending)

    async def _await_branches(
        data: JSON, ctx: ExecutionContext, entered: int, results: list[JSON], pending: list[tuple[int, Any]]
    ) -> Any:
        async def settle(i: int, coroutine: Any) -> None:
            results[i] = await coroutine

        def start_branches(group: TaskGroup) -> None:
            for i, coroutine in pending:
                group.start_soon(settle, i, coroutine)

        await run_together(ctx, start_branches, _FAILED)
        return finish(data, ctx, entered, results)

    policy = compile_policy(spec, env.nodes, jsonata=jsonata, pointer=pointer)
    return guarded_state(
        name,
        "Parallel",
        attempt,
        policy,
        nxt,
        track_context=uses_context(spec),
        assigns="Assign" in spec,
        metrics=env.metrics,
    )
