"""Scenario files: the schema, and loading TOML into a frozen :class:`Scenario`.

Everything a file can say is declared in the tables below (``_ENDPOINT_KEYS``,
``_SCHEDULE_KEYS``, ``_STEP_KEYS``, ``_RESULT_KEYS``); each section of the file is read
with the typed readers of :mod:`biopair.scenario.readers`, then the rules of
:mod:`biopair.scenario.rules` judge the values together and against the stacks.  Anything
else is refused with a :class:`ScenarioError` naming the file, the key path and the
problem, suggesting the nearest valid key.  Key paths count steps from 1:
``steps[3].expect`` is the third step's expectation.  The format is documented in
``docs/scenario-format.md``.

Loading never asks which OpenSSL is installed: a table of version conditions is
validated branch by branch and kept as a :class:`~biopair.scenario.model.Versioned`
value, chosen when a run starts.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from biopair.endpoints import _openssl, pki
from biopair.endpoints.config import (
    EARLY_DATA_STATUSES,
    MAX_SEND_FRAGMENT,
    OPS,
    READ_OPS,
    RESULTS,
    ROLE_OPS,
    SETTINGS,
    VERIFY_CLIENT,
    VERSIONS,
    WRITE_OPS,
    EndpointConfig,
)
from biopair.endpoints.registry import STACKS, capabilities
from biopair.engine.pair import (
    DEFAULT_MAX_CALLS,
    DELIVER_NAMES,
    LINK_KINDS,
    TURNS,
    Deliver,
    RunEntry,
)
from biopair.engine.schedule import LinkDeliver
from biopair.outcome import Pattern, PatternError, compile_pattern
from biopair.scenario import readers, rules
from biopair.scenario.conditions import Condition as VersionCondition
from biopair.scenario.conditions import ConditionError
from biopair.scenario.conditions import parse_condition as parse_version_condition
from biopair.scenario.model import (
    ENDPOINTS,
    EXPLORE_FORBID,
    EXPLORE_MAX_PAUSES,
    EXPLORE_MAX_SPLITS,
    EXPLORE_MAX_TURNS,
    ORACLE_FINDINGS,
    UNTIL_CAP,
    UNTIL_MAX,
    CallStep,
    CheckStep,
    ExploreSpec,
    FaultStep,
    HoldStep,
    JunkStep,
    LinkStep,
    ModeStep,
    MoveStep,
    ResultSpec,
    RunStep,
    Scenario,
    ScenarioError,
    Sends,
    Step,
    SweepSpec,
    Versioned,
    number,
    shown,
)
from biopair.scenario.readers import Reader, describe, suggest
from biopair.tls.framing import STOPS
from biopair.tls.vocab import RECORD_NAMES, WIRE_NAMES
from biopair.transport.faults import Fault
from biopair.transport.holds import parse_condition
from biopair.transport.link import DIRECTIONS

# The model's names, importable from here as before the model had its own module.
__all__ = [
    "BUFFERS", "ENDPOINTS", "MAX_SIZE", "SAME_BUFFER_CAPACITY", "SWEEP_FAULTS", "CallStep",
    "FaultStep", "HoldStep", "LinkStep", "MoveStep", "ResultSpec", "RunStep", "Scenario",
    "ScenarioError", "Step", "SweepSpec", "Versioned", "find_scenarios", "load_scenario",
]

T = TypeVar("T")

# -- the schema -----------------------------------------------------------------------------
_TOP_KEYS = ("title", "about", "tags", "requires", "client", "server", "schedule", "steps",
             "result", "sweep", "explore")
#: The endpoint-table keys and [result] keys: one table each, kept with EndpointConfig.
_ENDPOINT_KEYS = SETTINGS
_CLIENT_ONLY = ("post_handshake_auth", "resume", "verify_host")
_SERVER_ONLY = ("verify_client", "max_early_data")
_SCHEDULE_KEYS = ("deliver", "max_calls", "turns", "link", "socket_buffer", "bio_pair_size",
                  "send_cap")
#: The largest BIO pair a scenario may ask for (each way).
MAX_BIO_PAIR = 1 << 24
_FAULT_ACTIONS = ("corrupt", "truncate", "drop", "duplicate", "inject", "split", "coalesce")
#: Steps that change the live connection; one step may combine them (clear, set, options).
_MODE_ACTIONS = ("clear_modes", "set_modes", "set_options")
_ACTIONS = ("call", "move", "eof", "run", "pause", "resume", *_FAULT_ACTIONS, "hold",
            "check", "junk", *_MODE_ACTIONS)
#: What a ``check`` step may assert: every [result] key but keys_match (a pair's).
_CHECK_KEYS = tuple(k for k in RESULTS if k != "keys_match")
#: The most junk one step may write (64 KiB).
MAX_JUNK = 1 << 16
_STEP_KEYS = tuple(dict.fromkeys((
    *_ACTIONS, "expect", "bytes", "size", "data", "buffer", "deliver", "max_calls", "note",
    "offset", "record", "at", "length", "xor", "hex", "count", "until", "repeat", "request",
    "sends", *_CHECK_KEYS)))
_ADDRESS = ("offset", "record", "at")
_STEP_MODIFIERS: dict[str, tuple[str, ...]] = {
    "call": ("expect", "size", "data", "buffer", "note", "repeat", "request", "sends",
             "until", "max_calls"),
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
    "check": (*_CHECK_KEYS, "note"),
    "junk": ("hex", "note"),
    **{action: (*_MODE_ACTIONS, "note") for action in _MODE_ACTIONS},
}
_SWEEP_KEYS = ("fault", "link", "unit", "start", "stop", "stride", "xor", "forbid")
#: Faults a sweep can apply at each position.
SWEEP_FAULTS = ("corrupt", "truncate", "eof", "drop", "duplicate")
_EXPLORE_KEYS = ("links", "splits", "turns", "pauses", "forbid")
_RESULT_KEYS = RESULTS
_RUN_ENTRY_KEYS = ("call", "size", "data", "repeat", "sends")
#: The largest ``repeat`` of a run entry.
MAX_REPEAT = 10_000
BUFFERS = ("auto", "same", "copy")
#: The largest read, peek or write a step may ask for (64 MiB).
MAX_SIZE = readers.MAX_SIZE
#: Bytes a write buffer holds at one address (biopair.endpoints._openssl.WriteBuffer's capacity).
SAME_BUFFER_CAPACITY = 65536


#: Endpoint strings and the rule each must meet (the rules in biopair.scenario.readers).
_ENDPOINT_STRINGS: dict[str, Callable[[str], str | None]] = {
    "server_name": readers.server_name_problem,
    "verify_host": readers.host_problem,
    "cert_host": readers.cert_host_problem,
    "ciphers": readers.openssl_string_problem,
    "ciphersuites": readers.openssl_string_problem,
}

#: Ops that take a size: reads (the buffer) and writes (a generated payload).
_SIZED_OPS = (*READ_OPS, *WRITE_OPS)


class _Loader:
    """Reads one file's sections into the model; ``self.read`` holds the typed readers."""

    def __init__(self, path: str | Path, stacks: Mapping[str, str] | None = None) -> None:
        self.path = str(path)
        self.read = Reader(path)
        self.stacks = dict(stacks or {})

    def fail(self, key: str, message: str) -> ScenarioError:
        return self.read.fail(key, message)

    # -- the file and its top level ------------------------------------------------------
    def load(self) -> Scenario:
        text = self.text()
        depth = _nesting(text)
        if depth > readers.MAX_NESTING:
            raise self.fail("", f"arrays and tables nest {depth} deep; at most "
                                f"{readers.MAX_NESTING}")
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise self.fail("", f"invalid TOML: {exc}") from None
        except RecursionError:
            raise self.fail("", f"arrays and tables nest more than {readers.MAX_NESTING} "
                                f"deep") from None
        except ValueError as exc:
            # int() refuses a decimal integer of more than 4300 digits.
            raise self.fail("", "invalid TOML: an integer of more than 4300 digits"
                            if "digits" in str(exc) else f"invalid TOML: {exc}") from None
        return self.scenario(doc)

    def text(self) -> str:
        # Only a regular file is read, and at most MAX_FILE_BYTES of it: a FIFO would
        # block and /dev/zero never ends.  stat() first (opening a FIFO blocks), then
        # open without blocking and check that what was opened is that regular file.
        cap = readers.MAX_FILE_BYTES
        try:
            st = os.stat(self.path)
            if not stat.S_ISREG(st.st_mode):
                raise self.fail("", f"not a regular file ({_file_kind(st.st_mode)}): a "
                                    f"scenario is a .toml file")
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as fh:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    raise self.fail("", "not a regular file: a scenario is a .toml file")
                data = fh.read(cap + 1)
        except OSError as exc:
            raise self.fail("", f"cannot read: {exc.strerror or exc}") from None
        if len(data) > cap:
            raise self.fail("", f"larger than {cap:,} bytes (the largest scenario file)")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail("", f"not UTF-8 text (byte {exc.start}): TOML files are UTF-8"
                            ) from None

    def scenario(self, doc: dict[str, Any]) -> Scenario:
        read = self.read
        for role, stack in self.stacks.items():
            # ``biopair run --stacks``: the same file on other stacks, validated as if the
            # file named them (a table that is not a table is left for the reader to refuse).
            table = doc.get(role, {})
            if isinstance(table, dict):
                doc = {**doc, role: {**table, "stack": stack}}
        read.keys(doc, _TOP_KEYS, "")
        if "title" not in doc:
            raise self.fail("title", "missing (every scenario needs a one-line title)")
        title = read.text(doc["title"], "title")
        about = read.text(doc.get("about", ""), "about", lines=True)
        tags = read.str_list(doc.get("tags", []), "tags", read.text)
        requires = tuple(self.requirement(text, f"requires[{i + 1}]") for i, text in
                         enumerate(read.str_list(doc.get("requires", []), "requires")))
        client, resume = self.endpoint(doc.get("client", {}), "client")
        server, _ = self.endpoint(doc.get("server", {}), "server")
        schedule = read.table(doc.get("schedule", {}), "schedule")
        read.keys(schedule, _SCHEDULE_KEYS, "schedule")
        deliver = self.deliver(schedule.get("deliver", "all"), "schedule.deliver")
        max_calls = read.at_most(schedule.get("max_calls", DEFAULT_MAX_CALLS),
                                 "schedule.max_calls", readers.MAX_CALLS, "calls")
        turns = read.choice(schedule.get("turns", "alternate"), TURNS, "schedule.turns")
        link = read.choice(schedule.get("link", "memory"), LINK_KINDS, "schedule.link")
        socket_buffer = None
        if "socket_buffer" in schedule:
            socket_buffer = read.at_most(schedule["socket_buffer"], "schedule.socket_buffer",
                                         1 << 24, "bytes (16 MiB)")
            rules.check_schedule(read, link, socket_buffer)
        bio_pair_size = None
        if "bio_pair_size" in schedule:
            bio_pair_size = read.at_most(schedule["bio_pair_size"], "schedule.bio_pair_size",
                                         MAX_BIO_PAIR, "bytes")
            if link != "bio-pair":
                raise self.fail("schedule.bio_pair_size", 'sizes a BIO pair: it needs '
                                                          'link = "bio-pair"')
        send_cap = None
        if "send_cap" in schedule:
            send_cap = read.at_most(schedule["send_cap"], "schedule.send_cap", MAX_BIO_PAIR,
                                    "bytes")
        if "steps" not in doc:
            raise self.fail("steps", "missing (a scenario needs at least one [[steps]])")
        raw_steps = doc["steps"]
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail("steps", "expected an array of tables ([[steps]]) with at least "
                                     f"one entry, got {describe(raw_steps)}")
        steps = tuple(self.step(s, i) for i, s in enumerate(raw_steps))
        result = self.result(doc.get("result", {}))
        sweep = self.sweep(doc["sweep"]) if "sweep" in doc else None
        explore = self.explore(doc["explore"]) if "explore" in doc else None
        rules.check_stacks(read, {"client": client, "server": server}, link, steps, result,
                           resume)
        rules.check_send_cap(read, {"client": client, "server": server}, link, send_cap)
        return Scenario(
            path=self.path, title=title, about=about, tags=tags, client=client,
            server=server, steps=steps, result=result, deliver=deliver,
            max_calls=max_calls, turns=turns, link=link, resume=resume, sweep=sweep,
            explore=explore,
            socket_buffer=socket_buffer, bio_pair_size=bio_pair_size, send_cap=send_cap,
            requires=requires,
        )

    # -- endpoints -----------------------------------------------------------------------
    def endpoint(self, raw: Any, role: str) -> tuple[EndpointConfig, bool]:
        read = self.read
        table = read.table(raw, role)
        read.keys(table, _ENDPOINT_KEYS, role)
        wrong = _SERVER_ONLY if role == "client" else _CLIENT_ONLY
        for key in wrong:
            if key in table:
                other = "server" if role == "client" else "client"
                raise self.fail(f"{role}.{key}", f"is a {other} setting")
        kw: dict[str, Any] = {"role": role}
        for key in ("version", "min_version", "max_version"):
            if key in table:
                kw[key] = read.choice(table[key], VERSIONS, f"{role}.{key}")
        # Strings that reach OpenSSL, the IDNA codec, the certificate builder or a peer's
        # command line: each checked against what its receiver accepts (readers.py).
        for key, problem in _ENDPOINT_STRINGS.items():
            if key in table:
                kw[key] = read.string(table[key], f"{role}.{key}")
                if not (key == "server_name" and kw[key] == ""):
                    read.checked(kw[key], f"{role}.{key}", problem)
        if "server_name" in table and table["server_name"] == "":
            kw["server_name"] = None
        for key in ("verify", "post_handshake_auth", "quiet_shutdown"):
            if key in table:
                kw[key] = read.boolean(table[key], f"{role}.{key}")
        if "trust" in table:
            kw["trust"] = read.choice(table["trust"], ("ca", "other-ca", "none"),
                                      f"{role}.trust")
        if "cert" in table:
            kw["cert"] = read.choice(table["cert"], (*pki.KEY_TYPES, "none"), f"{role}.cert")
        if "cert_issuer" in table:
            kw["cert_issuer"] = read.choice(table["cert_issuer"], pki.ISSUERS,
                                            f"{role}.cert_issuer")
        if "cert_validity" in table:
            kw["cert_validity"] = read.choice(table["cert_validity"], pki.VALIDITIES,
                                              f"{role}.cert_validity")
        if "cert_padding" in table:
            kw["cert_padding"] = read.at_most(table["cert_padding"], f"{role}.cert_padding",
                                              60000, "bytes", zero=True)
        if "verify_client" in table:
            kw["verify_client"] = read.choice(table["verify_client"], VERIFY_CLIENT,
                                              f"{role}.verify_client")
        for key, problem in (("alpn", readers.alpn_problem),
                             ("groups", readers.list_name_problem),
                             ("sigalgs", readers.list_name_problem)):
            if key in table:
                kw[key] = read.str_list(table[key], f"{role}.{key}",
                                        functools.partial(read.checked, problem=problem))
                if len(kw[key]) > readers.MAX_LIST_ENTRIES:
                    raise self.fail(f"{role}.{key}", f"at most {readers.MAX_LIST_ENTRIES} "
                                                     f"entries, got {len(kw[key])}")
        if "options" in table:
            kw["options"] = read.str_list(table["options"], f"{role}.options",
                                          read.name_in(_openssl.OPTIONS, "option"))
        for key in ("modes", "clear_modes"):
            if key in table:
                kw[key] = read.str_list(table[key], f"{role}.{key}",
                                        read.name_in(_openssl.MODES, "mode"))
        if "max_early_data" in table:
            kw["max_early_data"] = read.at_most(table["max_early_data"],
                                                f"{role}.max_early_data",
                                                readers.MAX_EARLY_DATA, "bytes (a uint32)",
                                                zero=True)
        if "max_send_fragment" in table:
            lo, hi = MAX_SEND_FRAGMENT
            kw["max_send_fragment"] = read.at_most(table["max_send_fragment"],
                                                   f"{role}.max_send_fragment", hi, "bytes")
            if kw["max_send_fragment"] < lo:
                raise self.fail(f"{role}.max_send_fragment", f"must be {lo} to {hi} "
                                                             f"(SSL_set_max_send_fragment)")
        resume = False
        if "resume" in table:
            resume = read.boolean(table["resume"], f"{role}.resume")
        if "stack" in table:
            value = table["stack"]
            if isinstance(value, str) and value.startswith("python:"):
                # A user's sans-I/O wrapper (docs/wrappers.md): the name's form is checked
                # here, the module is imported when the pair is built.
                try:
                    kw["stack"] = capabilities(value).stack
                except ValueError as exc:
                    raise self.fail(f"{role}.stack", str(exc)) from None
            else:
                kw["stack"] = read.choice(value, STACKS, f"{role}.stack")
        cfg = EndpointConfig(**kw)
        rules.check_endpoint(read, role, tuple(table), cfg)
        return cfg, resume

    # -- schedule values -----------------------------------------------------------------
    def deliver(self, value: Any, key: str) -> Deliver:
        if isinstance(value, dict):
            # { "server>client" = [1, 300] }: one policy per direction (others: all).
            if not value:
                raise self.fail(key, "an empty table (name a direction: client>server or "
                                     "server>client)")
            per: dict[str, LinkDeliver] = {}
            for direction, policy in value.items():
                self.direction(direction, f"{key}.{direction}")
                if isinstance(policy, dict):
                    raise self.fail(f"{key}.{direction}", "expected one link's policy, got "
                                                          "a table")
                per[direction] = self.link_deliver(policy, f'{key}."{direction}"')
            return per
        return self.link_deliver(value, key)

    def link_deliver(self, value: Any, key: str) -> LinkDeliver:
        what = ('"all", "bytewise", "records", a positive integer, a list of positive '
                'integers, or a table of those by direction')
        if isinstance(value, str):
            if value not in DELIVER_NAMES:
                raise self.fail(key, f"expected {what}, got {shown(value)}"
                                     f"{suggest(value, DELIVER_NAMES)}")
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return self.read.at_most(value, key, MAX_SIZE, "bytes")
        if isinstance(value, list) and value:
            if len(value) > readers.MAX_COUNT:
                raise self.fail(key, f"at most {readers.MAX_COUNT:,} entries, got {len(value)}")
            return tuple(self.read.at_most(v, f"{key}[{i + 1}]", MAX_SIZE, "bytes")
                         for i, v in enumerate(value))
        raise self.fail(key, f"expected {what}, got {describe(value)}")

    def direction(self, value: Any, key: str) -> str:
        return self.read.choice(value, DIRECTIONS, key)

    def size(self, value: Any, key: str) -> int:
        # A byte count for a read, peek or write: 1 to MAX_SIZE.
        return self.read.at_most(value, key, MAX_SIZE, "bytes")

    # -- steps ---------------------------------------------------------------------------
    def step(self, raw: Any, i: int) -> Step:
        where = f"steps[{i + 1}]"
        self.read.table(raw, where)
        self.read.keys(raw, _STEP_KEYS, where)
        actions = [k for k in _ACTIONS if k in raw]
        if len(actions) > 1 and all(a in _MODE_ACTIONS for a in actions):
            actions = actions[:1]  # one mode step: clear, set and options together
        if len(actions) != 1:
            found = f"{len(actions)} ({', '.join(actions)})" if actions else "none"
            raise self.fail(where, f"a step needs exactly one action key of "
                                   f"{', '.join(_ACTIONS)}; found {found}")
        action = actions[0]
        if "note" in raw:
            self.read.text(raw["note"], f"{where}.note", lines=True)
        for key in raw:
            if key != action and key not in _STEP_MODIFIERS[action]:
                takes = ", ".join(_STEP_MODIFIERS[action])
                raise self.fail(f"{where}.{key}",
                                f"does not apply to a {action} step (it takes {takes})")
        key = f"{where}.{action}"
        value = raw[action]
        if action == "call":
            return self.call_step(raw, i, where)
        if action == "check":
            return self.check_step(raw, i, where)
        if action == "junk":
            return self.junk_step(raw, i, where)
        if action in _MODE_ACTIONS:
            return self.mode_step(raw, i, where)
        if action == "move":
            nbytes: int | str | None = None
            if "bytes" in raw:
                if isinstance(raw["bytes"], str):
                    nbytes = self.read.choice(raw["bytes"], STOPS, f"{where}.bytes")
                else:
                    nbytes = self.read.at_most(raw["bytes"], f"{where}.bytes",
                                               readers.MAX_OFFSET, "bytes", zero=True)
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
            text = self.read.text(raw["until"], f"{where}.until")
            for word in text.split():
                if word.isdigit() and not (word.isascii() and len(word) <= 5
                                           and 1 <= int(word) <= readers.MAX_COUNT):
                    raise self.fail(f"{where}.until", f"a count is an ASCII number from 1 "
                                                      f"to {readers.MAX_COUNT:,}, got "
                                                      f"{shown(word, 30)}")
            try:
                until = parse_condition(text)
            except ValueError as exc:
                raise self.fail(f"{where}.until", str(exc)) from None
            return HoldStep(i, self.direction(value, key), until)
        return self.run_step(raw, i, where)

    def call_words(self, text: Any, key: str) -> tuple[str, str, int | None]:
        if not isinstance(text, str):
            raise self.fail(key, f'expected "ENDPOINT OP", got {describe(text)}')
        words = text.split()
        if len(words) not in (2, 3):
            raise self.fail(key, f'expected "ENDPOINT OP" (e.g. "client connect"), got '
                                 f'{shown(text)}')
        endpoint, op = words[0], words[1]
        if endpoint not in ENDPOINTS:
            raise self.fail(key, f"unknown endpoint {shown(endpoint)}"
                                 f"{suggest(endpoint, ENDPOINTS)}"
                                 f"; expected client or server")
        if op not in OPS:
            raise self.fail(key, f"unknown op {shown(op)}{suggest(op, OPS)}; ops: "
                                 f"{', '.join(OPS)}")
        if ROLE_OPS.get(op, endpoint) != endpoint:
            raise self.fail(key, f"{op} is a {ROLE_OPS[op]} op; the {endpoint} cannot make it")
        size = None
        if len(words) == 3:
            # ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
            digits = words[2]
            if op not in _SIZED_OPS or not (digits.isascii() and digits.isdigit()):
                raise self.fail(key, f"only {', '.join(_SIZED_OPS)} take a size, as a "
                                     f"number in ASCII digits: {shown(text)}")
            if len(digits) > 9:
                raise self.fail(key, f"must be at most {MAX_SIZE} bytes, got "
                                     f"{shown(digits, 30)}")
            size = self.size(int(digits), key)
        return endpoint, op, size

    def call_step(self, raw: Mapping[str, Any], i: int, where: str) -> CallStep:
        read = self.read
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
            text = read.string(raw["data"], f"{where}.data")
            if "repeat" in raw:
                repeat = read.positive(raw["repeat"], f"{where}.repeat")
                if len(text.encode()) * repeat > MAX_SIZE:
                    raise self.fail(f"{where}.repeat", f"data x {repeat} is more than "
                                                       f"{MAX_SIZE} bytes")
                text *= repeat
            # A write sends the data; a read or peek expects to return it.
            if op in WRITE_OPS:
                data = text.encode()
            elif op in READ_OPS:
                expect_data = text.encode()
            else:
                raise self.fail(f"{where}.data", f"only write, read and peek (and their "
                                                 f"early data forms) take data, not {op}")
        if op in WRITE_OPS and data is not None and size is not None:
            raise self.fail(f"{where}.size", "give a write either data or size, not both")
        if op not in _SIZED_OPS and size is not None:
            raise self.fail(f"{where}.size", f"{op} takes no size")
        if op == "key_update":
            # SSL_key_update()'s type reaches the endpoint as size (config.OPS); without
            # request, SSL_KEY_UPDATE_NOT_REQUESTED.
            size = int(read.boolean(raw.get("request", False), f"{where}.request"))
        elif "request" in raw:
            raise self.fail(f"{where}.request", "only key_update takes request")
        buffer = "auto"
        if "buffer" in raw:
            if op not in WRITE_OPS:
                raise self.fail(f"{where}.buffer", "only write takes a buffer")
            buffer = read.choice(raw["buffer"], BUFFERS, f"{where}.buffer")
            payload = len(data) if data is not None else size or 0
            if buffer == "same" and payload > SAME_BUFFER_CAPACITY:
                raise self.fail(f"{where}.buffer", f'"same" refills a buffer of '
                                f"{SAME_BUFFER_CAPACITY} bytes at its address; a "
                                f"{payload}-byte payload does not fit there")
        expect = self.expectation(raw["expect"], f"{where}.expect") if "expect" in raw else None
        sends = self.sends(raw["sends"], f"{where}.sends") if "sends" in raw else None
        until = None
        cap = UNTIL_CAP
        if "until" in raw:
            until = self.pattern(raw["until"], f"{where}.until")
        if "max_calls" in raw:
            if until is None:
                raise self.fail(f"{where}.max_calls", "caps an until loop: give until too")
            cap = read.at_most(raw["max_calls"], f"{where}.max_calls", UNTIL_MAX, "calls")
        return CallStep(i, endpoint, op, expect, size, data, buffer, expect_data, sends,
                        until, cap)

    def sends(self, value: Any, key: str) -> Sends:
        # sends = 0 | N | ["alert:close_notify", "!application_data", ...]
        read = self.read
        if isinstance(value, int) and not isinstance(value, bool):
            n = read.positive(value, key, zero=True)
            if n > MAX_SIZE:
                raise self.fail(key, f"must be at most {MAX_SIZE} bytes")
            return Sends(nbytes=n, text=str(n))
        if not isinstance(value, list):
            raise self.fail(key, 'expected a byte count (0: nothing) or a list of names like '
                                 f'["alert:close_notify"], got {describe(value)}')
        names: list[str] = []
        absent: list[str] = []
        for j, item in enumerate(value):
            ikey = f"{key}[{j + 1}]"
            if not isinstance(item, str):
                raise self.fail(ikey, f"expected a record or message name, got "
                                      f"{describe(item)}")
            name = item[1:] if item.startswith("!") else item
            if name not in WIRE_NAMES:
                raise self.fail(ikey, f"unknown name {name!r}{suggest(name, sorted(WIRE_NAMES))}; "
                                      f"names: a record type ({', '.join(RECORD_NAMES)}), "
                                      f'"alert:DESCRIPTION" or a handshake message name')
            (absent if item.startswith("!") else names).append(name)
        both = set(names) & set(absent)
        if both:
            raise self.fail(key, f"{sorted(both)} both required and forbidden")
        shown = ", ".join(f'"{v}"' for v in value)
        return Sends(names=tuple(names), absent=tuple(absent), text=f"[{shown}]")

    def check_step(self, raw: Mapping[str, Any], i: int, where: str) -> CheckStep:
        endpoint = self.read.choice(raw["check"], ENDPOINTS, f"{where}.check")
        values = {k: self.result_entry(k, v, f"{where}.{k}") for k, v in raw.items()
                  if k in _CHECK_KEYS}
        if not values:
            raise self.fail(where, f"a check needs at least one key to assert "
                                   f"({', '.join(_CHECK_KEYS)})")
        return CheckStep(i, endpoint, values)

    def junk_step(self, raw: Mapping[str, Any], i: int, where: str) -> JunkStep:
        endpoint = self.read.choice(raw["junk"], ENDPOINTS, f"{where}.junk")
        if "hex" not in raw:
            raise self.fail(f"{where}.hex", 'missing: junk needs the bytes, e.g. hex = '
                                            '"474554202f20485454502f312e310d0a" ("GET / ...")')
        data = self.read.hex_bytes(raw["hex"], f"{where}.hex")
        if not data:
            raise self.fail(f"{where}.hex", "no bytes: give at least one")
        if len(data) > MAX_JUNK:
            raise self.fail(f"{where}.hex", f"at most {MAX_JUNK} bytes, got {len(data)}")
        return JunkStep(i, endpoint, data)

    def mode_step(self, raw: Mapping[str, Any], i: int, where: str) -> ModeStep:
        # clear_modes = "client ACCEPT_MOVING_WRITE_BUFFER", set_modes = "client ...":
        # every key of the step names the same endpoint, then its names.
        endpoint: str | None = None
        names: dict[str, tuple[str, ...]] = {}
        for action in _MODE_ACTIONS:
            if action not in raw:
                continue
            key = f"{where}.{action}"
            text = raw[action]
            if not isinstance(text, str) or len(text.split()) < 2:
                raise self.fail(key, f'expected "ENDPOINT NAME ..." (e.g. "client '
                                     f'ENABLE_PARTIAL_WRITE"), got {describe(text)}')
            words = text.split()
            who = self.read.choice(words[0], ENDPOINTS, key)
            if endpoint is not None and who != endpoint:
                raise self.fail(key, f"names {who}; this step changes the {endpoint} (one "
                                     f"endpoint per step)")
            endpoint = who
            table = _openssl.OPTIONS if action == "set_options" else _openssl.MODES
            what = "option" if action == "set_options" else "mode"
            check = self.read.name_in(table, what)
            for j, name in enumerate(words[1:]):
                check(name, f"{key}[{j + 1}]")
            if len(set(words[1:])) != len(words) - 1:
                raise self.fail(key, "names a flag twice")
            names[action] = tuple(words[1:])
        both = set(names.get("set_modes", ())) & set(names.get("clear_modes", ()))
        if both:
            raise self.fail(f"{where}.set_modes", f"{sorted(both)} also in clear_modes: in "
                                                  f"one step that only sets it; clear it in "
                                                  f"a later step")
        assert endpoint is not None  # step() found at least one mode action
        return ModeStep(i, endpoint, names.get("set_modes", ()), names.get("clear_modes", ()),
                        names.get("set_options", ()))

    def run_step(self, raw: Mapping[str, Any], i: int, where: str) -> RunStep:
        read = self.read
        key = f"{where}.run"
        value = raw["run"]
        if not isinstance(value, list) or not value:
            raise self.fail(key, f'expected a list of calls like ["client connect", '
                                 f'"server accept"], got {describe(value)}')
        entries: list[RunEntry] = []
        sends: dict[str, Sends] = {}
        for j, item in enumerate(value):
            ekey = f"{key}[{j + 1}]"
            data = None
            repeat = 1
            if isinstance(item, dict):
                read.keys(item, _RUN_ENTRY_KEYS, ekey)
                if "call" not in item:
                    raise self.fail(ekey, "an inline entry needs call = \"ENDPOINT OP\"")
                endpoint, op, size = self.call_words(item["call"], f"{ekey}.call")
                if "size" in item:
                    size = self.size(item["size"], f"{ekey}.size")
                if "data" in item:
                    if op not in WRITE_OPS:
                        raise self.fail(f"{ekey}.data", "only a write entry takes data")
                    data = read.string(item["data"], f"{ekey}.data").encode()
                if "repeat" in item:
                    repeat = read.at_most(item["repeat"], f"{ekey}.repeat", MAX_REPEAT,
                                          "times")
                if "sends" in item:
                    sends[endpoint] = self.sends(item["sends"], f"{ekey}.sends")
            else:
                endpoint, op, size = self.call_words(item, ekey)
            if op == "key_update":
                raise self.fail(ekey, "key_update is a call step (with request = true or "
                                      "false), not a run entry")
            # A bare write in a run retries the endpoint's pending write buffer.
            if any(e.endpoint == endpoint for e in entries):
                raise self.fail(ekey, f"{endpoint} appears twice; a run calls each endpoint "
                                      f"with one op")
            entries.append(RunEntry(endpoint, op, size, data, repeat))
        expect: dict[str, Pattern | Versioned[Pattern]] = {}
        if "expect" in raw:
            table = raw["expect"]
            if not isinstance(table, dict):
                raise self.fail(f"{where}.expect", 'a run expects a table like '
                                                   '{ client = "WANT_READ+ 1" }, got '
                                                   f"{describe(table)}")
            names = [e.endpoint for e in entries]
            for name, pattern in table.items():
                if name not in names:
                    raise self.fail(f"{where}.expect.{name}",
                                    f"not an endpoint of this run ({', '.join(names)})")
                expect[name] = self.expectation(pattern, f"{where}.expect.{name}")
        deliver = self.deliver(raw["deliver"], f"{where}.deliver") if "deliver" in raw else None
        max_calls = (read.at_most(raw["max_calls"], f"{where}.max_calls", readers.MAX_CALLS,
                                  "calls") if "max_calls" in raw else None)
        return RunStep(i, tuple(entries), expect, deliver, max_calls, sends)

    def fault_step(self, raw: Mapping[str, Any], i: int, where: str, kind: str) -> FaultStep:
        read = self.read
        direction = self.direction(raw[kind], f"{where}.{kind}")
        kw: dict[str, Any] = {}
        if "offset" in raw and "record" in raw:
            raise self.fail(f"{where}.offset", "give either offset or record, not both")
        if "offset" in raw:
            kw["offset"] = read.at_most(raw["offset"], f"{where}.offset", readers.MAX_OFFSET,
                                        "", zero=True)
        if "record" in raw:
            kw["record"] = read.at_most(raw["record"], f"{where}.record", readers.MAX_OFFSET,
                                        "", zero=True)
        if "at" in raw:
            if "record" not in raw:
                raise self.fail(f"{where}.at", "at is a byte inside a record: give record too")
            read.typed(raw["at"], int, f"{where}.at", "an integer (negative: from the "
                                                      "record's end)")
            kw["at"] = read.between(raw["at"], f"{where}.at", -readers.MAX_AT, readers.MAX_AT)
        if kind in ("corrupt", "drop", "duplicate", "coalesce") and not (
                "offset" in raw or "record" in raw):
            raise self.fail(f"{where}", f"{kind} needs offset = N (a byte of the stream) or "
                                        f"record = N (a record index)")
        if "length" in raw:
            kw["length"] = read.at_most(raw["length"], f"{where}.length", MAX_SIZE, "bytes")
        if "xor" in raw:
            kw["xor"] = read.hex_bytes(raw["xor"], f"{where}.xor", nonzero=True)
        if kind == "inject":
            if "hex" not in raw:
                raise self.fail(f"{where}.hex", 'missing: inject needs the bytes, e.g. hex = '
                                                '"15030300020100" (a close_notify alert)')
            kw["data"] = read.hex_bytes(raw["hex"], f"{where}.hex")
        if "size" in raw:
            kw["size"] = read.at_most(raw["size"], f"{where}.size", 16384,
                                      "bytes (a record body)")
        if "count" in raw:
            kw["count"] = read.at_most(raw["count"], f"{where}.count", readers.MAX_COUNT,
                                       "records")
            if kw["count"] < 2:
                raise self.fail(f"{where}.count", "coalesce merges at least 2 records")
        return FaultStep(i, Fault(kind, direction, **kw))

    # -- expectations and version tables -------------------------------------------------
    def expectation(self, value: Any, key: str) -> Pattern | Versioned[Pattern]:
        if isinstance(value, dict):
            return self.versioned(value, key, self.pattern, "an outcome pattern string")
        return self.pattern(value, key)

    def pattern(self, value: Any, key: str) -> Pattern:
        if not isinstance(value, str):
            raise self.fail(key, f"expected an outcome pattern string, got {describe(value)}")
        problem = readers.pattern_problem(value)
        if problem is not None:
            raise self.fail(key, problem)
        try:
            return compile_pattern(value)
        except PatternError as exc:
            raise self.fail(key, str(exc)) from None

    def versioned(self, table: dict[str, Any], key: str, read: Callable[[Any, str], T],
                  what: str) -> Versioned[T]:
        # { "openssl >= 4.0" = "SSL", "else" = "SYSCALL" }: every condition and value is
        # validated whatever the stack; which branch holds is the run's question.
        if not table:
            raise self.fail(key, "an empty table of version conditions")
        branches: list[tuple[VersionCondition, T]] = []
        for text, value in table.items():
            bkey = f'{key}."{text}"'
            try:
                cond = parse_version_condition(text)
            except ConditionError as exc:
                raise self.fail(bkey, str(exc)) from None
            if isinstance(value, dict):
                raise self.fail(bkey, f"expected {what}, got a table (conditions do not "
                                      f"nest)")
            branches.append((cond, read(value, bkey)))
        return Versioned(tuple(branches))

    def requirement(self, text: str, key: str) -> VersionCondition:
        try:
            cond = parse_version_condition(text)
        except ConditionError as exc:
            raise self.fail(key, str(exc)) from None
        if not cond.comparisons:
            raise self.fail(key, '"else" is only for a table of conditions')
        return cond

    # -- [result] and [sweep] ------------------------------------------------------------
    def result(self, raw: Any) -> ResultSpec:
        read = self.read
        table = read.table(raw, "result")
        read.keys(table, (*_RESULT_KEYS, *ENDPOINTS, "calls", "oracle"), "result")
        both = {k: self.result_entry(k, v, f"result.{k}")
                for k, v in table.items() if k in _RESULT_KEYS and k != "keys_match"}
        keys_match = (read.boolean(table["keys_match"], "result.keys_match")
                      if "keys_match" in table else None)
        per: dict[str, dict[str, Any]] = {}
        for role in ENDPOINTS:
            if role in table:
                sub = read.table(table[role], f"result.{role}")
                read.keys(sub, _RESULT_KEYS, f"result.{role}")
                if "keys_match" in sub:
                    raise self.fail(f"result.{role}.keys_match", "compares both ends: put "
                                                                 "it in [result]")
                per[role] = {k: self.result_entry(k, v, f"result.{role}.{k}")
                             for k, v in sub.items()}
        calls = (self.result_entry("calls", table["calls"], "result.calls")
                 if "calls" in table else None)
        oracle = self.oracle(table["oracle"]) if "oracle" in table else {}
        return ResultSpec(both, per, calls, keys_match=keys_match, oracle=oracle)

    def oracle(self, raw: Any) -> dict[str, str]:
        # oracle = { "client>server" = "duplicated" }: what the transport oracle finds.
        table = self.read.table(raw, "result.oracle")
        self.read.keys(table, DIRECTIONS, "result.oracle")
        return {d: self.read.choice(v, ORACLE_FINDINGS, f'result.oracle."{d}"')
                for d, v in table.items()}

    def result_entry(self, key: str, value: Any, path: str) -> Any:
        # calls = { "openssl >= 3.5" = 3631, "else" = 1312 }: versioned like a pattern.
        if isinstance(value, dict):
            return self.versioned(value, path, lambda v, k: self.result_value(key, v, k),
                                  "a value")
        return self.result_value(key, value, path)

    def result_value(self, key: str, value: Any, path: str) -> Any:
        read = self.read
        if key == "calls":
            return read.at_most(value, path, readers.MAX_CALLS, "calls")
        if key in ("session_reused", "renegotiate_pending", "has_pending", "in_init",
                   "session_resumable"):
            return read.boolean(value, path)
        if key == "pending":
            return read.positive(value, path, zero=True)
        if key == "shutdown":
            return list(read.str_list(value, path, self._shutdown_flag))
        if key == "early_data_status":
            return read.choice(value, EARLY_DATA_STATUSES, path)
        if value is False:
            return None
        if key == "received":  # application data: any text the writes could send
            return read.typed(value, str, path, 'a string (or false for "none")')
        read.typed(value, str, path, 'a string (or false for "none")')
        return read.text(value, path)

    def _shutdown_flag(self, value: str, key: str) -> None:
        self.read.choice(value, ("sent", "received"), key)

    def sweep(self, raw: Any) -> SweepSpec:
        read = self.read
        table = read.table(raw, "sweep")
        read.keys(table, _SWEEP_KEYS, "sweep")
        kw: dict[str, Any] = {}
        if "fault" in table:
            kw["fault"] = read.choice(table["fault"], SWEEP_FAULTS, "sweep.fault")
        if "link" in table:
            kw["link"] = self.direction(table["link"], "sweep.link")
        if "unit" in table:
            kw["unit"] = read.choice(table["unit"], ("bytes", "records"), "sweep.unit")
        if "start" in table:
            kw["start"] = read.at_most(table["start"], "sweep.start", readers.MAX_OFFSET, "",
                                       zero=True)
        if "stop" in table:
            # Clamped to the swept stream's length when the sweep runs.
            kw["stop"] = read.positive(table["stop"], "sweep.stop")
            if kw["stop"] <= kw.get("start", 0):
                raise self.fail("sweep.stop", f"must be above start ({kw.get('start', 0)})")
        if "stride" in table:
            kw["stride"] = read.at_most(table["stride"], "sweep.stride", readers.MAX_OFFSET, "")
        if "xor" in table:
            kw["xor"] = read.hex_bytes(table["xor"], "sweep.xor", nonzero=True)
        if "forbid" in table:
            kw["forbid"] = read.str_list(table["forbid"], "sweep.forbid", read.text)
        return SweepSpec(**kw)

    def explore(self, raw: Any) -> ExploreSpec:
        read = self.read
        table = read.table(raw, "explore")
        read.keys(table, _EXPLORE_KEYS, "explore")
        kw: dict[str, Any] = {}
        if "links" in table:
            links = read.str_list(table["links"], "explore.links", self._direction_item)
            if len(set(links)) != len(links):
                raise self.fail("explore.links", "names a direction twice")
            kw["links"] = tuple(d for d in DIRECTIONS if d in links)
        for key, cap in (("splits", EXPLORE_MAX_SPLITS), ("pauses", EXPLORE_MAX_PAUSES)):
            if key in table:
                kw[key] = read.at_most(table[key], f"explore.{key}", cap, "", zero=True)
        if "turns" in table:
            value = table["turns"]
            if isinstance(value, bool):
                kw["turns"] = int(value)
            else:
                n = read.positive(value, "explore.turns", zero=True)
                if n > EXPLORE_MAX_TURNS:
                    raise self.fail("explore.turns", f"must be true, false or at most "
                                                     f"{EXPLORE_MAX_TURNS}, got {number(n)}")
                kw["turns"] = n
        if "forbid" in table:
            kw["forbid"] = read.str_list(table["forbid"], "explore.forbid",
                                         self._forbid_item)
        return ExploreSpec(**kw)

    def _direction_item(self, value: str, key: str) -> None:
        self.direction(value, key)

    def _forbid_item(self, value: str, key: str) -> None:
        self.read.choice(value, EXPLORE_FORBID, key)


