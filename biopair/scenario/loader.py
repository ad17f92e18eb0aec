"""Scenario files: loading TOML and validating it into a frozen :class:`Scenario`.

A scenario is data only.  Everything a file can say is declared in the tables below
(``_ENDPOINT_KEYS``, ``_SCHEDULE_KEYS``, ``_STEP_KEYS``, ``_RESULT_KEYS``); the loader
rejects anything else with a :class:`ScenarioError` naming the file, the key path and the
problem, and suggests the nearest valid key.  Key paths count steps from 1:
``steps[3].expect`` is the third step's expectation.  The format is documented in
``docs/scenario-format.md``.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biopair.endpoints import _openssl, pki
from biopair.endpoints.config import (
    OPS,
    READ_OPS,
    ROLE_OPS,
    VERIFY_CLIENT,
    VERSIONS,
    WRITE_OPS,
    EndpointConfig,
)
from biopair.engine.pair import (
    DEFAULT_MAX_CALLS,
    DELIVER_NAMES,
    LINK_KINDS,
    TURNS,
    Deliver,
    RunEntry,
)
from biopair.outcome import Pattern, PatternError, compile_pattern
from biopair.scenario.conditions import Condition as VersionCondition
from biopair.scenario.conditions import ConditionError, choose
from biopair.scenario.conditions import parse_condition as parse_version_condition
from biopair.tls.framing import STOPS
from biopair.transport.faults import Fault
from biopair.transport.holds import Condition, parse_condition
from biopair.transport.link import DIRECTIONS

ENDPOINTS = ("client", "server")


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
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class CallStep:
    """``call = "endpoint op"``: one SSL call, optionally asserted."""

    index: int
    endpoint: str
    op: str
    expect: Pattern | None = None
    size: int | None = None
    data: bytes | None = None
    buffer: str = "auto"
    expect_data: bytes | None = None


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
    expect: Mapping[str, Pattern] = field(default_factory=dict)
    deliver: Deliver | None = None
    max_calls: int | None = None


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
    until: Condition


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


Step = CallStep | MoveStep | LinkStep | RunStep | FaultStep | HoldStep


@dataclass(frozen=True)
class ResultSpec:
    """``[result]``: checks after the last step.

    Attributes:
        both: keys that must hold for each endpoint (e.g. ``version``).
        per_endpoint: ``[result.client]`` / ``[result.server]`` checks.
        calls: the total number of SSL calls the scenario must make.
    """

    both: Mapping[str, Any] = field(default_factory=dict)
    per_endpoint: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    calls: int | None = None
    #: for values chosen from a table of version conditions, the condition that held,
    #: by key (``calls``, ``group``, ``client.group``), for failure reports.
    when: Mapping[str, str] = field(default_factory=dict)


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
    resume: bool = False
    sweep: SweepSpec | None = None
    #: conditions the running stack must meet, else the scenario is reported as skipped.
    requires: tuple[VersionCondition, ...] = ()

    @property
    def name(self) -> str:
        """The file's stem."""
        return Path(self.path).stem


# -- the schema -----------------------------------------------------------------------------
_TOP_KEYS = ("title", "about", "tags", "requires", "client", "server", "schedule", "steps",
             "result", "sweep")
_ENDPOINT_KEYS = (
    "version", "min_version", "max_version", "server_name", "verify", "verify_host",
    "trust", "cert", "cert_host", "cert_issuer", "cert_validity", "cert_padding",
    "verify_client", "alpn", "groups", "sigalgs", "ciphers", "ciphersuites", "options",
    "modes", "clear_modes", "post_handshake_auth", "resume", "max_early_data", "stack",
)
_CLIENT_ONLY = ("post_handshake_auth", "resume", "verify_host")
_SERVER_ONLY = ("verify_client", "max_early_data")
_SCHEDULE_KEYS = ("deliver", "max_calls", "turns", "link", "socket_buffer")
_FAULT_ACTIONS = ("corrupt", "truncate", "drop", "duplicate", "inject", "split", "coalesce")
_ACTIONS = ("call", "move", "eof", "run", "pause", "resume", *_FAULT_ACTIONS, "hold")
_STEP_KEYS = (*_ACTIONS, "expect", "bytes", "size", "data", "buffer", "deliver",
              "max_calls", "note", "offset", "record", "at", "length", "xor", "hex", "count",
              "until", "repeat")
