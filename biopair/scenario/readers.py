"""Typed readers for TOML values: each checks one value and names its key when it is wrong.

A :class:`Reader` knows the file and nothing of the scenario schema: it checks that a
value is a string, one of some choices, a list of strings, a positive integer, hex bytes,
and that a table holds only known keys.  Every failure is a
:class:`~biopair.scenario.model.ScenarioError` naming the file, the key path and the
problem, with the nearest valid word when there is one ("did you mean 'accept'?").  The
loader (:mod:`biopair.scenario.loader`) says which key takes which reader.

This module also holds every limit a scenario file can hit (``MAX_*`` below), and the
rules for strings that reach a C library, a certificate or another program.  A scenario
is hostile input until it has loaded: each value that reaches OpenSSL, the
IDNA codec, the certificate builder or an external program's command line is checked
here against what the receiving side accepts, so that a bad value is one line naming its
key (a :class:`~biopair.scenario.model.ScenarioError`), never an exception from deep
inside a run.  The rules are the receivers' own:

* a **host name** (``verify_host``): what ``X509_VERIFY_PARAM_set1_host`` accepts --
  labels of letters, digits, ``-`` and ``_``, 1 to 63 bytes each, no ``-`` at either end
  of a label, no empty label (so no leading, trailing or double dot), at most 253 bytes;
* a **server name** (``server_name``, the SNI of RFC 6066 section 3): a host name as
  above, ASCII (write an internationalised name as its A-label, ``xn--...``), and not a
  literal IPv4 or IPv6 address;
* a **certificate host** (``cert_host``): a host name, optionally with a leading ``*.``
  wildcard label, or an IP address; at most 64 characters (``ub-common-name`` of
  RFC 5280, the certificate's CN);
* an **ALPN protocol name**: 1 to 255 bytes (RFC 7301), visible ASCII without ``,`` (the
  peers' command lines separate names with commas);
* an **OpenSSL list** (``ciphers``, ``ciphersuites``): printable ASCII, at most
  :data:`MAX_OPENSSL_STRING` characters; a ``groups`` or ``sigalgs`` entry: a name of
  letters, digits and ``_ - + .``, at most :data:`MAX_LIST_NAME` characters (a ``:``
  would smuggle a second entry in), at most :data:`MAX_LIST_ENTRIES` entries;
* a **one-line text** (``title``, ``tags``): no control characters; free text
  (``about``, ``note``) may also hold newlines and tabs.

The file-level limits (:data:`MAX_FILE_BYTES`, :data:`MAX_NESTING`) are checked before
TOML parsing, the pattern limits before a pattern is compiled.  ``docs/scenario-format.md``
("Limits") lists them all, with what happens at each.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from biopair.scenario.model import ScenarioError, controls, number, shown

T = TypeVar("T")


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``choices``, or "" when none is near.

    Returns:
        The clause to append to a message.
    """
    if len(word) > 100:
        return ""
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
    if isinstance(value, int):
        return f"int {number(value)}"
    if isinstance(value, str):
        return f"str {shown(value)}"
    return f"{type(value).__name__} {value!r}"


