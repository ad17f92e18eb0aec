"""Typed readers for TOML values: each checks one value and names its key when it is wrong.

A :class:`Reader` knows the file and nothing of the scenario schema: it checks that a
value is a string, one of some choices, a list of strings, a positive integer, hex bytes,
and that a table holds only known keys.  Every failure is a
:class:`~biopair.scenario.model.ScenarioError` naming the file, the key path and the
problem, with the nearest valid word when there is one ("did you mean 'accept'?").  The
loader (:mod:`biopair.scenario.loader`) says which key takes which reader.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from biopair.scenario.model import ScenarioError

T = TypeVar("T")


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``choices``, or "" when none is near.

    Returns:
        The clause to append to a message.
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe(value: Any) -> str:
    """A TOML value's kind and value for a message (``boolean true``, ``int 3``, ``a table``).

    Returns:
        The description.
    """
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"{type(value).__name__} {value!r}"


def quote(choices: Iterable[str]) -> str:
    """``'a', 'b', 'c'``: choices as a message lists them."""
    return ", ".join(repr(c) for c in choices)


class Reader:
    """Typed readers bound to one file, so that every error names it.

    Attributes:
        path: the file being read.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def fail(self, key: str, message: str) -> ScenarioError:
        """The error to raise for ``key`` (the caller raises it, so tracebacks point there).

        Returns:
            The :class:`ScenarioError`.
        """
        return ScenarioError(self.path, key, message)

    def keys(self, table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        """Refuse a key of ``table`` that is not in ``allowed``.

        Raises:
            ScenarioError: at ``where.key``, suggesting the nearest allowed key.
        """
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                path = f"{where}.{key}" if where else key
                raise self.fail(path, f"unknown key{suggest(key, allowed)}")

    def typed(self, value: Any, kind: type[T], key: str, what: str) -> T:
        """``value`` when it is an instance of ``kind`` (a boolean is never an int).

        Raises:
            ScenarioError: "expected WHAT, got ..." otherwise.
        """
        if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
            raise self.fail(key, f"expected {what}, got {describe(value)}")
        return value

    def string(self, value: Any, key: str) -> str:
        """A string.

        Raises:
            ScenarioError: for any other value.
        """
        return self.typed(value, str, key, "a string")

    def boolean(self, value: Any, key: str) -> bool:
        """``true`` or ``false``.

        Raises:
            ScenarioError: for any other value.
        """
        return self.typed(value, bool, key, "true or false")

    def table(self, value: Any, key: str) -> dict[str, Any]:
        """A TOML table.

        Raises:
            ScenarioError: for any other value.
        """
        return self.typed(value, dict, key, "a table")

    def choice(self, value: Any, choices: Iterable[str], key: str) -> str:
        """One of ``choices``.

        Raises:
            ScenarioError: listing the choices and suggesting the nearest.
        """
        choices = tuple(choices)
        if not isinstance(value, str):
            raise self.fail(key, f"expected one of {quote(choices)}, got {describe(value)}")
        if value not in choices:
            raise self.fail(
                key, f"{value!r} is not one of {quote(choices)}{suggest(value, choices)}"
            )
        return value

    def str_list(
        self, value: Any, key: str, check: Callable[[str, str], None] | None = None
    ) -> tuple[str, ...]:
        """A list of strings, each passed to ``check(item, "key[i]")`` (counting from 1).

        Raises:
            ScenarioError: for anything else, or what ``check`` raises.
        """
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"expected a list of strings, got {describe(value)}")
        for i, item in enumerate(value):
            if check is not None:
                check(item, f"{key}[{i + 1}]")
        return tuple(value)

    def positive(self, value: Any, key: str, zero: bool = False) -> int:
        """An integer >= 1 (>= 0 with ``zero``).

        Raises:
            ScenarioError: for a non-integer or one too small.
        """
        n = self.typed(value, int, key, "an integer")
        if n < (0 if zero else 1):
            raise self.fail(key, f"must be {'>= 0' if zero else '>= 1'}, got {n}")
        return int(n)

    def at_most(self, value: Any, key: str, limit: int, what: str) -> int:
        """An integer from 1 to ``limit`` (``what`` names the limit: "bytes").

        Raises:
            ScenarioError: for a non-integer, or one out of range.
        """
        n = self.positive(value, key)
        if n > limit:
            raise self.fail(key, f"must be at most {limit} {what}, got {n}")
        return n

    def hex_bytes(self, value: Any, key: str, nonzero: bool = False) -> bytes:
        """Bytes written as hex digits (spaces allowed); at least one byte, and with
        ``nonzero`` not all zero.

        Raises:
            ScenarioError: for a non-string, bad hex, no bytes, or (nonzero) all zeros.
        """
        text = self.typed(value, str, key, "a hex string")
        try:
            data = bytes.fromhex(text)
        except ValueError:
            raise self.fail(key, f"not hex bytes: {text!r} (write pairs of hex digits, "
                                 f"spaces allowed)") from None
        if not data:
            raise self.fail(key, "needs at least one byte")
        if nonzero and not any(data):
            raise self.fail(key, "all zero: XOR with it would change nothing")
        return data

    def ascii(self, value: str, key: str) -> None:
        """Refuse a string with non-ASCII characters (C libraries take C strings).

        Raises:
            ScenarioError: naming the string.
        """
        if not value.isascii():
            raise self.fail(key, f"must be ASCII (OpenSSL takes these as C strings), got "
                                 f"{value!r}")

    def name_in(self, names: Iterable[str], what: str) -> Callable[[str, str], None]:
        """A ``check`` for :meth:`str_list`: each item must be one of ``names``.

        Returns:
            The check, which raises "unknown WHAT 'x' (did you mean ...)".
        """
        names = tuple(names)

        def check(value: str, key: str) -> None:
            if value not in names:
                raise self.fail(key, f"unknown {what} {value!r}{suggest(value, names)}")

        return check