_ADDRESS = ("offset", "record", "at")
_STEP_MODIFIERS: dict[str, tuple[str, ...]] = {
    "call": ("expect", "size", "data", "buffer", "note", "repeat"),
    "move": ("bytes", "note"),
    "eof": (*_ADDRESS, "note"),
    "pause": ("note",),
    "resume": ("note",),
    "run": ("expect", "deliver", "max_calls", "note"),
    "corrupt": (*_ADDRESS, "xor", "note"),
    "truncate": (*_ADDRESS, "note"),
    "drop": (*_ADDRESS, "length", "note"),
    "duplicate": (*_ADDRESS, "length", "note"),
    "inject": (*_ADDRESS, "hex", "note"),
    "split": ("record", "size", "note"),
    "coalesce": ("record", "count", "note"),
    "hold": ("until", "note"),
}
_SWEEP_KEYS = ("fault", "link", "unit", "start", "stop", "stride", "xor", "forbid")
#: Faults a sweep can apply at each position.
SWEEP_FAULTS = ("corrupt", "truncate", "eof", "drop", "duplicate")
_RESULT_KEYS = ("version", "cipher", "alpn", "group", "server_name", "peer_certificate",
                "session_reused", "shutdown", "received", "state", "renegotiate_pending")
_RUN_ENTRY_KEYS = ("call", "size", "data")
BUFFERS = ("auto", "same", "copy")
#: The largest read, peek or write a step may ask for (64 MiB).
MAX_SIZE = 1 << 26
#: Bytes a write buffer holds at one address (biopair.endpoints._openssl.WriteBuffer's capacity).
SAME_BUFFER_CAPACITY = 65536
#: Ops that read into a buffer of ``size`` bytes, and ops that write a payload.
_READ_OPS = READ_OPS
_WRITE_OPS = WRITE_OPS


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Loader:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def fail(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(self.path, key, message)

    def check_keys(self, table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                path = f"{where}.{key}" if where else key
                raise self.fail(path, f"unknown key{_suggest(key, allowed)}")

    def typed(self, value: Any, kind: type | tuple[type, ...], key: str, what: str) -> Any:
        if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
            raise self.fail(key, f"expected {what}, got {_describe(value)}")
        return value

    def choice(self, value: Any, choices: Iterable[str], key: str) -> str:
        choices = tuple(choices)
        if not isinstance(value, str):
            raise self.fail(key, f"expected one of {_quote(choices)}, got {_describe(value)}")
        if value not in choices:
            raise self.fail(
                key, f"{value!r} is not one of {_quote(choices)}{_suggest(value, choices)}"
            )
        return value

    def str_list(
        self, value: Any, key: str, check: Callable[[str, str], None] | None = None
    ) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"expected a list of strings, got {_describe(value)}")
        for i, item in enumerate(value):
            if check is not None:
                check(item, f"{key}[{i + 1}]")
        return tuple(value)

    def positive(self, value: Any, key: str, zero: bool = False) -> int:
        self.typed(value, int, key, "an integer")
        if value < (0 if zero else 1):
            raise self.fail(key, f"must be {'>= 0' if zero else '>= 1'}, got {value}")
        return int(value)

    # -- sections -----------------------------------------------------------------------
    def load(self) -> Scenario:
        try:
            with open(self.path, "rb") as fh:
                doc = tomllib.load(fh)
        except OSError as exc:
            raise self.fail("", f"cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise self.fail("", f"not UTF-8 text (byte {exc.start}): TOML files are UTF-8"
                            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise self.fail("", f"invalid TOML: {exc}") from None
        return self.scenario(doc)

    def scenario(self, doc: dict[str, Any]) -> Scenario:
        self.check_keys(doc, _TOP_KEYS, "")
        if "title" not in doc:
            raise self.fail("title", "missing (every scenario needs a one-line title)")
        title = self.typed(doc["title"], str, "title", "a string")
        about = self.typed(doc.get("about", ""), str, "about", "a string")
        tags = self.str_list(doc.get("tags", []), "tags")
        requires = tuple(self.condition(text, f"requires[{i + 1}]") for i, text in
                         enumerate(self.str_list(doc.get("requires", []), "requires")))
        client, resume = self.endpoint(doc.get("client", {}), "client")
        server, _ = self.endpoint(doc.get("server", {}), "server")
        schedule = self.typed(doc.get("schedule", {}), dict, "schedule", "a table")
        self.check_keys(schedule, _SCHEDULE_KEYS, "schedule")
        deliver = self.deliver(schedule.get("deliver", "all"), "schedule.deliver")
        max_calls = self.positive(schedule.get("max_calls", DEFAULT_MAX_CALLS),
                                  "schedule.max_calls")
        turns = self.choice(schedule.get("turns", "alternate"), TURNS, "schedule.turns")
        link = self.choice(schedule.get("link", "memory"), LINK_KINDS, "schedule.link")
        socket_buffer = None
        if "socket_buffer" in schedule:
            socket_buffer = self.positive(schedule["socket_buffer"], "schedule.socket_buffer")
            if link != "socket":
                raise self.fail("schedule.socket_buffer", 'sizes a socket: it needs link = '
                                                          '"socket" (memory BIOs have no size)')
            if socket_buffer > 1 << 24:
                raise self.fail("schedule.socket_buffer", "must be at most 16 MiB")
        if "steps" not in doc:
            raise self.fail("steps", "missing (a scenario needs at least one [[steps]])")
        raw_steps = doc["steps"]
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail("steps", "expected an array of tables ([[steps]]) with at least "
                                     f"one entry, got {_describe(raw_steps)}")
        steps = tuple(self.step(s, i) for i, s in enumerate(raw_steps))
        result = self.result(doc.get("result", {}))
        sweep = self.sweep(doc["sweep"]) if "sweep" in doc else None
        self.check_stacks(client, server, link, steps, result)
        if resume and (client.stack != "pyopenssl" or server.stack != "pyopenssl"):
            raise self.fail("client.resume", "resumption needs two pyOpenSSL endpoints")
        return Scenario(
            path=self.path, title=title, about=about, tags=tags, client=client,
            server=server, steps=steps, result=result, deliver=deliver,
            max_calls=max_calls, turns=turns, link=link, resume=resume, sweep=sweep,
            socket_buffer=socket_buffer,
            requires=requires,
        )

    def sweep(self, table: Any) -> SweepSpec:
        self.typed(table, dict, "sweep", "a table")
        self.check_keys(table, _SWEEP_KEYS, "sweep")
        kw: dict[str, Any] = {}
        if "fault" in table:
            kw["fault"] = self.choice(table["fault"], SWEEP_FAULTS, "sweep.fault")
        if "link" in table:
            kw["link"] = self.direction(table["link"], "sweep.link")
        if "unit" in table:
            kw["unit"] = self.choice(table["unit"], ("bytes", "records"), "sweep.unit")
        if "start" in table:
            kw["start"] = self.positive(table["start"], "sweep.start", zero=True)
        if "stop" in table:
            kw["stop"] = self.positive(table["stop"], "sweep.stop")
            if kw["stop"] <= kw.get("start", 0):
                raise self.fail("sweep.stop", f"must be above start ({kw.get('start', 0)})")
        if "stride" in table:
            kw["stride"] = self.positive(table["stride"], "sweep.stride")
        if "xor" in table:
            kw["xor"] = self.hex_bytes(table["xor"], "sweep.xor", nonzero=True)
        if "forbid" in table:
            kw["forbid"] = self.str_list(table["forbid"], "sweep.forbid")
        return SweepSpec(**kw)

    def hex_bytes(self, value: Any, key: str, nonzero: bool = False) -> bytes:
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

    def endpoint(self, table: Any, role: str) -> tuple[EndpointConfig, bool]:
        self.typed(table, dict, role, "a table")
        self.check_keys(table, _ENDPOINT_KEYS, role)
        wrong = _SERVER_ONLY if role == "client" else _CLIENT_ONLY
        for key in wrong:
            if key in table:
                other = "server" if role == "client" else "client"
                raise self.fail(f"{role}.{key}", f"is a {other} setting")
        kw: dict[str, Any] = {"role": role}
        versions = tuple(VERSIONS)
        for key in ("version", "min_version", "max_version"):
            if key in table:
                kw[key] = self.choice(table[key], versions, f"{role}.{key}")
        if "version" in table and ("min_version" in table or "max_version" in table):
            raise self.fail(f"{role}.version", "pins min and max: do not combine it with "
                                               "min_version/max_version")
        lo, hi = kw.get("min_version"), kw.get("max_version")
        if lo and hi and VERSIONS[lo] > VERSIONS[hi]:
            raise self.fail(f"{role}.min_version", f"{lo} is above max_version {hi}")
        for key in ("server_name", "verify_host", "cert_host", "ciphers", "ciphersuites"):
            if key in table:
                kw[key] = self.typed(table[key], str, f"{role}.{key}", "a string")
                self._ascii(kw[key], f"{role}.{key}")
        if "server_name" in table and table["server_name"] == "":
            kw["server_name"] = None
        for key in ("verify", "post_handshake_auth"):
            if key in table:
                kw[key] = self.typed(table[key], bool, f"{role}.{key}", "true or false")
        if "trust" in table:
            kw["trust"] = self.choice(table["trust"], ("ca", "other-ca", "none"),
                                      f"{role}.trust")
        if "cert" in table:
            kw["cert"] = self.choice(table["cert"], (*pki.KEY_TYPES, "none"), f"{role}.cert")
        if "cert_issuer" in table:
            kw["cert_issuer"] = self.choice(table["cert_issuer"], pki.ISSUERS,
                                            f"{role}.cert_issuer")
        if "cert_validity" in table:
            kw["cert_validity"] = self.choice(table["cert_validity"], pki.VALIDITIES,
                                              f"{role}.cert_validity")
        if "cert_padding" in table:
            kw["cert_padding"] = self.positive(table["cert_padding"], f"{role}.cert_padding",
                                               zero=True)
            if kw["cert_padding"] > 60000:
                raise self.fail(f"{role}.cert_padding", "must be at most 60000 bytes")
        if "verify_client" in table:
            kw["verify_client"] = self.choice(table["verify_client"], VERIFY_CLIENT,
                                              f"{role}.verify_client")
        for key in ("alpn", "groups", "sigalgs"):
            if key in table:
                kw[key] = self.str_list(table[key], f"{role}.{key}", self._ascii)
        for i, proto in enumerate(kw.get("alpn", ())):
            if not 1 <= len(proto) <= 255:
                raise self.fail(f"{role}.alpn[{i + 1}]", "an ALPN protocol name is 1 to 255 "
                                                         f"bytes, got {len(proto)}")
        if "options" in table:
            kw["options"] = self.str_list(table["options"], f"{role}.options",
                                          self._name_check(_openssl.OPTIONS, "option"))
        for key in ("modes", "clear_modes"):
            if key in table:
                kw[key] = self.str_list(table[key], f"{role}.{key}",
                                        self._name_check(_openssl.MODES, "mode"))
        both = set(kw.get("modes", ())) & set(kw.get("clear_modes", ()))
        if both:
            raise self.fail(f"{role}.clear_modes", f"{sorted(both)} also in modes")
        if "max_early_data" in table:
            kw["max_early_data"] = self.positive(table["max_early_data"],
                                                 f"{role}.max_early_data", zero=True)
        resume = False
        if "resume" in table:
            resume = self.typed(table["resume"], bool, f"{role}.resume", "true or false")
        if "stack" in table:
            kw["stack"] = self.stack(table, role, resume)
        return EndpointConfig(**kw), resume

    def stack(self, table: Mapping[str, Any], role: str, resume: bool) -> str:
        # A stack honours the keys its capabilities declare: name the first it cannot take.
        from biopair.endpoints.registry import STACKS, capabilities

        stack = self.choice(table["stack"], STACKS, f"{role}.stack")
        caps = capabilities(stack)
        for key in table:
            if key not in caps.settings:
                raise self.fail(f"{role}.{key}", f"not available with stack = {stack!r} "
                                                 f"(it takes {', '.join(sorted(caps.settings))})")
        version = table.get("version")
        if version is not None and version not in caps.versions:
            raise self.fail(f"{role}.version", f"stack = {stack!r} takes version "
                                               f"{' or '.join(sorted(caps.versions))}")
        return stack

    def check_stacks(self, client: EndpointConfig, server: EndpointConfig, link: str,
                     steps: tuple[Step, ...], result: ResultSpec) -> None:
        from biopair.endpoints.registry import capabilities

        cfgs = {"client": client, "server": server}
        caps = {name: capabilities(cfg.stack) for name, cfg in cfgs.items()}
        peers = [name for name in cfgs if caps[name].external]
        if len(peers) == 2:
            raise self.fail("server.stack", "both endpoints are external programs; one side "
                                            "must be in-process")
        for name in cfgs:
            if link not in caps[name].links:
                raise self.fail("schedule.link", f"link = {link!r} is not available with "
                                                 f"{name}.stack = {cfgs[name].stack!r}")
        for name in peers:
            if name in result.per_endpoint:
                raise self.fail(f"result.{name}", f"the {name} is an external program "
                                                  f"({cfgs[name].stack}); its state is not "
                                                  f"visible")
        for name in cfgs:
            if name in peers:
                continue  # shared checks skip a peer: its state is not visible
            for key in (*result.both, *result.per_endpoint.get(name, {})):
                if key not in caps[name].results:
                    where = (f"result.{name}.{key}" if key in result.per_endpoint.get(name, {})
                             else f"result.{key}")
                    raise self.fail(where, f"{name}.stack = {cfgs[name].stack!r} cannot "
                                           f"report {key}")
        for step in steps:
            where = f"steps[{step.index + 1}]"
            calls: list[tuple[str, str, str]] = []
            if isinstance(step, CallStep):
                calls.append((step.endpoint, step.op, f"{where}.call"))
            elif isinstance(step, RunStep):
                calls.extend((e.endpoint, e.op, f"{where}.run[{j + 1}]")
                             for j, e in enumerate(step.entries))
            for endpoint, op, key in calls:
                stack = cfgs[endpoint].stack
                if caps[endpoint].external:
                    raise self.fail(key, f"the {endpoint} is an external program ({stack}); "
                                         f"only the in-process side can be called")
                if op not in caps[endpoint].ops:
                    raise self.fail(key, f"{endpoint}.stack = {stack!r} cannot {op} (it can: "
                                         f"{', '.join(sorted(caps[endpoint].ops))})")

    def _ascii(self, value: str, key: str) -> None:
        if not value.isascii():
            raise self.fail(key, f"must be ASCII (OpenSSL takes these as C strings), got "
                                 f"{value!r}")

    def size(self, value: Any, key: str) -> int:
        """A byte count for a read, peek or write: 1 to MAX_SIZE."""
        n = self.positive(value, key)
        if n > MAX_SIZE:
            raise self.fail(key, f"must be at most {MAX_SIZE} bytes, got {n}")
        return n

    def _shutdown_check(self, value: str, key: str) -> None:
        self.choice(value, ("sent", "received"), key)

    def _name_check(self, names: Mapping[str, int], what: str) -> Callable[[str, str], None]:
        def check(value: str, key: str) -> None:
            if value not in names:
                raise self.fail(key, f"unknown {what} {value!r}{_suggest(value, names)}")

        return check

    def deliver(self, value: Any, key: str) -> Deliver:
        what = ('"all", "bytewise", "records", a positive integer or a list of positive '
                'integers')
        if isinstance(value, str):
            if value not in DELIVER_NAMES:
                raise self.fail(key, f"expected {what}, got {value!r}"
                                     f"{_suggest(value, DELIVER_NAMES)}")
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return self.positive(value, key)
        if isinstance(value, list) and value:
            return tuple(self.positive(v, f"{key}[{i + 1}]") for i, v in enumerate(value))
        raise self.fail(key, f"expected {what}, got {_describe(value)}")

    def condition(self, text: str, key: str) -> VersionCondition:
        try:
            cond = parse_version_condition(text)
        except ConditionError as exc:
            raise self.fail(key, str(exc)) from None
        if not cond.comparisons:
            raise self.fail(key, '"else" is only for a table of conditions')
        return cond

    def pattern(self, value: Any, key: str) -> Pattern:
        if isinstance(value, dict):
            return self.versioned_pattern(value, key)
        if not isinstance(value, str):
            raise self.fail(key, f"expected an outcome pattern string, got {_describe(value)}")
        try:
            return compile_pattern(value)
        except PatternError as exc:
            raise self.fail(key, str(exc)) from None

    def versioned_pattern(self, table: dict[str, Any], key: str) -> Pattern:
        # { "openssl >= 4.0" = "SSL", "else" = "SYSCALL" }: every condition and pattern
        # is validated whatever the running stack, then the first that holds is chosen.
        if not table:
            raise self.fail(key, "an empty table of version conditions")
        compiled: dict[str, Pattern] = {}
        for text, pattern in table.items():
            cond = self.condition_or_else(text, f'{key}."{text}"')
            if isinstance(pattern, dict):
                raise self.fail(f'{key}."{text}"', "expected an outcome pattern string, "
                                                   "got a table (conditions do not nest)")
            compiled[cond.text] = self.pattern(pattern, f'{key}."{text}"')
        try:
            chosen, value = choose(compiled)
        except ConditionError as exc:
            raise self.fail(key, str(exc)) from None
        assert isinstance(value, Pattern)
        return Pattern(text=f"{value.text}  (when {chosen})", regex=value.regex)

    def condition_or_else(self, text: str, key: str) -> VersionCondition:
        try:
            return parse_version_condition(text)
        except ConditionError as exc:
            raise self.fail(key, str(exc)) from None

    def call_words(self, text: Any, key: str) -> tuple[str, str, int | None]:
        if not isinstance(text, str):
            raise self.fail(key, f'expected "ENDPOINT OP", got {_describe(text)}')
        words = text.split()
        if len(words) not in (2, 3):
            raise self.fail(key, f'expected "ENDPOINT OP" (e.g. "client connect"), got {text!r}')
        endpoint, op = words[0], words[1]
        if endpoint not in ENDPOINTS:
            raise self.fail(key, f"unknown endpoint {endpoint!r}{_suggest(endpoint, ENDPOINTS)}"
                                 f"; expected client or server")
        if op not in OPS:
            raise self.fail(key, f"unknown op {op!r}{_suggest(op, OPS)}; ops: {', '.join(OPS)}")
        if ROLE_OPS.get(op, endpoint) != endpoint:
            raise self.fail(key, f"{op} is a {ROLE_OPS[op]} op; the {endpoint} cannot make it")
        size = None
        if len(words) == 3:
            if op not in (*_READ_OPS, *_WRITE_OPS) or not words[2].isdigit():
                raise self.fail(key, f"only {', '.join((*_READ_OPS, *_WRITE_OPS))} take a "
                                     f"size, as a number: {text!r}")
            size = self.size(int(words[2]), key)
        return endpoint, op, size

    def direction(self, value: Any, key: str) -> str:
        return self.choice(value, DIRECTIONS, key)

    def step(self, raw: Any, i: int) -> Step:
        where = f"steps[{i + 1}]"
        self.typed(raw, dict, where, "a table")
        self.check_keys(raw, _STEP_KEYS, where)
        actions = [k for k in _ACTIONS if k in raw]
        if len(actions) != 1:
            found = f"{len(actions)} ({', '.join(actions)})" if actions else "none"
            raise self.fail(where, f"a step needs exactly one action key of "
                                   f"{', '.join(_ACTIONS)}; found {found}")
        action = actions[0]
        for key in raw:
            if key != action and key not in _STEP_MODIFIERS[action]:
                takes = ", ".join(_STEP_MODIFIERS[action])
                raise self.fail(f"{where}.{key}",
                                f"does not apply to a {action} step (it takes {takes})")
        key = f"{where}.{action}"
        value = raw[action]
        if action == "call":
            return self.call_step(raw, i, where)
        if action == "move":
            nbytes: int | str | None = None
            if "bytes" in raw:
                if isinstance(raw["bytes"], str):
                    nbytes = self.choice(raw["bytes"], STOPS, f"{where}.bytes")
                else:
                    nbytes = self.positive(raw["bytes"], f"{where}.bytes", zero=True)
            return MoveStep(i, self.direction(value, key), nbytes)
        if action == "eof" and any(k in raw for k in _ADDRESS):
            return self.fault_step(raw, i, where, "eof")
        if action in ("eof", "pause", "resume"):
            return LinkStep(i, action, self.direction(value, key))
        if action in _FAULT_ACTIONS:
            return self.fault_step(raw, i, where, action)
        if action == "hold":
            if "until" not in raw:
                raise self.fail(f"{where}.until", 'missing: a hold needs until = "server sent '
                                                  'ServerHello" or similar')
            text = self.typed(raw["until"], str, f"{where}.until", "a condition string")
            try:
                until = parse_condition(text)
            except ValueError as exc:
                raise self.fail(f"{where}.until", str(exc)) from None
            return HoldStep(i, self.direction(value, key), until)
        return self.run_step(raw, i, where)

    def fault_step(self, raw: Mapping[str, Any], i: int, where: str, kind: str) -> FaultStep:
        direction = self.direction(raw[kind], f"{where}.{kind}")
        kw: dict[str, Any] = {}
        if "offset" in raw and "record" in raw:
            raise self.fail(f"{where}.offset", "give either offset or record, not both")
        if "offset" in raw:
            kw["offset"] = self.positive(raw["offset"], f"{where}.offset", zero=True)
        if "record" in raw:
            kw["record"] = self.positive(raw["record"], f"{where}.record", zero=True)
        if "at" in raw:
            if "record" not in raw:
                raise self.fail(f"{where}.at", "at is a byte inside a record: give record too")
            kw["at"] = self.typed(raw["at"], int, f"{where}.at", "an integer (negative: "
                                                                  "from the record's end)")
        if kind in ("corrupt", "drop", "duplicate", "coalesce") and not (
                "offset" in raw or "record" in raw):
            raise self.fail(f"{where}", f"{kind} needs offset = N (a byte of the stream) or "
                                        f"record = N (a record index)")
        if "length" in raw:
            kw["length"] = self.positive(raw["length"], f"{where}.length")
        if "xor" in raw:
            kw["xor"] = self.hex_bytes(raw["xor"], f"{where}.xor", nonzero=True)
        if kind == "inject":
            if "hex" not in raw:
                raise self.fail(f"{where}.hex", 'missing: inject needs the bytes, e.g. hex = '
                                                '"15030300020100" (a close_notify alert)')
            kw["data"] = self.hex_bytes(raw["hex"], f"{where}.hex")
        if "size" in raw:
            kw["size"] = self.positive(raw["size"], f"{where}.size")
            if kw["size"] > 16384:
                raise self.fail(f"{where}.size", "a record body is at most 16384 bytes")
        if "count" in raw:
            kw["count"] = self.positive(raw["count"], f"{where}.count")
            if kw["count"] < 2:
                raise self.fail(f"{where}.count", "coalesce merges at least 2 records")
        return FaultStep(i, Fault(kind, direction, **kw))

    def call_step(self, raw: Mapping[str, Any], i: int, where: str) -> CallStep:
        endpoint, op, size = self.call_words(raw["call"], f"{where}.call")
        if "size" in raw:
            if size is not None:
                raise self.fail(f"{where}.size", "the call already names a size")
            size = self.size(raw["size"], f"{where}.size")
        data: bytes | None = None
        expect_data: bytes | None = None
        if "repeat" in raw and "data" not in raw:
            raise self.fail(f"{where}.repeat", "repeats data: give data too")
        if "data" in raw:
            text = self.typed(raw["data"], str, f"{where}.data", "a string")
            if "repeat" in raw:
                repeat = self.positive(raw["repeat"], f"{where}.repeat")
                if len(text.encode()) * repeat > MAX_SIZE:
                    raise self.fail(f"{where}.repeat", f"data x {repeat} is more than "
                                                       f"{MAX_SIZE} bytes")
                text *= repeat
            if op in _WRITE_OPS:
                data = text.encode()
            elif op in _READ_OPS:
                expect_data = text.encode()
            else:
                raise self.fail(f"{where}.data", f"only write, read and peek (and their "
                                                 f"early data forms) take data, not {op}")
        if op in _WRITE_OPS and data is not None and size is not None:
            raise self.fail(f"{where}.size", "give a write either data or size, not both")
        if op not in (*_READ_OPS, *_WRITE_OPS) and size is not None:
            raise self.fail(f"{where}.size", f"{op} takes no size")
        buffer = "auto"
        if "buffer" in raw:
            if op not in _WRITE_OPS:
                raise self.fail(f"{where}.buffer", "only write takes a buffer")
            buffer = self.choice(raw["buffer"], BUFFERS, f"{where}.buffer")
            payload = len(data) if data is not None else size or 0
            if buffer == "same" and payload > SAME_BUFFER_CAPACITY:
                raise self.fail(f"{where}.buffer", f'"same" refills a buffer of '
                                f"{SAME_BUFFER_CAPACITY} bytes at its address; a "
                                f"{payload}-byte payload does not fit there")
        expect = self.pattern(raw["expect"], f"{where}.expect") if "expect" in raw else None
        return CallStep(i, endpoint, op, expect, size, data, buffer, expect_data)

    def run_step(self, raw: Mapping[str, Any], i: int, where: str) -> RunStep:
        key = f"{where}.run"
        value = raw["run"]
        if not isinstance(value, list) or not value:
            raise self.fail(key, f'expected a list of calls like ["client connect", '
                                 f'"server accept"], got {_describe(value)}')
        entries: list[RunEntry] = []
        for j, item in enumerate(value):
            ekey = f"{key}[{j + 1}]"
            data = None
            if isinstance(item, dict):
                self.check_keys(item, _RUN_ENTRY_KEYS, ekey)
                if "call" not in item:
                    raise self.fail(ekey, "an inline entry needs call = \"ENDPOINT OP\"")
                endpoint, op, size = self.call_words(item["call"], f"{ekey}.call")
                if "size" in item:
                    size = self.size(item["size"], f"{ekey}.size")
                if "data" in item:
                    if op not in _WRITE_OPS:
                        raise self.fail(f"{ekey}.data", "only a write entry takes data")
                    data = self.typed(item["data"], str, f"{ekey}.data", "a string").encode()
            else:
                endpoint, op, size = self.call_words(item, ekey)
            # A bare write in a run retries the endpoint's pending write buffer.
            if any(e.endpoint == endpoint for e in entries):
                raise self.fail(ekey, f"{endpoint} appears twice; a run calls each endpoint "
                                      f"with one op")
            entries.append(RunEntry(endpoint, op, size, data))
        expect: dict[str, Pattern] = {}
        if "expect" in raw:
            table = raw["expect"]
            if not isinstance(table, dict):
                raise self.fail(f"{where}.expect", 'a run expects a table like '
                                                   '{ client = "WANT_READ+ 1" }, got '
                                                   f"{_describe(table)}")
            names = [e.endpoint for e in entries]
            for name, pattern in table.items():
                if name not in names:
                    raise self.fail(f"{where}.expect.{name}",
                                    f"not an endpoint of this run ({', '.join(names)})")
                expect[name] = self.pattern(pattern, f"{where}.expect.{name}")
        deliver = self.deliver(raw["deliver"], f"{where}.deliver") if "deliver" in raw else None
        max_calls = (self.positive(raw["max_calls"], f"{where}.max_calls")
                     if "max_calls" in raw else None)
        return RunStep(i, tuple(entries), expect, deliver, max_calls)

    def result(self, table: Any) -> ResultSpec:
        self.typed(table, dict, "result", "a table")
        self.check_keys(table, (*_RESULT_KEYS, *ENDPOINTS, "calls"), "result")
        when: dict[str, str] = {}
        both = {k: self.versioned_result(k, v, f"result.{k}", k, when)
                for k, v in table.items() if k in _RESULT_KEYS}
        per: dict[str, dict[str, Any]] = {}
        for role in ENDPOINTS:
            if role in table:
                sub = self.typed(table[role], dict, f"result.{role}", "a table")
                self.check_keys(sub, _RESULT_KEYS, f"result.{role}")
                per[role] = {k: self.versioned_result(k, v, f"result.{role}.{k}",
                                                      f"{role}.{k}", when)
                             for k, v in sub.items()}
        calls = (self.versioned_result("calls", table["calls"], "result.calls", "calls", when)
                 if "calls" in table else None)
        return ResultSpec(both, per, calls, when)

    def versioned_result(self, key: str, value: Any, path: str, name: str,
                         when: dict[str, str]) -> Any:
        # calls = { "openssl >= 3.5" = 3631, "else" = 1312 }: like a versioned pattern,
        # every condition and value is validated, then the first that holds is chosen.
        if not isinstance(value, dict):
            return self.result_value(key, value, path)
        if not value:
            raise self.fail(path, "an empty table of version conditions")
        checked: dict[str, Any] = {}
        for text, branch in value.items():
            cond = self.condition_or_else(text, f'{path}."{text}"')
            if isinstance(branch, dict):
                raise self.fail(f'{path}."{text}"', "expected a value, got a table "
                                                    "(conditions do not nest)")
            checked[cond.text] = self.result_value(key, branch, f'{path}."{text}"')
        try:
            chosen, result = choose(checked)
        except ConditionError as exc:
            raise self.fail(path, str(exc)) from None
        when[name] = chosen
        return result

    def result_value(self, key: str, value: Any, path: str) -> Any:
        if key == "calls":
            return self.positive(value, path)
        if key in ("session_reused", "renegotiate_pending"):
            return self.typed(value, bool, path, "true or false")
        if key == "shutdown":
            return list(self.str_list(value, path, self._shutdown_check))
        if value is False:
            return None
        return self.typed(value, str, path, 'a string (or false for "none")')


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"{type(value).__name__} {value!r}"


def _quote(choices: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in choices)


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate one scenario file.

    Raises:
        ScenarioError: naming the file, the key path and the problem.
    """
    return _Loader(path).load()


def find_scenarios(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (recursively, sorted) into scenario ``.toml`` files."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.toml") if p.is_file()))
        else:
            found.append(path)
    return found
