"""Map (inline): run the item processor once per item; the output lists the results in order.

Iterations that finish without waiting run inline. The rest run on a fixed pool of
workers (MaxConcurrency, capped at 40 concurrent iterations as on AWS, 0 meaning that
cap), never one task per item. The first iteration to fail cancels the others and fails
the state with that iteration's own error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio
import orjson

from express.asl.driver import drive
from express.asl.io import check_size, compile_filter_path, compile_result_path
from express.asl.node import Node, Pending, is_pending
from express.asl.paths import PathMissing, compile_getter, compile_reference
from express.asl.states.base import StateEnv, fail_in_state, record, uses_context
from express.asl.states.guard import guarded_state
from express.asl.states.parallel import _first_states_error
from express.asl.states.policy import compile_policy
from express.asl.templates import compile_template
from express.errors import FieldFailure, StatesError
from express.runtime.context import ExecutionContext
from express.types import JSON

__all__ = ["compile_map", "INLINE_MAP_CONCURRENCY"]

INLINE_MAP_CONCURRENCY = 40


def compile_map(name: str, spec: Mapping[str, Any], env: StateEnv, nxt: Node | None) -> Any:
    processor_field = "ItemProcessor" if "ItemProcessor" in spec else "Iterator"
    processor = env.compile_branch(spec[processor_field], f"{env.pointer}/{name}/{processor_field}")
    input_path = compile_filter_path(spec, "InputPath")
    output_path = compile_filter_path(spec, "OutputPath")
    merge = compile_result_path(spec)
    items_path = spec.get("ItemsPath", "$")
    read_items = compile_getter(items_path) if not items_path.startswith("$$") else None
    read_context_items = compile_reference(items_path) if read_items is None else None
    selector_spec = spec.get("ItemSelector", spec.get("Parameters"))
    item_selector = compile_template(selector_spec) if selector_spec is not None else None
    result_selector = compile_template(spec["ResultSelector"]) if "ResultSelector" in spec else None
    concurrency_of = _compile_concurrency(spec)

    def items_of(effective: JSON, ctx: ExecutionContext) -> list[JSON]:
        try:
            if read_items is not None:
                items = read_items(effective)
            else:
                assert read_context_items is not None
                items = read_context_items(effective, ctx)
        except PathMissing as missing:
            raise FieldFailure(f"Invalid path '{items_path}' : {missing.jayway}") from None
        if type(items) is not list:
            raise FieldFailure(f"Map state input must be an array but was: {orjson.dumps(items).decode()}")
        return items

    def iteration_input(effective: JSON, ctx: ExecutionContext, index: int, item: JSON) -> JSON:
        if item_selector is None:
            return item
        ctx.map_item = (index, item)
        try:
            return item_selector(effective, ctx)
        finally:
            ctx.map_item = None

    def finish(data: JSON, ctx: ExecutionContext, entered: int, results: list[JSON]) -> JSON:
        record(ctx, "MapStateSucceeded", {})
        try:
            check_size(results, name)
            result: JSON = results if result_selector is None else result_selector(results, ctx)
            out = merge(data, result)
            return out if output_path is None else output_path(out, ctx)
        except FieldFailure as failure:
            raise fail_in_state(name, entered, failure) from None

    def run_iteration(index: int, item_input: JSON, ctx: ExecutionContext, item: JSON) -> Any:
        child = ctx.child()
        child.map_item = (index, item)
        record(ctx, "MapIterationStarted", {"name": name, "index": index})
        try:
            out = drive(processor, item_input, child)
        except StatesError:
            record(ctx, "MapIterationFailed", {"name": name, "index": index})
            raise
        if is_pending(out):
            return Pending(_iteration_async, index, out, ctx)
        record(ctx, "MapIterationSucceeded", {"name": name, "index": index})
        return out

    async def _iteration_async(index: int, pending: Any, ctx: ExecutionContext) -> JSON:
        try:
            out = await pending
        except StatesError:
            record(ctx, "MapIterationFailed", {"name": name, "index": index})
            raise
        record(ctx, "MapIterationSucceeded", {"name": name, "index": index})
        return out

    def attempt(data: JSON, ctx: ExecutionContext, entered: int) -> Any:
        try:
            effective = data if input_path is None else input_path(data, ctx)
            items = items_of(effective, ctx)
            limit = concurrency_of(effective, ctx)
            inputs = [iteration_input(effective, ctx, i, item) for i, item in enumerate(items)]
        except FieldFailure as failure:
            raise fail_in_state(name, entered, failure) from None
        record(ctx, "MapStateStarted", {"length": len(items)})
        results: list[JSON] = [None] * len(items)
        for i, item in enumerate(items):
            try:
                out = run_iteration(i, inputs[i], ctx, item)
            except StatesError:
                record(ctx, "MapStateFailed", {})
                raise
            if is_pending(out):
                return Pending(_run_rest, data, ctx, entered, items, inputs, results, i, out, limit)
            results[i] = out
        return finish(data, ctx, entered, results)

    async def _run_rest(
        data: JSON,
        ctx: ExecutionContext,
        entered: int,
        items: list[JSON],
        inputs: list[JSON],
        results: list[JSON],
        first: int,
        first_pending: Any,
        limit: int,
    ) -> JSON:
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

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(worker, first_pending, first)
                for _ in range(workers - 1):
                    group.start_soon(worker, None, -1)
        except BaseExceptionGroup as group_error:
            error = _first_states_error(group_error)
            if error is None:
                raise
            record(ctx, "MapStateFailed", {})
            raise error from None
        return finish(data, ctx, entered, results)

    policy = compile_policy(spec, env.nodes)
    return guarded_state(name, "Map", attempt, policy, nxt, uses_context(spec))


def _compile_concurrency(spec: Mapping[str, Any]) -> Callable[[JSON, ExecutionContext], int]:
    if "MaxConcurrencyPath" not in spec:
        limit = int(spec.get("MaxConcurrency", 0))
        return lambda data, ctx: limit
    path = spec["MaxConcurrencyPath"]
    read = compile_reference(path)

    def concurrency_from_path(data: JSON, ctx: ExecutionContext) -> int:
        try:
            value = read(data, ctx)
        except PathMissing as missing:
            raise FieldFailure(f"Invalid path '{path}' : {missing.jayway}") from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            shown = value if isinstance(value, str) else orjson.dumps(value).decode()
            raise FieldFailure(
                f'The MaxConcurrencyPath field refers to value "{shown}" which is not a valid integer: {path}'
            )
        return value

    return concurrency_from_path
