"""JSONPath: parsed once, read and written as AWS (Jayway) does."""

from __future__ import annotations

import pytest

from express.asl import paths
from express.asl.paths import (
    PathMissing,
    PathSyntaxError,
    ResultPathMismatch,
    compile_getter,
    compile_reference,
    compile_setter,
)
from express.runtime.context import ExecutionContext


def test_definite_paths_read_directly() -> None:
    doc = {"a": {"b": [10, {"c": "x"}]}, "odd key": 1}
    assert compile_getter("$")(doc) is doc
    assert compile_getter("$.a.b[0]")(doc) == 10
    assert compile_getter("$.a.b[-1].c")(doc) == "x"
    assert compile_getter("$['odd key']")(doc) == 1
    assert compile_getter("$.a['b'][1]['c']")(doc) == "x"


def test_missing_leaf_and_missing_parent_are_worded_as_jayway() -> None:
    with pytest.raises(PathMissing) as leaf:
        compile_getter("$.NoSuchInputPath")({"x": 1})
    assert leaf.value.jayway == "No results for path: $['NoSuchInputPath']"
    with pytest.raises(PathMissing) as parent:
        compile_getter("$.no.such.result.path")({})
    assert parent.value.jayway == "Missing property in path $['no']"


def test_a_name_on_a_non_object_or_an_index_on_a_string_is_missing() -> None:
    with pytest.raises(PathMissing):
        compile_getter("$.a.b")({"a": "text"})
    with pytest.raises(PathMissing):
        compile_getter("$.a[0]")({"a": "text"})
    with pytest.raises(PathMissing):
        compile_getter("$.a[5]")({"a": [1]})


def test_indefinite_paths_return_every_match_and_empty_lists() -> None:
    doc = {"items": [{"v": 1}, {"v": 2}, {"w": 3}], "m": {"x": {"v": 9}}}
    assert compile_getter("$.items[*].v")(doc) == [1, 2]
    assert compile_getter("$.items[1:].v")(doc) == [2]
    assert compile_getter("$.items[:1]")(doc) == [{"v": 1}]
    assert compile_getter("$.items[0,2]")(doc) == [{"v": 1}, {"w": 3}]
    assert compile_getter("$..v")(doc) == [9, 1, 2] or sorted(compile_getter("$..v")(doc)) == [1, 2, 9]
    assert compile_getter("$.missing[*].v")(doc) == []
    assert compile_getter("$[*]")({}) == []
    assert compile_getter("$.items[?(@.v > 1)]")(doc) == [{"v": 2}]


def test_quoted_names_keep_backslashes_except_before_the_quote() -> None:
    key = 'Test\\""Name"'
    assert compile_getter('$[\'Test\\""Name"\']')({key: "v"}) == "v"
    assert compile_getter("$['it\\'s']")({"it's": 1}) == 1


@pytest.mark.parametrize(
    ("text", "column"),
    [("a.b", 0), ("$.a b", 3), ("$.a[", 3), ("$.a[x]", 4), ("$.a[1:2:0]", 4), ("$.", 2)],
)
def test_syntax_errors_point_at_the_column(text: str, column: int) -> None:
    with pytest.raises(PathSyntaxError) as error:
        compile_getter(text)
    assert error.value.column == column
    assert "^" in str(error.value)


def test_setter_creates_missing_objects_and_copies_on_write() -> None:
    doc = {"a": {"keep": 1}, "b": [1, 2]}
    out = compile_setter("$.a.new.deep")(doc, 5)
    assert out == {"a": {"keep": 1, "new": {"deep": 5}}, "b": [1, 2]}
    assert doc == {"a": {"keep": 1}, "b": [1, 2]}
    assert out["b"] is doc["b"]  # untouched branches are shared, not copied
    assert compile_setter("$.b[1]")(doc, 9)["b"] == [1, 9]
    assert compile_setter("$")(doc, 7) == 7


def test_setter_into_a_scalar_is_a_mismatch() -> None:
    with pytest.raises(ResultPathMismatch):
        compile_setter("$.a.b")({"a": 3}, 1)
    with pytest.raises(PathSyntaxError):
        compile_setter("$.a[*]")


def test_context_references_read_the_context_object() -> None:
    ctx = ExecutionContext(input={"in": 1}, execution_name="run-1")
    assert compile_reference("$$.Execution.Name")({}, ctx) == "run-1"
    assert compile_reference("$$.Execution.Input.in")({}, ctx) == 1
    assert compile_reference("$.x")({"x": 2}, ctx) == 2


def test_parsing_happens_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    getter = compile_getter("$.once.only[2]")

    def no_parsing(*args: object) -> None:
        raise AssertionError("parsed while running")

    monkeypatch.setattr(paths, "_parse_bracket", no_parsing)
    monkeypatch.setattr(paths, "_parse_name", no_parsing)
    assert getter({"once": {"only": [0, 1, 2]}}) == 2
