"""Version conditions: how a scenario says that an expectation depends on the TLS stack.

OpenSSL releases differ in small, documented ways (reason strings change; after a fatal
error 3.x reports SSL_ERROR_SYSCALL where 4.0 reports SSL_ERROR_SSL; default key shares
grow).  A scenario that runs across the version matrix states each difference where it
matters, instead of being skipped::

    expect = { "openssl >= 4.0" = "SSL", "openssl < 4.0" = "SYSCALL" }

A condition is one or more comparisons joined by ``and``::

    condition  := comparison ("and" comparison)* | "else"
    comparison := LIBRARY OP VERSION
    LIBRARY    := openssl | pyopenssl | cryptography | stdlib-openssl | libssl | wolfssl
                | tlslite-ng | twisted | trio | python
    OP         := >= | > | <= | < | == | !=

``openssl`` is the OpenSSL that pyOpenSSL is linked against (bundled in the cryptography
wheel); ``stdlib-openssl`` is the one Python's ``ssl`` module uses; ``libssl`` is the
system's ``libssl.so.3`` that ``stack = "libssl"`` loads; ``wolfssl`` and ``tlslite-ng``
are those stacks, ``python`` the running interpreter (a comparison naming a library
that is not installed does not hold, and says so).  Versions compare numerically,
truncated to the precision the condition names: with OpenSSL 3.5.6, ``openssl == 3.5``
and ``openssl <= 3.5`` hold and ``openssl < 3.5`` does not.

In a table of conditions the first condition that holds wins (TOML keeps the order of
the file); ``else`` holds always.  The loader validates every branch and chooses none
(:class:`~biopair.scenario.model.Versioned`); a run chooses, for the stack it runs on
(:mod:`biopair.scenario.resolve`).  A table in which no condition holds for that stack is
a bad scenario (exit 2), never a silent pass.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from biopair.endpoints.versions import stack_versions, version_numbers

#: Libraries a condition may name.
LIBRARIES: tuple[str, ...] = ("openssl", "pyopenssl", "cryptography", "stdlib-openssl",
                               "libssl", "wolfssl", "tlslite-ng", "twisted", "trio",
                               "python")
_OPS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
# ASCII digits, at most 9 to a part: \d would take any Unicode digit, and int() refuses
# more than 4300.
_COMPARISON = re.compile(
    r"^\s*([a-z-]+)\s*(>=|<=|==|!=|>|<)\s*([0-9]{1,9}(?:\.[0-9]{1,9}){0,7})\s*$")
ELSE = "else"
T = TypeVar("T")
#: A stack's versions by library name (``{"openssl": (3, 5, 4), ...}``): what conditions
#: are judged against.  The runner passes the running stack's (:func:`stack_versions`);
#: tests pass made-up ones.
Versions = Mapping[str, tuple[int, ...]]


class ConditionError(ValueError):
    """A malformed condition; the message says what is wrong."""


def parse_version(text: str) -> tuple[int, ...]:
    """The leading dotted number of ``text`` as a tuple (``"OpenSSL 3.1.4 24 Oct"`` -> (3, 1, 4)).

    Raises:
        ConditionError: when ``text`` holds no version number.
    """
    try:
        return version_numbers(text)
    except ValueError as exc:
        raise ConditionError(str(exc)) from None


@dataclass(frozen=True)
class Comparison:
    """``library op version``."""

    library: str
    op: str
    version: tuple[int, ...]

    def holds(self, versions: Mapping[str, tuple[int, ...]]) -> bool:
        """True when the running ``library`` satisfies the comparison (False when it is
        not installed)."""
        if self.library not in versions:
            return False
        actual = versions[self.library][: len(self.version)]
        return _OPS[self.op](actual, self.version)

    def __str__(self) -> str:
        return f"{self.library} {self.op} {'.'.join(map(str, self.version))}"


@dataclass(frozen=True)
class Condition:
    """Comparisons that must all hold (an empty tuple is ``else``)."""

    text: str
    comparisons: tuple[Comparison, ...]

    def holds(self, versions: Mapping[str, tuple[int, ...]] | None = None) -> bool:
        """True when every comparison holds for ``versions`` (default: the running stack)."""
        vs = stack_versions() if versions is None else versions
        return all(c.holds(vs) for c in self.comparisons)

    def unmet(self, versions: Mapping[str, tuple[int, ...]] | None = None) -> str:
        """The comparisons that do not hold, with the running versions, for a message."""
        vs = stack_versions() if versions is None else versions
        parts = [f"{c} (have {'.'.join(map(str, vs[c.library]))})" if c.library in vs
                 else f"{c} ({c.library} is not installed)"
                 for c in self.comparisons if not c.holds(vs)]
        return ", ".join(parts)


def parse_condition(text: str) -> Condition:
    """Parse ``"openssl >= 3.2 and openssl < 4.0"`` or ``"else"``.

    Raises:
        ConditionError: naming the part that is wrong.
    """
    if text.strip() == ELSE:
        return Condition(text, ())
    comparisons = []
    for part in re.split(r"\band\b", text):
        m = _COMPARISON.match(part)
        if m is None:
            raise ConditionError(
                f"cannot read {_shown(part.strip())} in condition {_shown(text)}: expected "
                f"LIBRARY OP VERSION like \"openssl >= 3.2\" (or \"else\"; a version is "
                f"up to 8 parts of up to 9 digits)")
        library, op, version = m.groups()
        if library not in LIBRARIES:
            raise ConditionError(f"unknown library {library!r} in condition {_shown(text)}; "
                                 f"expected one of {', '.join(LIBRARIES)}")
        comparisons.append(Comparison(library, op, parse_version(version)))
    return Condition(text, tuple(comparisons))


def _shown(text: str) -> str:
    # (The scenario model's shown(); conditions sit below the model.)
    return repr(text) if len(text) <= 80 else f"{text[:80]!r}... ({len(text)} characters)"


def first_holding(branches: Sequence[tuple[Condition, T]], versions: Versions
                  ) -> tuple[Condition, T]:
    """The first ``(condition, value)`` branch whose condition holds for ``versions``.

    Returns:
        That branch.

    Raises:
        ConditionError: when none holds (the message names the versions).
    """
    for cond, value in branches:
        if cond.holds(versions):
            return cond, value
    have = ", ".join(f"{lib} {'.'.join(map(str, v))}" for lib, v in versions.items())
    raise ConditionError(f"no condition holds for this stack ({have}); add one, or \"else\"")


def choose(options: Mapping[str, object],
           versions: Versions | None = None) -> tuple[str, object]:
    """Pick the value of the first condition that holds.

    Returns:
        (condition text, value).

    Raises:
        ConditionError: when a condition is malformed or none holds.
    """
    vs = stack_versions() if versions is None else versions
    parsed = [(parse_condition(text), value) for text, value in options.items()]
    if not parsed:
        raise ConditionError("an empty table of conditions")
    cond, value = first_holding(parsed, vs)
    return cond.text, value