_TOKENS = re.compile(r'"""|\'\'\'|["\'#\[\]{}]')
_ENDS = {'"': re.compile(r'\\.|"', re.S), '"""': re.compile(r'\\.|"""', re.S)}


def _nesting(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in TOML ``text`` outside strings and
    comments (a table header counts 1 or 2): read before parsing, as tomllib recurses."""
    depth = deepest = pos = 0
    n = len(text)
    while pos < n:
        m = _TOKENS.search(text, pos)
        if m is None:
            break
        tok = m.group(0)
        pos = m.end()
        if tok in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif tok in "]}":
            depth = max(0, depth - 1)
        elif tok == "#":
            end = text.find("\n", pos)
            pos = n if end < 0 else end + 1
        elif tok in ("'", "\'\'\'"):
            end = text.find(tok, pos)
            pos = n if end < 0 else end + len(tok)
        else:
            ends = _ENDS[tok]
            while True:
                e = ends.search(text, pos)
                if e is None:
                    pos = n
                    break
                pos = e.end()
                if not e.group(0).startswith("\\"):
                    break
    return deepest


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def load_scenario(path: str | Path, stacks: Mapping[str, str] | None = None) -> Scenario:
    """Load and validate one scenario file.

    ``stacks`` (``{"client": "wolfssl", ...}``) replaces the ``stack`` of those endpoint
    tables before validation, so the file is judged on those stacks exactly as if it named
    them (``biopair run --stacks``).

    Version tables stay unresolved (:class:`~biopair.scenario.model.Versioned`): the
    result fits every environment, and :func:`~biopair.scenario.runner.run_scenario`
    picks each table's branch for the stack it runs on.

    Raises:
        ScenarioError: naming the file, the key path and the problem.
    """
    return _Loader(path, stacks).load()


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
