"""Decoding JSON within limits: deep nesting and long integers are refused before decoding, and
nothing that merely looks deep (brackets in strings, escaped quotes) is."""

from __future__ import annotations

import json

import pytest

from pco_pipeline.pco.bounded_json import MAX_DEPTH, MAX_INTEGER_DIGITS, JSONLimitExceeded, loads


def nested(depth: int, opener: str) -> str:
    """`depth` arrays, or objects, one inside the other."""
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("opener", ["[", "{"])
def test_nesting_up_to_the_limit_decodes_and_one_level_more_is_refused(opener):
    assert loads(nested(MAX_DEPTH, opener)) == json.loads(nested(MAX_DEPTH, opener))
    with pytest.raises(JSONLimitExceeded, match=f"is nested deeper than {MAX_DEPTH} levels"):
        loads(nested(MAX_DEPTH + 1, opener))


def test_nesting_far_past_what_python_can_decode_is_refused_not_a_recursion_error():
    with pytest.raises(JSONLimitExceeded):
        loads(b"[" * 1_000_000 + b"]" * 1_000_000)
    with pytest.raises(JSONLimitExceeded):
        loads('{"a":' * 200_000)  # unterminated, too: the depth is what is refused


@pytest.mark.parametrize("text", [
    json.dumps({"note": "[" * 10_000, "other": "{" * 10_000}),         # brackets inside strings
    json.dumps({"quote": '"[[[[' * 1_000}),                             # escaped quotes do not end a string
    json.dumps({"backslash": "\\" * 99 + "[" * 1_000}),                 # nor do escaped backslashes start one
    json.dumps([[i] for i in range(10_000)]),                           # many brackets, shallow
])
def test_what_only_looks_deep_decodes(text):
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


def test_integers_up_to_the_digit_limit_decode_and_longer_ones_are_refused():
    longest = "7" * MAX_INTEGER_DIGITS
    assert loads(f'{{"id": {longest}, "neg": -{longest}}}') == {"id": int(longest), "neg": -int(longest)}
    for digits in (MAX_INTEGER_DIGITS + 1, 5_000, 100_000):
        with pytest.raises(JSONLimitExceeded, match=f"holds a number of more than {MAX_INTEGER_DIGITS} digits"):
            loads(f'{{"id": {"7" * digits}}}')


def test_malformed_text_fails_as_json_loads_does():
    with pytest.raises(json.JSONDecodeError):
        loads("{not json")
    with pytest.raises(UnicodeDecodeError):
        loads(b'"\xff\xfe"')
    with pytest.raises(TypeError):
        loads({"already": "decoded"})  # pyright: ignore[reportArgumentType]  # the wrong type on purpose
