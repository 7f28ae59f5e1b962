"""Map (inline): run the item processor once per item; the output lists the results in order.

The items, the concurrency and each iteration's input come from ``map_input``, the
output from ``dataflow``, in the state's query language; each iteration runs in a
variable scope of its own.

Iterations that finish without waiting run inline. The rest run on a fixed pool of
workers (MaxConcurrency, capped at 40 concurrent iterations as on AWS, 0 meaning that
cap), never one task per item. The first iteration to fail cancels the others and fails
the state with that iteration's own error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anyio.abc import TaskGroup

from express.asl.io import check_size
from express.asl.node import Node, Pending, is_pending
from express.asl.states.base import StateEnv, fail_in_state, record, uses_context
from express.asl.states.dataflow import compile_completion
from express.asl.states.guard import guarded_state
from express.asl.states.map_input import compile_map_input
from express.asl.states.policy import compile_policy
from express.asl.states.together import run_together
from express.errors import FieldFailure, StatesError
from express.runtime.context import EventKind, ExecutionContext
from express.types import JSON

__all__ = ["compile_map", "INLINE_MAP_CONCURRENCY"]

INLINE_MAP_CONCURRENCY = 40
_MAP_STARTED = EventKind("MapStateStarted", key="length")
_MAP_SUCCEEDED = EventKind("MapStateSucceeded")
_MAP_FAILED = EventKind("MapStateFailed")


def compile_map(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    pointer = f"{env.pointer}/{name}"
    jsonata = env.jsonata(spec)
    processor_field = "ItemProcessor" if "ItemProcessor" in spec else "Iterator"
    processor = env.compile_branch(spec[processor_field], f"{pointer}/{processor_field}")
    prepare = compile_map_input(spec, pointer, jsonata)
    complete = compile_completion(spec, pointer, jsonata)
    named = {"name": name}
    iteration_started = EventKind("MapIterationStarted", named, "index")
    iteration_succeeded = EventKind("MapIterationSucceeded", named, "index")
    iteration_failed = EventKind("MapIterationFailed", named, "index")

    def finish(data: JSON, ctx: ExecutionContext, entered: int, results: list[JSON]) -> Any:
        record(ctx, _MAP_SUCCEEDED)
        try:
            check_size(results, name)
            return results if complete is None else complete(data, ctx, results)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None

    def run_iteration(index: int, item_input: JSON, ctx: ExecutionContext, item: JSON) -> Any:
        child = ctx.child()
        child.map_item = (index, item)
        record(ctx, iteration_started, index)
        try:
            out = env.drive(processor, item_input, child)
        except StatesError:
            record(ctx, iteration_failed, index)
            raise
        if is_pending(out):
            return Pending(_iteration_async, index, out, ctx)
        record(ctx, iteration_succeeded, index)
        return out

    async def _iteration_async(index: int, pending: Any, ctx: ExecutionContext) -> JSON:
        try:
            out = await pending
        except StatesError:
            record(ctx, iteration_failed, index)
            raise
        record(ctx, iteration_succeeded, index)
        return out

    def attempt(data: JSON, ctx: ExecutionContext, entered: int) -> Any:
        try:
            items, limit, inputs = prepare(data, ctx)
        except FieldFailure as failure:
            raise fail_in_state(ctx, name, entered, failure) from None
        record(ctx, _MAP_STARTED, len(items))
        results: list[JSON] = [None] * len(items)
        for i, item in enumerate(items):
            try:
                out = run_iteration(i, inputs[i], ctx, item)
            except StatesError:
                record(ctx, _MAP_FAILED)
                raise
            if is_pending(out):
                return Pending(_run_rest, data, ctx, entered, items, inputs, results, i, out, limit)
            results[i] = out
        return finish(data, ctx, entered, results)

    async def _run_rest(  # noqa: PLR0917 - Pending passes its arguments positionally
        data: JSON,
        ctx: ExecutionContext,
        entered: int,
        items: list[JSON],
        inputs: list[JSON],
        results: list[JSON],
        first: int,
        first_pending: Any,
        limit: int,
    ) -> Any:
        """From the first iteration that waits on, iterations run on a bounded pool of workers."""
        next_index = first + 1
        workers = min(limit or INLINE_MAP_CONCURRENCY, INLINE_MAP_CONCURRENCY, len(items) - first)

        async def worker(pending: Any, index: int) -> None:
            nonlocal next_index
            while True:
                if pending is None:
                    if next_index >= len(items):
                        return
                    index = next_index
                    next_index += 1
                    pending = run_iteration(index, inputs[index], ctx, items[index])
                results[index] = await pending if is_pending(pending) else pending
                pending = None

        def start_workers(group: TaskGroup) -> None:
            group.start_soon(worker, first_pending, first)
            for _ in range(workers - 1):
                group.start_soon(worker, None, -1)

        await run_together(ctx, start_workers, _MAP_FAILED)
        return finish(data, ctx, entered, results)

    policy = compile_policy(spec, env.nodes, jsonata=jsonata, pointer=pointer)
    return guarded_state(
        name,
        "Map",
        attempt,
        policy,
        nxt,
        track_context=uses_context(spec),
        assigns="Assign" in spec,
        metrics=env.metrics,
    )
