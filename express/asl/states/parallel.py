"""Parallel: every branch runs on the same input; the output lists their outputs in order.

Branches that finish without waiting run inline, one after the other; those that have to
wait run concurrently in one task group. The first branch to fail cancels the others and
fails the state with that branch's own error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from express.asl.driver import drive
from express.asl.io import check_size, compile_filter_path, compile_result_path
from express.asl.node import Node, Pending, is_pending
from express.asl.states.base import StateEnv, fail_in_state, record, uses_context
from express.asl.states.guard import guarded_state
from express.asl.states.policy import compile_policy
from express.asl.templates import compile_template
from express.errors import FieldFailure, StatesError
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["compile_parallel"]


def compile_parallel(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    pointer = f"{env.pointer}/{name}/Branches"
    branches = tuple(env.compile_branch(b, f"{pointer}/{i}") for i, b in enumerate(spec["Branches"]))
    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")
    merge = compile_result_path(spec)
    params = compile_template(spec["Parameters"]) if "Parameters" in spec else None
    selector = compile_template(spec["ResultSelector"]) if "ResultSelector" in spec else None

    def finish(data: JSON, ctx: ExecutionContext, entered: int, results: list[JSON]) -> JSON:
        record(ctx, "ParallelStateSucceeded", {})
        try:
            check_size(results, name)
            result: JSON = results if selector is None else selector(results, ctx)
            out = merge(data, result)
            return out if output_path is None else output_path(out, ctx)
        except FieldFailure as failure:
            raise fail_in_state(name, entered, failure) from None

    def attempt(data: JSON, ctx: ExecutionContext, entered: int) -> Any:
        try:
            effective = data if input_path is None else input_path(data, ctx)
            payload = effective if params is None else params(effective, ctx)
        except FieldFailure as failure:
            raise fail_in_state(name, entered, failure) from None
        record(ctx, "ParallelStateStarted", {})
        results: list[JSON] = [None] * len(branches)
        pending: list[tuple[int, Any]] = []
        try:
            for i, start in enumerate(branches):
                out = drive(start, payload, ctx.child())
                if is_pending(out):
                    pending.append((i, out))
                else:
                    results[i] = out
        except StatesError:
            record(ctx, "ParallelStateFailed", {})
            raise
        if not pending:
            return finish(data, ctx, entered, results)
        return Pending(_await_branches, data, ctx, entered, results, pending)

    async def _await_branches(
        data: JSON, ctx: ExecutionContext, entered: int, results: list[JSON], pending: list[tuple[int, Any]]
    ) -> JSON:
        async def settle(i: int, coroutine: Any) -> None:
            results[i] = await coroutine

        try:
            async with anyio.create_task_group() as group:
                for i, coroutine in pending:
                    group.start_soon(settle, i, coroutine)
        except BaseExceptionGroup as group_error:
            error = _first_states_error(group_error)
            if error is None:
                raise
            record(ctx, "ParallelStateFailed", {})
            raise error from None
        return finish(data, ctx, entered, results)

    policy = compile_policy(spec, env.nodes)
    return guarded_state(name, "Parallel", attempt, policy, nxt, uses_context(spec))


def _first_states_error(group: BaseExceptionGroup[Any]) -> StatesError | None:
    for exc in group.exceptions:
        if isinstance(exc, StatesError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            inner = _first_states_error(exc)
            if inner is not None:
                return inner
    return None
