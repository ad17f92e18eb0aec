"""A seeded fuzzer of scenario files: no file may crash, hang or exhaust the loader or a run.

``python -m biopair.fuzz [--mutants N | --seconds S] [--seed N] [--jobs J]`` generates
hostile scenario files with Hypothesis (install the ``fuzz`` extra) and checks each one:

* **mutants** of the shipped scenarios (``scenarios/**.toml``): a value replaced by a
  hostile string, integer or value of another type; a key deleted, renamed (to a key with
  a newline, an escape sequence, a NUL...) or added; a value nested in arrays or tables
  (up to 1,000 deep); the bytes truncated, spliced with non-UTF-8 bytes, NULs, brackets or
  a 5,000-digit number, or a line duplicated;
* **generated** documents: tables of schema words and hostile keys, hostile values.

The oracle is the promise of ``docs/scenario-format.md``: a file either loads or is one
:class:`~biopair.scenario.model.ScenarioError` whose line is a single printable line (exit
2); one that loads is run, with its call cap lowered to :data:`FUZZ_MAX_CALLS`, in a
worker process with a timeout, and either passes or fails (exit 0 or 1) or is one such
line (one with an ``[explore]`` section is also explored, :data:`FUZZ_EXPLORE_BUDGET`
schedules in each order).  Anything else -- any other exception (a *traceback*), a
worker that does not answer within the timeout (a *hang*), an error that is not one
line -- is a finding.  The figures
printed at the end count mutants, tracebacks, hangs and multi-line errors, and every
finding names its seed and mutant number: ``python -m biopair.fuzz --seed S --only K``
regenerates and checks that one file, and ``--keep DIR`` writes the failing files there.

Mutant ``K`` of seed ``S`` is the same file on every machine with the same Hypothesis
release: mutants are drawn in batches of :data:`BATCH`, each batch from its own derived
seed.  ``tests/search/test_fuzz.py`` runs a fast slice in the suite; ``tox -e fuzz`` runs
it long.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import math
import multiprocessing
import multiprocessing.connection
import os
import resource
import sys
import tempfile
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The call cap every fuzzed run gets (a mutant's own cap is kept when lower).
FUZZ_MAX_CALLS = 2000
#: Schedules a mutant with an ``[explore]`` section is explored for, in each order.
FUZZ_EXPLORE_BUDGET = 16
#: Mutants drawn from one derived Hypothesis seed.
BATCH = 250
#: Address space a worker may use; beyond it an allocation is a MemoryError (a finding).
WORKER_MEMORY = 2 << 30
#: A worker is replaced after this many files, so that one run's leftovers cannot
#: influence many later ones.
WORKER_FILES = 500

_ROOT = Path(__file__).resolve().parent.parent

# -- hostile values ---------------------------------------------------------------------
HOSTILE_STRINGS: tuple[str, ...] = (
    "", " ", "a b", ".", "..", "a..b", "*.x", "*", "::1", "127.0.0.1", "-quiet", "-",
    "server.test.", "server.test\0.evil", "\0", "a\nb", "\r", "\t", "\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07", "\u2028", "\u202e", "\ufeff", "²", "٣", "client read ²",
    "client read 99999999999", "client write 0", "bücher.test", "ß", "\U0001f600",
    "a" * 63, "a" * 64, "a" * 65, ("a" * 63 + ".") * 4, "a" * 256, "a" * 1025,
    "x25519:P-256", "ALL:eNULL", "h2,http/1.1", "WANT_READ{4294967296}", "WANT_READ{99999}",
    "(" * 1000 + "1" + ")" * 1000, "(WANT_READ+)+ SSL", "9" * 5000, "WANT_READ+ 1",
    "1 " * 3000, '"', "\\", "{", "}", "[", "]", "'", "openssl >= " + "9" * 5000,
    "openssl >= ³", "else", "server received 4294967296 ClientHello",
    "server received ² ClientHello", "client>server", "server>client", "ff", "00", "zz",
    "1503030002010", "15030300020100", "records", "header-1", "%s%n", "$(id)", "`id`",
)
HOSTILE_INTS: tuple[int, ...] = (
    0, -1, 1, 2, 3, 5, 63, 64, 65, 255, 256, 1000, 16384, 16385, 60000, 60001, 65535,
    65536, 65537, 1 << 24, (1 << 24) + 1, 1 << 26, (1 << 26) + 1, (1 << 31) - 1, 1 << 31,
    (1 << 32) - 1, 1 << 32, 1 << 40, 1 << 63, 1 << 64, -(1 << 63), 10**4000, 16**5000,
    -(10**4000), 10_000_000, 10_000_001,
)
#: Words of the scenario schema, for renamed and added keys.
SCHEMA_WORDS: tuple[str, ...] = (
    "title", "about", "tags", "requires", "client", "server", "schedule", "steps",
    "result", "sweep", "call", "move", "eof", "run", "pause", "resume", "corrupt",
    "truncate", "drop", "duplicate", "inject", "split", "coalesce", "hold", "expect",
    "bytes", "size", "data", "buffer", "deliver", "max_calls", "note", "offset", "record",
    "at", "length", "xor", "hex", "count", "until", "repeat", "version", "min_version",
    "max_version", "server_name", "verify", "verify_host", "trust", "cert", "cert_host",
    "cert_issuer", "cert_validity", "cert_padding", "verify_client", "alpn", "groups",
    "sigalgs", "ciphers", "ciphersuites", "options", "modes", "clear_modes",
    "post_handshake_auth", "max_early_data", "stack", "turns", "link", "socket_buffer",
    "calls", "fault", "unit", "start", "stop", "stride", "forbid", "shutdown", "received",
    "state", "cipher", "group", "session_reused",
)
HOSTILE_KEYS: tuple[str, ...] = ("a\nb", "\x1b[31mred", "\0", "", " ", "ü", "a.b",
                                 "\u202e", "k" * 300, "steps[1]", "\r\n")
_SPLICES: tuple[bytes, ...] = (
    b"\xff", b"\xc3\x28", b"\x00", b"\xed\xa0\x80", b"[", b"]", b"{", b"}", b'"', b"'",
    b"\n[[steps]]\n", b"\n[client]\n", b"=", b"\\", b"9" * 5000, b"0x" + b"f" * 5000,
    b"[" * 1000, b"\r", b"\n", b"#", b'"""', b"\x1b[2J",
)


