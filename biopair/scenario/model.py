"""The scenario model: what a validated scenario file says, as frozen data.

The loader (:mod:`biopair.scenario.loader`) builds these values from TOML and the runner
(:mod:`biopair.scenario.runner`) acts on them; nothing here reads a file, asks the TLS
stack anything or runs a step.

A value that differs between OpenSSL releases is written in a scenario as a table of
version conditions (``expect = { "openssl >= 4.0" = "SSL", "else" = "SYSCALL" }``).  The
model keeps such a table as a :class:`Versioned` value -- every branch validated, none
chosen -- so one loaded scenario fits every environment; a run picks the branch for the
stack it runs on (:func:`biopair.scenario.resolve.for_stack`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from biopair.endpoints.config import EndpointConfig
from biopair.engine.pair import DEFAULT_MAX_CALLS, Deliver, RunEntry
from biopair.outcome import Pattern
from biopair.scenario.conditions import Condition, Versions, first_holding
from biopair.transport.faults import Fault
from biopair.transport.holds import Condition as HoldCondition

#: The two endpoints, by the names scenarios use.
ENDPOINTS = ("client", "server")

T = TypeVar("T")


#: The most characters of a value an error line quotes.
SHOWN_CHARS = 80


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters, for an error line.

    Returns:
        The quoted text (``'aaaa...' (70000 characters)`` when cut).
    """
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def number(n: int) -> str:
    """An integer for a message: its digits, or its size when it has too many to print
    (Python refuses to print an int of more than 4300 digits).

    Returns:
        ``12345`` or ``an integer of 16610 bits``.
    """
    if n.bit_length() <= 128:
        return str(n)
    return f"{'-' if n < 0 else ''}an integer of {n.bit_length()} bits"


