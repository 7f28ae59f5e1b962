"""Payload templates (Parameters, ResultSelector): the member-copy fast path agrees with the general one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from express.asl.templates import compile_template
from express.errors import FieldFailure
from express.runtime.context import ExecutionContext

CTX = ExecutionContext(input={})
RESHAPE = {"device.$": "$.device_id", "value.$": "$.value", "route": "timeseries", "nested": {"k": 1}}
# The same template, but one read is deeper: it goes through the general builder.
GENERAL = {**RESHAPE, "site.$": "$.where.site"}


def test_member_reads_copy_members_after_the_constants() -> None:
    build = compile_template(RESHAPE)
    out = build({"device_id": "d1", "value": 3.5, "extra": True}, CTX)
    assert out == {"route": "timeseries", "nested": {"k": 1}, "device": "d1", "value": 3.5}
    assert list(out) == ["route", "nested", "device", "value"]


@pytest.mark.parametrize("document", [{"device_id": "d1"}, [1], "text", 3, None])
def test_a_missing_member_or_a_non_object_input_fails_as_the_general_builder_does(document: Any) -> None:
    with pytest.raises(FieldFailure) as fast:
        compile_template(RESHAPE)(document, CTX)
    with pytest.raises(FieldFailure) as general:
        compile_template({**RESHAPE, "zz.$": "$.a.b"})(document, CTX)
    assert str(fast.value) == str(general.value)
    assert "The JSONPath '$.value' specified for the field 'value.$' could not be found" in str(
        fast.value
    ) or ("'$.device_id'" in str(fast.value))


@given(
    st.dictionaries(
        st.sampled_from(["device_id", "value", "where", "other"]),
        st.one_of(
            st.integers(-(2**63), 2**63 - 1),
            st.text(max_size=3),
            st.fixed_dictionaries({"site": st.booleans()}),
        ),
    )
)
def test_fast_and_general_builders_agree(document: dict[str, Any]) -> None:
    def outcome(template: dict[str, Any]) -> Any:
        try:
            out = compile_template(template)(document, CTX)
        except FieldFailure as failure:
            return ("failure", str(failure))
        return {k: v for k, v in out.items() if k != "site"}

    general = outcome(GENERAL)
    fast = outcome(RESHAPE)
    if isinstance(general, tuple) and "'$.where.site'" in general[1]:
        return  # only the general template reads that path
    assert fast == general
    if not isinstance(fast, tuple):
        assert fast == {
            "route": "timeseries",
            "nested": {"k": 1},
            "device": document["device_id"],
            "value": document["value"],
        }