@dataclass(frozen=True)
class _Nest:
    # A value wrapped ``depth`` times in arrays (or inline tables): written as text, so
    # that 1,000 levels need no recursion in the writer.
    value: Any
    depth: int
    table: bool


def toml_text(doc: dict[str, Any]) -> str:
    """Write ``doc`` as TOML: ``key = value`` lines, sub-tables and arrays inline.

    Returns:
        The text (valid TOML for any value a mutation produces; an integer of more than
        4300 decimal digits is written in hex, or as its digits when negative).
    """
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in doc.items())


def _key(key: str) -> str:
    if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key):
        return key
    return _string(key)


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, _Nest):
        if value.table:
            return "{a = " * value.depth + _value(value.value) + "}" * value.depth
        return "[" * value.depth + _value(value.value) + "]" * value.depth
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() < 13000:
            return str(value)
        return hex(value) if value > 0 else "-" + "9" * 5000
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__}")  # pragma: no cover


# -- mutations ----------------------------------------------------------------------------
def shipped_scenarios(root: Path | None = None) -> list[tuple[str, bytes]]:
    """The shipped scenario files the mutants start from, sorted by path.

    Returns:
        ``(relative path, bytes)`` pairs.
    """
    for base in ([root / "scenarios"] if root else [_ROOT / "scenarios", Path("scenarios")]):
        found = [(str(p.relative_to(base)), p.read_bytes())
                 for p in sorted(base.rglob("*.toml")) if p.is_file()]
        if found:
            return found
    # An installed package has no scenarios/: mutate a built-in one.
    return [("builtin.toml", _BUILTIN)]