def quote(choices: Iterable[str]) -> str:
    """``'a', 'b', 'c'``: choices as a message lists them."""
    return ", ".join(shown(c) for c in choices)


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
                key, f"{shown(value)} is not one of {quote(choices)}{suggest(value, choices)}"
            )
        return value

    def str_list(
        self, value: Any, key: str, check: Callable[[str, str], object] | None = None
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
            raise self.fail(key, f"must be {'>= 0' if zero else '>= 1'}, got {number(n)}")
        return int(n)

    def at_most(self, value: Any, key: str, limit: int, what: str, zero: bool = False
                ) -> int:
        """An integer from 1 (0 with ``zero``) to ``limit`` (``what`` names the unit:
        "bytes").

        Raises:
            ScenarioError: for a non-integer, or one out of range.
        """
        n = self.positive(value, key, zero)
        if n > limit:
            raise self.fail(key, f"must be at most {limit}{' ' if what else ''}{what}, "
                                 f"got {number(n)}")
        return n

    def between(self, value: Any, key: str, lo: int, hi: int) -> int:
        """An integer from ``lo`` to ``hi``.

        Raises:
            ScenarioError: for a non-integer, or one out of range.
        """
        n = self.typed(value, int, key, "an integer")
        if not lo <= n <= hi:
            raise self.fail(key, f"must be from {lo:,} to {hi:,}, got {number(n)}")
        return int(n)

    def checked(self, value: str, key: str, problem: Callable[[str], str | None]) -> str:
        """``value`` when ``problem(value)`` finds nothing wrong with it (the rules are in
        this module's ``*_problem`` functions).

        Raises:
            ScenarioError: "PROBLEM: 'value'".
        """
        found = problem(value)
        if found is not None:
            raise self.fail(key, f"{found}: {shown(value)}")
        return value

    def text(self, value: Any, key: str, lines: bool = False) -> str:
        """A string without control characters (``lines``: newlines and tabs allowed).

        Raises:
            ScenarioError: for a non-string, or one holding a control character.
        """
        text = self.string(value, key)
        bad = controls(text, "\n\t\r" if lines else "")
        if bad is not None:
            raise self.fail(key, f"control character {bad!r} in {shown(text)}")
        return text

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
            raise self.fail(key, f"not hex bytes: {shown(text)} (write pairs of hex digits, "
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
                                 f"{shown(value)}")

    def name_in(self, names: Iterable[str], what: str) -> Callable[[str, str], None]:
        """A ``check`` for :meth:`str_list`: each item must be one of ``names``.

        Returns:
            The check, which raises "unknown WHAT 'x' (did you mean ...)".
        """
        names = tuple(names)

        def check(value: str, key: str) -> None:
            if value not in names:
                raise self.fail(key, f"unknown {what} {shown(value)}{suggest(value, names)}")

        return check


# -- limits and the rules of strings that reach a C library -----------------------------
#: The largest scenario file read (1 MiB); larger is refused before parsing.
MAX_FILE_BYTES = 1 << 20
#: The deepest nesting of arrays and inline tables in a file (checked before parsing:
#: the TOML parser recurses).
MAX_NESTING = 32
#: The largest read, peek or write a step may ask for (64 MiB), and the largest payload.
MAX_SIZE = 1 << 26
#: The largest call cap (``max_calls``), and so the longest outcome sequence.
MAX_CALLS = 10_000_000
#: The largest bound a pattern quantifier may give (``WANT_READ{N}``): a sequence is never
#: longer than the call cap.
MAX_QUANTIFIER = MAX_CALLS
#: The longest outcome pattern, in characters.
MAX_PATTERN_CHARS = 10_000
#: The deepest nesting of parentheses in a pattern.
MAX_PATTERN_DEPTH = 32
#: The largest return value a pattern may name (a C int).
MAX_RETURN = (1 << 31) - 1
#: The largest stream offset, record index, sweep position or stride (4 GiB of stream).
MAX_OFFSET = (1 << 32) - 1
#: ``at``: a byte inside a record, counted from either end (a record is at most
#: 5 + 65535 bytes).
MAX_AT = 65540
#: ``max_early_data``: SSL_CTX_set_max_early_data takes a uint32_t.
MAX_EARLY_DATA = (1 << 32) - 1
#: ``count`` of a coalesce, the entries of a ``deliver`` list, a hold's count.
MAX_COUNT = 65536
#: The longest ciphers/ciphersuites string.
MAX_OPENSSL_STRING = 1024
#: The longest groups/sigalgs entry, and the most entries in such a list.
MAX_LIST_NAME = 64
MAX_LIST_ENTRIES = 64
#: The longest host name (RFC 1035: 253 bytes in text form) and label.
MAX_HOST = 253
MAX_LABEL = 63
#: The longest certificate host: the X.509 CN upper bound (RFC 5280 ub-common-name).
MAX_CN = 64
#: The most digits a version number's part may have in a condition.
MAX_VERSION_DIGITS = 9

_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\Z")
_LIST_NAME = re.compile(r"[A-Za-z0-9_.+-]+\Z")
_DIGITS = re.compile(r"[0-9]+")


def host_problem(host: str) -> str | None:
    """Why ``host`` is not a host name OpenSSL's X509_VERIFY_PARAM_set1_host accepts.

    Returns:
        The problem, or None when it is one.
    """
    if not host.isascii():
        return "must be ASCII (write an internationalised name as its A-label, xn--...)"
    if len(host) > MAX_HOST:
        return f"a host name is at most {MAX_HOST} bytes, got {len(host)}"
    for label in host.split("."):
        if not label:
            return "has an empty label (a leading, trailing or double dot)"
        if len(label) > MAX_LABEL:
            return f"a label is at most {MAX_LABEL} bytes, got {len(label)}"
        if not _LABEL.match(label):
            return (f"label {shown(label)} is not letters, digits, '-' and '_' "
                    f"(no '-' at either end)")
    return None


def server_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be sent as SNI (RFC 6066 section 3: a DNS host name, ASCII,
    no trailing dot, not a literal IP address).

    Returns:
        The problem, or None.
    """
    problem = host_problem(name)
    if problem is not None:
        return problem
    if _is_ip(name):
        return "is an IP address: RFC 6066 does not allow a literal address as SNI"
    return None


def cert_host_problem(host: str) -> str | None:
    """Why ``host`` cannot name a test certificate (its CN and subjectAltName).

    Returns:
        The problem, or None.
    """
    if len(host) > MAX_CN:
        return (f"is the certificate's CN, at most {MAX_CN} characters (RFC 5280 "
                f"ub-common-name), got {len(host)}")
    if _is_ip(host) and "%" not in host:
        return None
    name = host[2:] if host.startswith("*.") else host
    return host_problem(name)


def alpn_problem(proto: str) -> str | None:
    """Why ``proto`` is not an ALPN protocol name biopair can offer.

    Returns:
        The problem, or None.
    """
    if not proto.isascii():
        return "must be ASCII (OpenSSL takes these as C strings)"
    if not 1 <= len(proto.encode()) <= 255:
        return f"an ALPN protocol name is 1 to 255 bytes, got {len(proto.encode())}"
    if not all("!" <= ch <= "~" and ch != "," for ch in proto):
        return "must be visible ASCII without ',' (no spaces or control characters)"
    return None


def openssl_string_problem(text: str) -> str | None:
    """Why ``text`` cannot be an OpenSSL cipher list.

    Returns:
        The problem, or None.
    """
    if len(text) > MAX_OPENSSL_STRING:
        return f"at most {MAX_OPENSSL_STRING} characters, got {len(text)}"
    if not all(" " <= ch <= "~" for ch in text):
        return "must be printable ASCII (OpenSSL takes it as a C string)"
    return None


def list_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be one entry of a groups or sigalgs list.

    Returns:
        The problem, or None.
    """
    if not name.isascii():
        return "must be ASCII (OpenSSL takes these as C strings)"
    if not 1 <= len(name) <= MAX_LIST_NAME:
        return f"a name is 1 to {MAX_LIST_NAME} characters, got {len(name)}"
    if not _LIST_NAME.match(name):
        return "must be letters, digits and '_', '-', '+', '.' (one name per entry)"
    return None


def pattern_problem(text: str) -> str | None:
    """Why an outcome pattern is over the loader's limits: its length, the nesting of
    its parentheses, its numbers (ASCII digits, a return value within a C int, a
    quantifier bound at most :data:`MAX_QUANTIFIER`) -- checked before it is compiled.

    Returns:
        The problem, or None (the pattern may still be malformed: the compiler says).
    """
    if len(text) > MAX_PATTERN_CHARS:
        return f"a pattern is at most {MAX_PATTERN_CHARS} characters, got {len(text)}"
    bad = controls(text, "\t\n\r")
    if bad is not None:
        return f"control character {bad!r} in a pattern"
    # The pattern's syntax outside its quoted reason strings is ASCII.
    outside = re.sub(r'"[^"]*"', '""', text)
    if not outside.isascii():
        ch = next(c for c in outside if not c.isascii())
        return f"{ch!r} outside a quoted reason (the pattern language is ASCII)"
    depth = 0
    for ch in outside:
        if ch == "(":
            depth += 1
            if depth > MAX_PATTERN_DEPTH:
                return f"parentheses nest at most {MAX_PATTERN_DEPTH} deep"
        elif ch == ")":
            depth -= 1
    for m in re.finditer(r"\{([0-9]*)(?:,([0-9]*))?\}", outside):
        for bound in m.groups():
            if bound and (len(bound) > 9 or int(bound) > MAX_QUANTIFIER):
                return (f"quantifier {shown(m.group(0), 30)}: a bound is at most "
                        f"{MAX_QUANTIFIER:,} (the largest max_calls)")
    for m in _DIGITS.finditer(re.sub(r"\{[^}]*\}", "", outside)):
        if len(m.group(0)) > 10 or int(m.group(0)) > MAX_RETURN:
            return (f"return value {shown(m.group(0), 30)}: at most {MAX_RETURN:,} "
                    f"(a C int)")
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