def escape(text: str) -> str:
    """``text`` with every control or line-breaking character escaped (``\\n``,
    ``\\x1b``, ``\\u2028``), so that it prints as one line and drives no terminal.

    Returns:
        The escaped text.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1] if ch not in "'\"" else ch)
    return "".join(out)


def controls(text: str, allow: str = "") -> str | None:
    """The first control character of ``text`` not in ``allow``, or None.

    Returns:
        The character, or None.
    """
    if text.isprintable():
        return None
    for ch in text:
        if ch not in allow and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn",
                                                             "Zl", "Zp"):
            return ch
    return None


class ScenarioError(Exception):
    """A scenario file that cannot be run as written.

    Attributes:
        path: the file.
        key: the key path (``steps[2].call``), or "" for the whole file.
        message: what is wrong.
    """

    def __init__(self, path: str | Path, key: str, message: str) -> None:
        self.path = str(path)
        self.key = key
        self.message = message
        super().__init__(format_error(self.path, key, message))


#: The longest key path and message an error line shows (a key can be any quoted string).
_KEY_CHARS = 200
_MESSAGE_CHARS = 1000


def format_error(path: str, key: str, message: str) -> str:
    """The one line a bad scenario is reported as: ``path: key: message``.

    Every part has its control and line-breaking characters escaped (a quoted TOML key
    may hold a newline or a terminal escape sequence), and an overlong key or message is
    cut, so the line is one line and drives no terminal.

    Returns:
        The line.
    """
    key = escape(key)
    if len(key) > _KEY_CHARS:
        key = f"{key[:_KEY_CHARS]}... ({len(key)} characters)"
    message = escape(message)
    if len(message) > _MESSAGE_CHARS:
        message = message[:_MESSAGE_CHARS] + "..."
    where = f"{escape(path)}: {key}: " if key else f"{escape(path)}: "
    return where + message


@dataclass(frozen=True)
class Versioned(Generic[T]):
    """A value chosen by version conditions when a run starts, not when the file loads.

    Attributes:
        branches: ``(condition, value)`` in the file's order; the first whose condition
            holds wins (``else`` holds always).  Every value is validated at load, so a
            typo in a branch for another OpenSSL fails everywhere.
    """

    branches: tuple[tuple[Condition, T], ...]

    def choose(self, versions: Versions) -> tuple[Condition, T]:
        """The branch for a stack with ``versions``.

        Returns:
            ``(condition, value)`` of the first branch that holds.

        Raises:
            biopair.scenario.conditions.ConditionError: when no branch holds.
        """
        return first_holding(self.branches, versions)


#: ``until`` on a call step repeats the call at most this many times by default
#: (``max_calls`` on the step sets another cap, up to :data:`UNTIL_MAX`).
UNTIL_CAP = 1000
UNTIL_MAX = 100_000


@dataclass(frozen=True)
class Sends:
    """``sends``: what a call (or all calls of a run entry) wrote for the peer.

    Attributes:
        nbytes: the exact byte count (``sends = 0``: nothing), or None.
        names: record and message names that must all be among what was written
            (``"alert"``, ``"alert:close_notify"``, ``"application_data"``, ``"Finished"``).
        absent: names that must not be (written ``"!alert"``).
        text: the value as the file wrote it, for reports.
    """

    nbytes: int | None = None
    names: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class CallStep:
    """``call = "endpoint op"``: one SSL call, optionally asserted.

    With ``until`` the call is repeated until an outcome matches it (at most
    ``max_calls`` times); ``expect`` then applies to the whole sequence.
    """

    index: int
    endpoint: str
    op: str
    expect: Pattern | Versioned[Pattern] | None = None
    size: int | None = None
    data: bytes | None = None
    buffer: str = "auto"
    expect_data: bytes | None = None
    sends: Sends | None = None
    until: Pattern | None = None
    max_calls: int = UNTIL_CAP


@dataclass(frozen=True)
class CheckStep:
    """``check = "endpoint"``: state asserted at this point of the run.

    Attributes:
        values: ``[result]`` keys and the state queries (``pending``, ``has_pending``,
            ``in_init``, ``session_resumable``) with their expected values (maybe
            :class:`Versioned` until a run resolves them).
    """

    index: int
    endpoint: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModeStep:
    """``clear_modes``/``set_modes``/``set_options = "endpoint NAME ..."``: change the live
    connection (clear, then set, then options)."""

    index: int
    endpoint: str
    set_modes: tuple[str, ...] = ()
    clear_modes: tuple[str, ...] = ()
    set_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class JunkStep:
    """``junk = "endpoint"``: bytes written straight into the endpoint's own input (the
    BIO or socket it reads from), outside the peer's stream: no fault, hold or parser of
    the link sees them."""

    index: int
    endpoint: str
    data: bytes


@dataclass(frozen=True)
class MoveStep:
    """``move = "client>server"``: hand queued bytes to the receiver."""

    index: int
    direction: str
    nbytes: int | str | None = None


@dataclass(frozen=True)
class LinkStep:
    """``eof``, ``pause`` or ``resume`` on one direction."""

    index: int
    action: str
    direction: str


@dataclass(frozen=True)
class RunStep:
    """``run = [...]``: interleave calls and moves until no entry says WANT_*."""

    index: int
    entries: tuple[RunEntry, ...]
    expect: Mapping[str, Pattern | Versioned[Pattern]] = field(default_factory=dict)
    deliver: Deliver | None = None
    max_calls: int | None = None
    #: ``sends`` of inline entries, by endpoint: what all of that entry's calls wrote.
    sends: Mapping[str, Sends] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultStep:
    """``corrupt``/``truncate``/``drop``/``duplicate``/``inject``/``split``/``coalesce``
    (and ``eof`` with an address): arm a fault on one link (see :mod:`biopair.transport.faults`)."""

    index: int
    fault: Fault


@dataclass(frozen=True)
class HoldStep:
    """``hold = "server>client"`` with ``until``: deliver nothing until the condition."""

    index: int
    direction: str
    until: HoldCondition


Step = (CallStep | MoveStep | LinkStep | RunStep | FaultStep | HoldStep | CheckStep
        | ModeStep | JunkStep)


@dataclass(frozen=True)
class SweepSpec:
    """``[sweep]``: how ``biopair sweep`` runs this scenario once per fault position.

    Attributes:
        fault: the fault kind applied at each position.
        link: the direction whose stream is swept.
        unit: ``"bytes"`` (one run per stream offset) or ``"records"`` (per record).
        start, stop, stride: the positions (stop None: the end of the unfaulted stream).
        xor: for corrupt, the bytes XORed in.
        forbid: outcome classes that make the sweep fail (e.g. ``"client ok"``).
    """

    fault: str = "corrupt"
    link: str = "server>client"
    unit: str = "bytes"
    start: int = 0
    stop: int | None = None
    stride: int = 1
    xor: bytes = b"\xff"
    forbid: tuple[str, ...] = ()


#: Terminal outcomes ``[explore] forbid`` may name: the run loop's two terminals, and the
#: fatal errors an entry can end with.
EXPLORE_FORBID = ("DEADLOCK", "LIMIT", "STRANDED", "SSL", "SYSCALL", "ZERO_RETURN")
#: What ``[result] oracle`` may say the transport oracle finds in one direction: every
#: byte once and in order (``delivered``), a span received twice (``duplicated``), a span
#: missing (``lost``), or anything else (``corrupted``).
ORACLE_FINDINGS = ("delivered", "duplicated", "lost", "corrupted")
#: The largest ``[explore]`` bounds (larger spaces are not searchable in a session).
EXPLORE_MAX_SPLITS = 16
EXPLORE_MAX_TURNS = 16
EXPLORE_MAX_PAUSES = 4


@dataclass(frozen=True)
class ExploreSpec:
    """``[explore]``: the schedule space ``biopair explore`` searches (docs/explore.md).

    Attributes:
        links: the directions whose move sizes are free.
        splits: at most this many extra split points per flight on each free link.
        turns: at most this many rounds whose turn order is rotated (``true`` is 1).
        pauses: at most this many pause/resume pairs inserted on the free links.
        forbid: terminal outcomes that refute the scenario wherever they appear.
    """

    links: tuple[str, ...] = ("client>server", "server>client")
    splits: int = 1
    turns: int = 0
    pauses: int = 0
    forbid: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResultSpec:
    """``[result]``: checks after the last step.

    Values may be :class:`Versioned` until a run resolves them.

    Attributes:
        both: keys that must hold for each endpoint (e.g. ``version``).
        per_endpoint: ``[result.client]`` / ``[result.server]`` checks.
        calls: the total number of SSL calls the scenario must make.
        keys_match: whether both ends' RFC 5705 exporters must agree (None: unchecked).
        when: once resolved, for each value chosen from a table of version conditions,
            the condition that held, by key (``calls``, ``group``, ``client.group``), for
            failure reports; empty before.
    """

    both: Mapping[str, Any] = field(default_factory=dict)
    per_endpoint: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    calls: int | Versioned[int] | None = None
    when: Mapping[str, str] = field(default_factory=dict)
    #: ``keys_match``: both ends export the same keying material (True), or not (False).
    keys_match: bool | None = None
    #: ``oracle``: what the transport oracle must find, by direction (``client>server``):
    #: one of :data:`ORACLE_FINDINGS`; a direction not named must be ``delivered``.
    oracle: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, ready to run."""

    path: str
    title: str
    about: str
    tags: tuple[str, ...]
    client: EndpointConfig
    server: EndpointConfig
    steps: tuple[Step, ...]
    result: ResultSpec
    deliver: Deliver = "all"
    max_calls: int = DEFAULT_MAX_CALLS
    turns: str = "alternate"
    link: str = "memory"
    socket_buffer: int | None = None
    #: ``link = "bio-pair"``: bytes each way of every libssl endpoint's BIO pair.
    bio_pair_size: int | None = None
    #: ``[schedule] send_cap``: the most output bytes a wolfSSL or tlslite-ng endpoint
    #: holds in memory until the link takes them (None: unbounded).
    send_cap: int | None = None
    resume: bool = False
    sweep: SweepSpec | None = None
    explore: ExploreSpec | None = None
    #: conditions the running stack must meet, else the scenario is reported as skipped.
    requires: tuple[Condition, ...] = ()

    @property
    def name(self) -> str:
        """The file's stem."""
        return Path(self.path).stem