_BUILTIN = b"""title = "a TLS 1.3 handshake, bytewise"
tags = ["fuzz"]
[client]
version = "1.3"
alpn = ["h2"]
[server]
alpn = ["h2"]
[schedule]
deliver = "bytewise"
[[steps]]
call = "client connect"
expect = "-1 WANT_READ"
[[steps]]
run = ["client connect", "server accept"]
expect = { client = "WANT_READ+ 1", server = "WANT_READ+ 1" }
[[steps]]
call = "client write"
data = "ping"
[[steps]]
move = "client>server"
[[steps]]
call = "server read"
data = "ping"
[result]
version = "TLSv1.3"
"""


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    # Every key path in a parsed document (dict keys and list indices).
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


@functools.cache
def _strategies() -> Any:
    # Built on first use: the runtime package does not need Hypothesis.
    from hypothesis import strategies as st

    strings = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=12),
                        st.sampled_from(SCHEMA_WORDS))
    # (by index: Hypothesis prints its choices, and an int of 5,000 digits has no repr)
    ints = st.one_of(st.integers(0, len(HOSTILE_INTS) - 1).map(HOSTILE_INTS.__getitem__),
                     st.integers(-(1 << 70), 1 << 70))
    scalars = st.one_of(
        strings, ints, st.booleans(),
        st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.0, 1e308]),
        st.sampled_from([datetime.date(2024, 1, 1), datetime.time(1, 2, 3),
                         datetime.datetime(2024, 1, 1, 1, 2, 3)]),
    )
    keys = st.one_of(st.sampled_from(SCHEMA_WORDS), st.sampled_from(HOSTILE_KEYS),
                     st.text(max_size=8))
    # One level of arrays and tables (deeper nesting is the "nest" mutation's, as text).
    values = st.one_of(scalars, st.lists(scalars, max_size=3),
                       st.dictionaries(keys, scalars, max_size=3))
    return st, strings, ints, values, keys


def _mutant(data: Any, sources: Sequence[tuple[str, bytes]]) -> tuple[str, bytes]:
    # One hostile file: (a description of how it was made, its bytes).
    st, strings, ints, values, keys = _strategies()
    kind = data.draw(st.sampled_from(("value", "value", "value", "int", "string", "delete",
                                      "rename", "add", "nest", "bytes", "bytes",
                                      "generated")))
    if kind == "generated":
        doc = data.draw(st.dictionaries(keys, values, max_size=8))
        if data.draw(st.booleans()):
            doc.setdefault("title", "generated")
        if data.draw(st.booleans()):
            doc["steps"] = data.draw(st.lists(st.dictionaries(keys, values, max_size=4),
                                              max_size=4))
        return "generated", toml_text(doc).encode("utf-8", "surrogatepass")
    name, raw = data.draw(st.sampled_from(sources))
    if kind == "bytes":
        op = data.draw(st.sampled_from(("truncate", "splice", "duplicate-line", "flip")))
        pos = data.draw(st.integers(0, len(raw)))
        if op == "truncate":
            out = raw[:pos]
        elif op == "splice":
            out = raw[:pos] + data.draw(st.sampled_from(_SPLICES)) + raw[pos:]
        elif op == "flip":
            out = raw[:pos] + bytes([data.draw(st.integers(0, 255))]) + raw[pos + 1:]
        else:
            lines = raw.split(b"\n")
            i = data.draw(st.integers(0, len(lines) - 1))
            out = b"\n".join([*lines[:i + 1], lines[i], *lines[i + 1:]])
        return f"{name}: bytes {op} at {pos}", out
    doc = tomllib.loads(raw.decode())
    _small_cap(doc)
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths)) if paths else ()
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1] if path else None
    where = ".".join(map(str, path))
    if kind in ("value", "int", "string") and path:
        new = data.draw({"value": values, "int": ints, "string": strings}[kind])
        parent[last] = new
    elif kind == "delete" and path:
        del parent[last]
    elif kind == "rename" and isinstance(parent, dict):
        parent[data.draw(keys)] = parent.pop(last)
    elif kind == "add":
        target = parent if isinstance(parent, dict) else doc
        target[data.draw(keys)] = data.draw(values)
    elif kind == "nest" and path:
        parent[last] = _Nest(parent[last], data.draw(st.sampled_from((1, 2, 5, 33, 1000))),
                             data.draw(st.booleans()))
    return f"{name}: {kind} {where}", toml_text(doc).encode("utf-8", "surrogatepass")


