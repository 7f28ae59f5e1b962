"""load_definition: JSON text, files and mappings in; a fresh dict or a located error out."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from express.asl.loader import load_definition
from express.errors import DefinitionError, Diagnostic

MINIMAL = '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}'
PARSED = {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}


def only_diagnostic(source: Any) -> Diagnostic:
    with pytest.raises(DefinitionError) as raised:
        load_definition(source)
    (diagnostic,) = raised.value.diagnostics
    return diagnostic


@pytest.mark.parametrize(
    "source", [MINIMAL, MINIMAL.encode(), "\ufeff" + MINIMAL, b"\xef\xbb\xbf" + MINIMAL.encode()]
)
def test_text_and_bytes_parse_to_the_same_dict(source: str | bytes) -> None:
    assert load_definition(source) == PARSED


def test_a_path_like_is_read_as_a_file(tmp_path: Path) -> None:
    file = tmp_path / "machine.asl.json"
    file.write_text(MINIMAL, encoding="utf-8")
    assert load_definition(file) == PARSED


def test_a_str_is_always_json_text_never_a_file_name(tmp_path: Path) -> None:
    file = tmp_path / "machine.asl.json"
    file.write_text(MINIMAL, encoding="utf-8")
    assert only_diagnostic(str(file)).code == "INVALID_JSON_DESCRIPTION"


def test_a_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_definition(tmp_path / "absent.json")


def test_a_mapping_is_copied_not_shared() -> None:
    source: dict[str, Any] = {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}
    loaded = load_definition(source)
    assert loaded == source
    loaded["States"]["A"]["Type"] = "Fail"
    assert source["States"]["A"]["Type"] == "Succeed"


def test_any_mapping_becomes_plain_dicts() -> None:
    inner = OrderedDict(A=MappingProxyType({"Type": "Succeed"}))
    loaded = load_definition(MappingProxyType({"StartAt": "A", "States": inner}))
    assert loaded == PARSED
    assert type(loaded["States"]) is dict
    assert type(loaded["States"]["A"]) is dict


def test_a_mapping_holding_non_json_values_is_rejected() -> None:
    diagnostic = only_diagnostic({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {1, 2}}}})
    assert diagnostic.code == "SCHEMA_VALIDATION_FAILED"
    assert diagnostic.location == "/"
    assert "not made of JSON values" in diagnostic.message


def test_not_json_names_line_and_column_with_a_caret() -> None:
    diagnostic = only_diagnostic("not a definition")
    assert diagnostic.code == "INVALID_JSON_DESCRIPTION"
    assert diagnostic.location == "line 1, column 1"
    assert diagnostic.message == "Invalid JSON: Expecting value at line 1, column 1\n  not a definition\n  ^"


def test_the_position_is_counted_in_characters_on_the_right_line() -> None:
    text = '{\n  "Comment": "héllo wörld",\n  "StartAt": ,\n}'
    diagnostic = only_diagnostic(text)
    assert diagnostic.location == "line 3, column 14"
    assert diagnostic.message.splitlines()[1:] == ['    "StartAt": ,', "               ^"]


def test_a_long_line_is_cut_around_the_error() -> None:
    text = '{"Comment": "' + "x" * 500 + '", "StartAt": }'
    diagnostic = only_diagnostic(text)
    _, shown, caret = diagnostic.message.splitlines()
    assert len(shown.strip()) <= 60
    assert shown[caret.index("^")] == "}"


def test_what_only_orjson_rejects_keeps_orjson_position() -> None:
    diagnostic = only_diagnostic('{"StartAt": NaN}')
    assert diagnostic.code == "INVALID_JSON_DESCRIPTION"
    assert diagnostic.location == "line 1, column 13"


def test_bytes_that_are_not_utf8_are_rejected() -> None:
    diagnostic = only_diagnostic(b'{"StartAt": "\xff"}')
    assert diagnostic.code == "INVALID_JSON_DESCRIPTION"
    assert diagnostic.location == "byte 13"


@pytest.mark.parametrize("text", ["", "   \n", b""])
def test_empty_text_is_a_missing_description(text: str | bytes) -> None:
    diagnostic = only_diagnostic(text)
    assert (diagnostic.code, diagnostic.location) == ("MISSING_DESCRIPTION", "/")


@pytest.mark.parametrize(("text", "kind"), [("[]", "an array"), ('"x"', "a string"), ("42", "a scalar")])
def test_a_top_level_that_is_not_an_object_is_a_schema_error(text: str, kind: str) -> None:
    diagnostic = only_diagnostic(text)
    assert (diagnostic.code, diagnostic.location) == ("SCHEMA_VALIDATION_FAILED", "/")
    assert diagnostic.message.endswith(f"got {kind}")


def test_a_state_name_twice_in_one_states_object_is_reported_at_every_level() -> None:
    text = """{"StartAt": "A", "States": {
        "A": {"Type": "Succeed"},
        "A": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "x/y", "States": {"x/y": {"Type": "Succeed"}, "x/y": {"Type": "Succeed"}}}
        ]},
        "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "i", "States": {
            "i": {"Type": "Succeed"}, "i": {"Type": "Succeed"}}}}
    }}"""
    with pytest.raises(DefinitionError) as raised:
        load_definition(text)
    assert [(d.code, d.location) for d in raised.value.diagnostics] == [
        ("DUPLICATE_STATE_NAME", "/States/A"),
        ("DUPLICATE_STATE_NAME", "/States/A/Branches/0/States/x~1y"),
        ("DUPLICATE_STATE_NAME", "/States/M/ItemProcessor/States/i"),
    ]


def test_a_repeated_key_outside_the_machine_structure_is_not_a_state_name() -> None:
    text = """{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,
        "Result": {"States": {"k": 1, "k": 2}}}}}"""
    assert load_definition(text)["States"]["A"]["Result"] == {"States": {"k": 2}}


def test_unsupported_source_types_are_a_type_error() -> None:
    with pytest.raises(TypeError):
        load_definition(42)  # type: ignore[arg-type]
