"""Sweeps: one scenario, run once per byte (or record) of a link with a fault there.

A sweep first runs the scenario unfaulted to learn how many bytes and records the swept
link's sender writes, then runs it once per position with one fault armed before the
first step (:func:`biopair.scenario.runner.run_scenario` ``faults=``), with the scenario's
expectations switched off (most of them cannot hold under a fault).  Each run is reduced
to an outcome *class*: for each endpoint its first fatal call (``SSL "reason"``,
``SYSCALL``, ``ZERO_RETURN``), else ``ok`` (or ``ok until read WANT_READ`` when its last
call was left waiting), or ``handshake unfinished, last connect WANT_READ`` when the
endpoint's handshake never completed (that is no success), plus the terminal of any run
that ended in DEADLOCK or LIMIT.  Faults, pauses and holds the scenario's own steps make
stay on during a sweep: each run is the scenario as written plus the one swept fault.
Runs are grouped by class.

A sweep fails (exit 1) only on a **hang** (a run hitting the LIMIT call cap, or, with
worker processes, one that takes longer than the timeout), a **harness exception** (a
traceback from biopair itself), or a class the scenario's ``[sweep] forbid`` list names.
Everything else is a finding, not a failure.

Interruption (:mod:`biopair.search.interrupt`): Ctrl-C or SIGTERM stops a sweep between
two results; the workers are terminated and reaped (their peers killed, temporary folders
removed) and the report holds the runs that completed, marked ``interrupted``.
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.pool import Pool

from biopair.engine.trace import Call, RunEnd, StateEvent
from biopair.scenario.loader import Scenario, SweepSpec, load_scenario
from biopair.scenario.runner import Verdict, run_scenario
from biopair.search import interrupt
from biopair.search.explore import ContextCache, cache_for, fitted
from biopair.transport.faults import Fault

_FATAL = ("SSL", "SYSCALL", "ZERO_RETURN")


@dataclass(frozen=True)
class PointResult:
    """One run of a sweep.

    Attributes:
        position: the stream offset or record index the fault was at.
        klass: the outcome class (see the module docstring).
        calls: SSL calls the run made.
        hang: the run hit the call cap (LIMIT) or the timeout.
        error: a harness traceback, or None.
    """

    position: int
    klass: str
    calls: int
    hang: bool = False
    error: str | None = None


@dataclass
class SweepReport:
    """Every run of a sweep, and the verdict on it.

    Attributes:
        path: the scenario file.
        spec: what was swept.
        positions: the positions run.
        results: one per position, in position order.
        seconds: wall-clock time.
        jobs: worker processes used.
        interrupted: the signal that stopped the sweep early (``"SIGINT"``), or None.
    """

    path: str
    spec: SweepSpec
    positions: list[int]
    results: list[PointResult]
    seconds: float
    jobs: int
    interrupted: str | None = None

    def classes(self) -> dict[str, list[int]]:
        """Positions by outcome class, most frequent class first."""
        out: dict[str, list[int]] = {}
        for r in self.results:
            out.setdefault(r.klass, []).append(r.position)
        return dict(sorted(out.items(), key=lambda kv: (-len(kv[1]), kv[1][0])))

    @property
    def hangs(self) -> list[PointResult]:
        """Runs that hit the call cap or the timeout."""
        return [r for r in self.results if r.hang]

    @property
    def errors(self) -> list[PointResult]:
        """Runs that raised inside the harness."""
        return [r for r in self.results if r.error is not None]

    @property
    def forbidden(self) -> list[PointResult]:
        """Runs whose class contains a ``forbid`` string."""
        return [r for r in self.results
                if any(f in r.klass for f in self.spec.forbid) and r.error is None]

    @property
    def passed(self) -> bool:
        """No hang, no harness exception, no forbidden class, not interrupted."""
        return not (self.hangs or self.errors or self.forbidden or self.interrupted)

    def summary(self, width: int = 79) -> str:
        """The human-readable summary ``biopair sweep`` prints, wrapped to ``width``."""
        spec = self.spec
        unit = "records" if spec.unit == "records" else "offsets"
        first, last = (self.positions[0], self.positions[-1]) if self.positions else (0, -1)
        what = spec.fault + (f" xor {spec.xor.hex()}" if spec.fault == "corrupt" else "")
        runs = len(self.results)
        lines = _wrap(f"sweep {self.path}: {what} on {spec.link}, {unit} {first}..{last}"
                      + (f" step {spec.stride}" if spec.stride != 1 else "")
                      + f" ({runs} run{'s' * (runs != 1)}, {self.jobs} "
                        f"job{'s' * (self.jobs != 1)}, {self.seconds:.1f} s)", width, "", "  ")
        digits = len(str(runs))
        for klass, where in self.classes().items():
            count = f"{len(where):>{digits}} run{'s' * (len(where) != 1)}"
            pad = " " * (digits + 9)
            # Each endpoint's part stays whole where it fits: lines break at " | ".
            glued = " | ".join(part.replace(" ", "\x00") if len(part) < width - len(pad)
                               else part for part in klass.split(" | "))
            lines += [line.replace("\x00", " ") for line in
                      _wrap(f"  {count:<{digits + 5}}  {glued}", width, "", pad)]
            lines += _wrap(f"at {unit} {ranges(where, spec.stride)}", width, pad, pad)
        for r in self.errors[:3]:
            lines.append(f"harness exception at {r.position}:\n{r.error}")
        lines.append(f"hangs: {len(self.hangs)}, harness exceptions: {len(self.errors)}, "
                     f"forbidden: {len(self.forbidden)}"
                     + (f" (forbid: {', '.join(spec.forbid)})" if spec.forbid else ""))
        if self.interrupted:
            lines.append(f"INTERRUPTED by {self.interrupted} after {len(self.results)} of "
                         f"{len(self.positions)} runs")
        else:
            lines.append("PASS" if self.passed else "FAIL")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """The JSON form ``biopair sweep --json`` prints."""
        spec = dataclasses.asdict(self.spec)
        spec["xor"] = self.spec.xor.hex()
        return {"file": self.path, "spec": spec, "passed": self.passed,
                "seconds": round(self.seconds, 3), "classes": self.classes(),
                "hangs": [r.position for r in self.hangs],
                "errors": {str(r.position): r.error for r in self.errors},
                "forbidden": [r.position for r in self.forbidden],
                "interrupted": self.interrupted}


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    # At spaces only: a reason string is never cut.
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False) or [first]


def ranges(positions: Sequence[int], step: int = 1, limit: int = 8) -> str:
    """``[0, 1, 2, 5, 7, 8]`` as ``"0-2, 5, 7-8"``: runs of positions ``step`` apart
    (a sweep's stride) become ranges; at most ``limit`` ranges are shown."""
    parts: list[str] = []
    first = prev = None
    for p in positions:
        if prev is not None and p - prev == step:
            prev = p
            continue
        if first is not None:
            parts.append(str(first) if first == prev else f"{first}-{prev}")
        first = prev = p
    if first is not None:
        parts.append(str(first) if first == prev else f"{first}-{prev}")
    more = f", ... ({len(parts) - limit} more)" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def classify(verdict: Verdict) -> tuple[str, bool]:
    """Reduce a run to its outcome class.

    Returns:
        ``(class, hang)``: hang is True when a run ended with LIMIT.
    """
    parts = []
    for name in ("client", "server"):
        first: Call | None = next((c for c in verdict.trace.calls
                                   if c.endpoint == name and c.error in _FATAL), None)
        last = next((c for c in reversed(verdict.trace.calls) if c.endpoint == name), None)
        if first is None and last is not None and not _handshake_done(verdict, name):
            # Not "ok": a connect that never completed is no success (issue 16).
            parts.append(f"{name} handshake unfinished, last {last.op} "
                         f"{last.error or 'returned ' + str(last.ret)}")
        elif first is None and last is not None and last.error in ("WANT_READ",
                                                                    "WANT_WRITE"):
            parts.append(f"{name} ok until {last.op} {last.error}")
        elif first is None:
            parts.append(f"{name} ok")
        else:
            reason = f' "{first.reasons[0]}"' if first.reasons else ""
            parts.append(f"{name} {first.op} {first.error}{reason}")
    terminals = {e.terminal for e in verdict.trace.events
                 if isinstance(e, RunEnd) and e.terminal is not None}
    klass = " | ".join(parts) + "".join(f" | {t}" for t in sorted(terminals))
    return klass, "LIMIT" in terminals


_HANDSHAKE_OPS = ("connect", "accept", "handshake")


def _handshake_done(verdict: Verdict, name: str) -> bool:
    # Done when a handshake call returned success, OpenSSL reported handshake-done, or
    # application data moved (a read or write succeeded: only after the handshake).
    for event in verdict.trace.events:
        if isinstance(event, Call):
            if event.endpoint == name and event.error == "NONE" and (
                    event.op in _HANDSHAKE_OPS or event.op in ("read", "write", "peek")):
                return True
        elif (isinstance(event, StateEvent) and event.endpoint == name
              and event.where == "handshake-done"):
            return True
    return False


def fault_at(spec: SweepSpec, position: int) -> Fault:
    """The fault a sweep arms for one position.

    Records: corrupt flips the record's last byte (the AEAD tag of an encrypted record),
    drop/duplicate take the whole record, truncate/eof cut just before it.

    Returns:
        The :class:`~biopair.transport.faults.Fault`.
    """
    if spec.unit == "records":
        at = -1 if spec.fault == "corrupt" else None
        return Fault(spec.fault, spec.link, record=position, at=at, xor=spec.xor)
    return Fault(spec.fault, spec.link, offset=position, xor=spec.xor)


@functools.cache
def _load(path: str) -> Scenario:
    return load_scenario(path)


def run_point(path: str, spec: SweepSpec, position: int) -> PointResult:
    """Run the scenario at ``path`` with the sweep's fault at one position.

    Returns:
        The :class:`PointResult` (a harness exception is caught into ``error``).
    """
    try:
        scenario = _load(path)
        verdict = _lean(scenario, contexts_for(scenario), [fault_at(spec, position)])
        klass, hang = classify(verdict)
        return PointResult(position, klass, len(verdict.trace.calls), hang)
    except Exception:
        return PointResult(position, "harness exception", 0, False, traceback.format_exc())


def _lean(scenario: Scenario, contexts: ContextCache | None,
          faults: Sequence[Fault] = ()) -> Verdict:
    # What a sweep's run records: calls and run ends (what classify reads), no protocol
    # hooks, no final states or stream counts.
    fit = fitted(scenario)
    return run_scenario(scenario if fit is None else fit, judge=False, faults=faults,
                        protocol=False, summary=False, fitted=fit is not None,
                        contexts=None if contexts is None else contexts.for_scenario)


def contexts_for(scenario: Scenario) -> ContextCache:
    """This process's context cache for a scenario, proven on its unfaulted run
    (:func:`biopair.search.explore.cache_for`)."""
    return cache_for(scenario, lambda c: _lean(scenario, c))


def _worker(args: tuple[str, SweepSpec, int]) -> PointResult:
    return interrupt.worker_task(lambda: run_point(*args))


def positions(scenario: Scenario, spec: SweepSpec) -> list[int]:
    """The positions to sweep: ``start..stop`` by ``stride``, ``stop`` clamped to (and
    defaulting to) the length in bytes or records of the swept link's stream in an
    unfaulted run: a fault past the end of the stream changes nothing, so no position
    beyond it is run, and ``stop = 2**40`` costs no more than the stream.

    Returns:
        The positions, ascending.
    """
    base = run_scenario(scenario, record=False, judge=False)
    length = base.streams[spec.link]["bytes" if spec.unit == "bytes" else "records"]
    stop = length if spec.stop is None else min(spec.stop, length)
    return list(range(spec.start, stop, spec.stride))


def sweep(
    scenario: Scenario,
    spec: SweepSpec,
    *,
    jobs: int = 1,
    timeout: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> SweepReport:
    """Run a sweep.

    Under :func:`biopair.search.interrupt.guard` a signal stops the sweep early: the
    report then holds the runs that completed and names the signal (``interrupted``).

    Args:
        scenario: the scenario (loaded from a file: workers reload it by path).
        spec: what to sweep.
        jobs: worker processes (1: run in this process, no timeout enforced).
        timeout: seconds one run may take in a worker before it counts as a hang.
        progress: called with (done, total) as results arrive.

    Returns:
        The :class:`SweepReport`.
    """
    start = time.monotonic()
    points: list[int] = []
    results: list[PointResult] = []
    stopped: str | None = None
    try:
        points = positions(scenario, spec)
        if jobs <= 1:
            for i, p in enumerate(points):
                results.append(run_point(scenario.path, spec, p))
                if progress:
                    progress(i + 1, len(points))
        else:
            _parallel(scenario.path, spec, points, jobs, timeout, progress, results)
    except interrupt.Interrupted as exc:
        stopped = interrupt.signal_name(exc.signum)
    results.sort(key=lambda r: r.position)
    return SweepReport(scenario.path, spec, points, results, time.monotonic() - start, jobs,
                       stopped)


#: Seconds terminated workers get to clean up (kill their peers, remove their temporary
#: folders) before they are killed outright.
GRACE = 1.0


def _stop(pool: Pool) -> None:
    # pool.terminate() sends SIGTERM to every worker and then waits for each without a
    # limit; a worker stuck in C would keep the sweep here, so a timer kills stragglers.
    workers = getattr(pool, "_pool", [])

    def kill_late() -> None:
        for w in list(workers):
            if w.exitcode is None:
                w.kill()

    timer = threading.Timer(GRACE, kill_late)
    timer.daemon = True
    timer.start()
    try:
        pool.terminate()
        pool.join()
    finally:
        timer.cancel()


def _parallel(path: str, spec: SweepSpec, points: Iterable[int], jobs: int, timeout: float,
              progress: Callable[[int, int], None] | None,
              results: list[PointResult]) -> None:
    # Results are appended to ``results`` as they arrive, so an interrupted sweep keeps
    # the runs that completed.
    todo = list(points)
    ctx = interrupt.pool_context()
    pool: Pool | None = None
    try:
        # Workers are forked with SIGINT and SIGTERM blocked; worker_setup installs their
        # own handling before it unblocks them.
        with interrupt.blocked():
            pool = ctx.Pool(jobs, initializer=interrupt.worker_setup)
        it = pool.imap(_worker, [(path, spec, p) for p in todo], chunksize=1)
        for i, p in enumerate(todo):
            try:
                results.append(it.next(timeout=timeout))
            except multiprocessing.TimeoutError:
                # A run that does not come back is a hang; the rest cannot be trusted to
                # finish either, so the pool is stopped and the remaining runs reported.
                results.append(PointResult(p, f"HANG (no result within {timeout:g} s)", 0,
                                           True))
                results.extend(PointResult(q, "not run (sweep stopped after a hang)", 0,
                                           True) for q in todo[i + 1:])
                break
            if progress:
                progress(i + 1, len(todo))
    finally:
        if pool is not None:
            _stop(pool)