def _small_cap(doc: dict[str, Any]) -> None:
    # Every mutant runs under a small call cap (a mutation may still change it).
    schedule = doc.setdefault("schedule", {})
    if isinstance(schedule, dict):
        cap = schedule.get("max_calls")
        if not isinstance(cap, int) or cap > FUZZ_MAX_CALLS:
            schedule["max_calls"] = FUZZ_MAX_CALLS


def generate(seed: int, batch: int, sources: Sequence[tuple[str, bytes]],
             size: int = BATCH) -> list[tuple[str, bytes]]:
    """Mutants ``batch * BATCH`` to ``(batch + 1) * BATCH - 1`` of ``seed`` (with another
    ``size``: a batch of that size, numbered apart from the command's).

    Returns:
        ``(description, bytes)`` for each, in order (fewer than ``size`` only if
        Hypothesis stops early).
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    out: list[tuple[str, bytes]] = []

    @hseed(seed * 1_000_003 + batch)
    @settings(max_examples=size, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data: Any) -> None:
        out.append(_mutant(data, sources))

    draw()
    return out[:size]


# -- the oracle ---------------------------------------------------------------------------
def check_file(path: str, max_calls: int = FUZZ_MAX_CALLS) -> tuple[str, str]:
    """Load ``path`` and, if it loads, run it with at most ``max_calls`` calls.

    Returns:
        ``(verdict, detail)``: ``pass``, ``fail``, ``skip``, ``error`` (one clean line,
        the detail), ``multiline`` (an error that is not one printable line) or
        ``traceback`` (any other exception; the detail is the traceback).
    """
    from biopair.scenario.loader import load_scenario
    from biopair.scenario.model import ScenarioError
    from biopair.scenario.runner import run_scenario

    try:
        scenario = load_scenario(path)
        scenario = dataclasses.replace(scenario, max_calls=min(scenario.max_calls, max_calls))
        verdict = run_scenario(scenario)
        if verdict.skipped is not None:
            return "skip", ""
        if scenario.explore is not None:
            _explore_briefly(scenario)
        if verdict.passed:
            return "pass", ""
        verdict.report()
        return "fail", ""
    except ScenarioError as exc:
        # One printable line per problem (a file lists every problem it has, issue 16).
        line = str(exc)
        lines = line.split("\n")
        return ("error" if all(part.isprintable() and part.strip() for part in lines)
                else "multiline"), line
    except Exception:
        return "traceback", traceback.format_exc()


def _explore_briefly(scenario: Any) -> None:
    # A file with an [explore] section is also explored, in both orders, a few schedules
    # each (and its counterexample shrunk): computing its space, walking it and shrinking
    # must not crash, and must cost what the schedules asked for (else the timeout calls
    # it a hang).
    from biopair.search.explore import explore

    for exhaustive in (True, False):
        explore(scenario, exhaustive=exhaustive, budget=FUZZ_EXPLORE_BUDGET, store=None)


def _serve(conn: multiprocessing.connection.Connection) -> None:
    # A worker: check files until told to stop; memory is capped so that a blow-up is
    # a MemoryError (a finding), not the machine's.
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    import biopair.scenario.runner  # noqa: F401  (import once, not per file)

    while True:
        task = conn.recv()
        if task is None:
            return
        conn.send(check_file(task))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.files = 0
        self.task: tuple[int, str, str] | None = None
        self.deadline = 0.0

    def give(self, task: tuple[int, str, str], timeout: float) -> None:
        self.task = task
        self.files += 1
        self.deadline = time.monotonic() + timeout
        self.conn.send(task[2])

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


@dataclass
class Report:
    """What a fuzz run found.

    Attributes:
        seed: the seed.
        mutants: files checked.
        counts: files by verdict (``pass``, ``fail``, ``skip``, ``error``, ``multiline``,
            ``traceback``, ``hang``).
        findings: ``(mutant number, description, verdict, detail, kept file or "")``.
        seconds: wall-clock time.
    """

    seed: int
    mutants: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing crashed, hung or printed more than one line."""
        return not self.findings

    def summary(self) -> str:
        """The figures, and how to reproduce each finding."""
        c = self.counts
        lines = [
            f"biopair.fuzz seed {self.seed}: {self.mutants} mutants in {self.seconds:.0f} s",
            f"  loaded and ran: {c.get('pass', 0)} passed, {c.get('fail', 0)} failed, "
            f"{c.get('skip', 0)} skipped",
            f"  exit-2 errors: {c.get('error', 0)} (not a single line: "
            f"{c.get('multiline', 0)})",
            f"  tracebacks: {c.get('traceback', 0)}, hangs: {c.get('hang', 0)}",
        ]
        for number, what, verdict, detail, kept in self.findings[:20]:
            lines.append(f"  {verdict.upper()} mutant {number} ({what}): reproduce with "
                         f"python -m biopair.fuzz --seed {self.seed} --only {number}"
                         + (f"; file {kept}" if kept else ""))
            lines.extend("    " + d for d in detail.strip().splitlines()[-3:])
        lines.append("PASS" if self.ok else "FAIL")
        return "\n".join(lines)


