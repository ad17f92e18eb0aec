"""The typed TOML readers: each accepts its kind of value and names the key when it is wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from biopair.scenario.model import ScenarioError
from biopair.scenario.readers import Reader, describe, suggest

R = Reader("f.toml")


@pytest.mark.parametrize(("read", "value", "expected"), [
    (lambda v: R.string(v, "k"), "x", "x"),
    (lambda v: R.boolean(v, "k"), False, False),
    (lambda v: R.table(v, "k"), {"a": 1}, {"a": 1}),
    (lambda v: R.choice(v, ("ca", "none"), "k"), "none", "none"),
    (lambda v: R.str_list(v, "k"), ["a", "b"], ("a", "b")),
    (lambda v: R.positive(v, "k"), 3, 3),
    (lambda v: R.positive(v, "k", zero=True), 0, 0),
    (lambda v: R.at_most(v, "k", 10, "bytes"), 10, 10),
    (lambda v: R.hex_bytes(v, "k"), "15 03 03", b"\x15\x03\x03"),
])
def test_a_reader_returns_a_good_value(read: Callable[[Any], Any], value: Any,
                                       expected: Any) -> None:
    assert read(value) == expected


@pytest.mark.parametrize(("read", "value", "message"), [
    (lambda v: R.string(v, "k"), 3, "expected a string, got int 3"),
    (lambda v: R.boolean(v, "k"), "yes", "expected true or false, got str 'yes'"),
    (lambda v: R.table(v, "k"), [1], "expected a table, got an array"),
    (lambda v: R.positive(v, "k"), True, "expected an integer, got boolean true"),
    (lambda v: R.positive(v, "k"), 0, "must be >= 1, got 0"),
    (lambda v: R.positive(v, "k", zero=True), -1, "must be >= 0, got -1"),
    (lambda v: R.at_most(v, "k", 10, "bytes"), 11, "must be at most 10 bytes, got 11"),
    (lambda v: R.choice(v, ("accept", "connect"), "k"), "acept",
     "'acept' is not one of 'accept', 'connect' (did you mean 'accept'?)"),
    (lambda v: R.choice(v, ("ca", "none"), "k"), 1, "expected one of 'ca', 'none', got int 1"),
    (lambda v: R.str_list(v, "k"), ["a", 1], "expected a list of strings, got an array"),
    (lambda v: R.str_list(v, "k"), "a", "expected a list of strings, got str 'a'"),
    (lambda v: R.hex_bytes(v, "k"), "zz", "not hex bytes: 'zz'"),
    (lambda v: R.hex_bytes(v, "k"), "", "needs at least one byte"),
    (lambda v: R.hex_bytes(v, "k", nonzero=True), "0000", "all zero"),
])
def test_a_reader_names_the_key_and_the_problem(read: Callable[[Any], Any], value: Any,
                                                message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        read(value)
    assert (info.value.path, info.value.key) == ("f.toml", "k")
    assert message in info.value.message
    assert str(info.value).startswith("f.toml: k: ")


def test_each_list_item_is_checked_at_its_own_key() -> None:
    with pytest.raises(ScenarioError) as info:
        R.str_list(["AUTO_RETRY", "AUTO_RETRI"], "client.modes",
                   R.name_in(("AUTO_RETRY", "RELEASE_BUFFERS"), "mode"))
    assert info.value.key == "client.modes[2]"
    assert info.value.message == "unknown mode 'AUTO_RETRI' (did you mean 'AUTO_RETRY'?)"


def test_unknown_keys_are_named_with_their_table() -> None:
    R.keys({"verify": True}, ("verify", "trust"), "client")
    with pytest.raises(ScenarioError) as info:
        R.keys({"verfy": True}, ("verify", "trust"), "client")
    assert (info.value.key, info.value.message) == ("client.verfy",
                                                    "unknown key (did you mean 'verify'?)")
    with pytest.raises(ScenarioError) as top:
        R.keys({"titel": "x"}, ("title",), "")
    assert top.value.key == "titel"


def test_non_ascii_is_refused_for_c_strings() -> None:
    R.ascii("server.test", "k")
    with pytest.raises(ScenarioError, match="must be ASCII"):
        R.ascii("sérver", "k")


def test_suggest_and_describe() -> None:
    assert suggest("bytwise", ("bytewise", "all")) == " (did you mean 'bytewise'?)"
    assert suggest("zzz", ("bytewise", "all")) == ""
    values: tuple[object, ...] = (True, {}, [], 2.5)
    assert [describe(v) for v in values] == [
        "boolean true", "a table", "an array", "float 2.5"]