def fuzz(seed: int = 0, mutants: int | None = 1000, seconds: float | None = None, *,
         jobs: int = 1, timeout: float = 30.0, only: int | None = None,
         keep: str | None = None, sources: Sequence[tuple[str, bytes]] | None = None,
         progress: Callable[[Report], None] | None = None, batch_size: int = BATCH
         ) -> Report:
    """Generate and check mutants.

    Args:
        seed: the seed (mutant K of a seed is always the same file).
        mutants: how many (from 0), unless ``seconds`` is given.
        seconds: run batches until this much time has passed.
        jobs: worker processes.
        timeout: seconds one file may take before it counts as a hang.
        only: check just mutant ``only``.
        keep: a directory to copy failing files to.
        sources: the files to mutate (default: the shipped scenarios).
        progress: called after every batch.
        batch_size: mutants drawn per derived seed (mutant numbers are those of the
            command only with the default, :data:`BATCH`).

    Returns:
        The :class:`Report`.
    """
    sources = list(sources if sources is not None else shipped_scenarios())
    report = Report(seed)
    start = time.monotonic()
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                      else "spawn")
    workers = [_Worker(ctx) for _ in range(max(1, jobs))]
    with tempfile.TemporaryDirectory(prefix="biopair-fuzz-") as tmp:
        try:
            batch = 0 if only is None else only // batch_size
            while True:
                if only is None and seconds is None and mutants is not None and \
                        report.mutants >= mutants:
                    break
                if seconds is not None and time.monotonic() - start >= seconds:
                    break
                todo = []
                for i, (what, data) in enumerate(generate(seed, batch, sources,
                                                          batch_size)):
                    number = batch * batch_size + i
                    if only is not None and number != only:
                        continue
                    if only is None and seconds is None and mutants is not None and \
                            number >= mutants:
                        break
                    path = os.path.join(tmp, f"mutant-{number}.toml")
                    with open(path, "wb") as fh:
                        fh.write(data)
                    todo.append((number, what, path))
                _check_all(workers, ctx, todo, timeout, report, keep)
                batch += 1
                if progress is not None:
                    progress(report)
                if only is not None:
                    break
        finally:
            for w in workers:
                w.stop()
    report.seconds = time.monotonic() - start
    return report


def _check_all(workers: list[_Worker], ctx: Any, todo: list[tuple[int, str, str]],
               timeout: float, report: Report, keep: str | None) -> None:
    queue = list(reversed(todo))
    busy: list[_Worker] = []
    idle = list(workers)
    while queue or busy:
        while queue and idle:
            w = idle.pop()
            w.give(queue.pop(), timeout)
            busy.append(w)
        wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait)
        for w in list(busy):
            assert w.task is not None
            number, what, path = w.task
            result: tuple[str, str] | None = None
            if w.conn in ready:
                try:
                    result = w.conn.recv()
                except (EOFError, OSError):
                    result = ("traceback", f"the worker died (exit {w.proc.exitcode})")
            elif time.monotonic() >= w.deadline:
                result = ("hang", f"no answer within {timeout:g} s")
            if result is None:
                continue
            busy.remove(w)
            verdict, detail = result
            report.mutants += 1
            report.counts[verdict] = report.counts.get(verdict, 0) + 1
            if verdict in ("traceback", "hang", "multiline"):
                kept = ""
                if keep:
                    os.makedirs(keep, exist_ok=True)
                    kept = os.path.join(keep, f"seed{report.seed}-mutant-{number}.toml")
                    with open(path, "rb") as src, open(kept, "wb") as dst:
                        dst.write(src.read())
                report.findings.append((number, what, verdict, detail, kept))
            os.unlink(path)
            if verdict in ("traceback", "hang") or w.files >= WORKER_FILES:
                # A hung or crashed worker is replaced (and so is a well-used one).
                w.stop()
                w = _Worker(ctx)
                workers[:] = [x for x in workers if x.proc.is_alive()] + [w]
            idle.append(w)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m biopair.fuzz``: exit 0 when nothing crashed, hung or printed more
    than one line, 1 otherwise, 2 for a bad option."""
    parser = argparse.ArgumentParser(prog="python -m biopair.fuzz",
                                     description=__doc__.splitlines()[0])
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--mutants", type=int, default=1000, help="how many (default 1000)")
    amount.add_argument("--seconds", type=float, help="run for this long instead")
    parser.add_argument("--seed", type=int, default=0, help="the seed (default 0)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: one per CPU)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one file may take before it is a hang (default 30)")
    parser.add_argument("--only", type=int, metavar="K", help="check only mutant K")
    parser.add_argument("--keep", metavar="DIR", help="copy failing files to DIR")
    args = parser.parse_args(argv)
    if not (math.isfinite(args.timeout) and args.timeout > 0) or args.jobs < 1 or (
            args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0)
    ) or args.mutants < 0 or (args.only is not None and args.only < 0):
        parser.error("--timeout/--seconds must be finite and positive, --jobs >= 1, "
                     "--mutants and --only >= 0")
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        print("biopair.fuzz needs Hypothesis: pip install 'biopair[fuzz]'", file=sys.stderr)
        return 2

    def progress(r: Report) -> None:
        print(f"  ... {r.mutants} mutants, {r.counts.get('traceback', 0)} tracebacks, "
              f"{r.counts.get('hang', 0)} hangs", file=sys.stderr, flush=True)

    report = fuzz(args.seed, None if args.seconds else args.mutants, args.seconds,
                  jobs=args.jobs, timeout=args.timeout, only=args.only, keep=args.keep,
                  progress=progress)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
