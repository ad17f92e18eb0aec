"""``biopair run --stacks a,b,c FILE``: one scenario on every pair of stacks, side by side.

Every (client stack, server stack) combination of the named stacks is loaded from the same
file with those stacks put in its ``[client]`` and ``[server]`` tables, so each is
validated exactly as a file naming them would be: a combination the stacks'
:class:`~biopair.endpoints.protocol.Capabilities` refuse is *refused*, with the loader's
one-line reason, and never run.  The others run as ``biopair run`` runs them (a missing
library skips, naming the package; ``require_peers`` makes it an error) and each endpoint's
calls become one outcome sequence, written by the one formatter and compressed with
:func:`~biopair.outcome.summarize` (``WANT_READ{376} 1``).

**Disagreement.**  Two runs take the same turns when each endpoint's sequence has the same
*shape*: the same outcomes in the same order once repeats are collapsed, compared on the
return value and the SSL_get_error() name (reason strings are each library's own wording,
and how many WANT_READs a stack needs follows its record sizes).  The shape most runs share
(the first run's on a tie) is the reference; an endpoint whose shape differs is marked
``!``.  Nothing is inferred: every sequence is what the stack returned.

The table fits 80 columns: one row per combination, each endpoint's sequence on its own
line, wrapped at spaces.  :meth:`Matrix.to_json` is the ``--json`` document, which
``biopair diff`` reads (:mod:`biopair.views.diff`).
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biopair.engine.trace import Call, RunEnd, Trace
from biopair.outcome import DEADLOCK, LIMIT, Outcome, summarize
from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ScenarioError
from biopair.scenario.runner import run_scenario

#: The table's width.
WIDTH = 80
_ROLES = ("client", "server")
_STACK_COL = 11
_STATUS_COL = 8


@dataclass(frozen=True)
class Run:
    """One combination of stacks and what became of it.

    Attributes:
        client, server: the stacks on each side.
        status: ``pass``, ``fail`` (an expectation did not hold), ``skip`` (a library or
            condition missing) or ``refused`` (the stacks cannot run the file as written).
        reason: why it was skipped or refused (empty otherwise).
        outcomes: each endpoint's outcome sequence (empty unless it ran).
        calls: the run's calls as ``biopair run --json`` writes them.
    """

    client: str
    server: str
    status: str
    reason: str = ""
    outcomes: dict[str, tuple[Outcome, ...]] = field(default_factory=dict)
    calls: tuple[dict[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """``client/server``: ``wolfssl/pyopenssl``."""
        return f"{self.client}/{self.server}"

    @property
    def ran(self) -> bool:
        """True when the scenario ran (passed or failed)."""
        return self.status in ("pass", "fail")

    def summary(self, role: str) -> str:
        """One endpoint's sequence, compressed (``WANT_READ{7} 1``)."""
        return summarize(self.outcomes.get(role, ()))


def shape(outcomes: Iterable[Outcome]) -> tuple[tuple[int | str | None, str | None], ...]:
    """The turns a sequence takes: (return value, error name) with repeats collapsed.

    A return value the stack hid compares equal to -1 for a WANT and to 1 for a success
    without an error (what the pattern shorthand treats as the same), so a hidden value
    is never a disagreement by itself.
    """
    out: list[tuple[int | str | None, str | None]] = []
    for o in outcomes:
        ret: int | str | None = o.ret
        if ret is None:
            ret = -1 if o.error not in (None, "NONE") else "ok"
        elif o.error in (None, "NONE") and ret == 1:
            ret = "ok"
        key = (ret, o.error)
        if not out or out[-1] != key:
            out.append(key)
    return tuple(out)


@dataclass(frozen=True)
class Matrix:
    """One scenario on every pair of the named stacks.

    Attributes:
        file: the scenario file.
        title: its title (as the file says it).
        stacks: the stacks asked for, in order.
        runs: one :class:`Run` per (client, server) combination, client-major.
    """

    file: str
    title: str
    stacks: tuple[str, ...]
    runs: tuple[Run, ...]

    def reference(self, role: str) -> tuple[Any, ...] | None:
        """The shape most runs share for ``role`` (the first run's on a tie; None: no
        run ran)."""
        shapes = [shape(r.outcomes[role]) for r in self.runs if r.ran]
        if not shapes:
            return None
        counts = Counter(shapes)
        best = max(counts.values())
        return next(s for s in shapes if counts[s] == best)

    def agrees(self, run: Run, role: str) -> bool:
        """True unless ``run``'s ``role`` takes other turns than the reference."""
        return not run.ran or shape(run.outcomes[role]) == self.reference(role)

    @property
    def disagreements(self) -> int:
        """Runs with at least one endpoint marked ``!``."""
        return sum(any(not self.agrees(r, role) for role in _ROLES) for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        """The scenario's entry in the ``--stacks --json`` document."""
        return {
            "file": self.file,
            "title": self.title,
            "runs": [{
                "client": r.client, "server": r.server, "status": r.status,
                "reason": r.reason,
                "outcomes": {role: r.summary(role) for role in _ROLES} if r.ran else {},
                "agrees": {role: self.agrees(r, role) for role in _ROLES} if r.ran else {},
                "calls": list(r.calls),
            } for r in self.runs],
        }


def parse_stacks(text: str, known: Sequence[str]) -> tuple[str, ...]:
    """``--stacks pyopenssl,libssl``: the names in order, each once.

    Raises:
        ValueError: naming an unknown or repeated stack, or an empty list.
    """
    names = [n.strip() for n in text.split(",")]
    if not text.strip() or any(not n for n in names):
        raise ValueError(f"--stacks: expected stack names separated by commas, got "
                         f"{text!r}")
    for n in names:
        if n not in known:
            raise ValueError(f"--stacks: unknown stack {n[:40]!r} (known: "
                             f"{', '.join(known)})")
    if len(set(names)) != len(names):
        raise ValueError(f"--stacks: a stack is named twice in {text!r}")
    return tuple(names)


def _outcomes(trace: Trace) -> dict[str, tuple[Outcome, ...]]:
    # Each endpoint's calls in order; a run step's DEADLOCK or LIMIT is appended to the
    # endpoints it left waiting (their last call in that step asked to be called again),
    # as the run's own outcome sequences carry it.
    seqs: dict[str, list[Outcome]] = {role: [] for role in _ROLES}
    last: dict[str, Call] = {}
    for event in trace.events:
        if isinstance(event, Call):
            seqs.setdefault(event.endpoint, []).append(event.outcome)
            last[event.endpoint] = event
        elif isinstance(event, RunEnd) and event.terminal is not None:
            end = DEADLOCK if event.terminal == DEADLOCK.error else LIMIT
            for role, call in last.items():
                if call.step == event.step and call.wants:
                    seqs[role].append(end)
    return {role: tuple(seq) for role, seq in seqs.items()}


def run_matrix(path: str | Path, stacks: Sequence[str], *,
               require_peers: bool = False) -> Matrix:
    """Run the scenario at ``path`` on every (client, server) pair of ``stacks``.

    Raises:
        ScenarioError: when the file itself is bad (it is loaded once as written first,
            so a malformed file is one error, not one refusal per combination).
    """
    as_written = load_scenario(path)
    runs: list[Run] = []
    for client in stacks:
        for server in stacks:
            try:
                scenario = load_scenario(path, {"client": client, "server": server})
            except ScenarioError as exc:
                runs.append(Run(client, server, "refused",
                                f"{exc.key}: {exc.message}" if exc.key else exc.message))
                continue
            try:
                verdict = run_scenario(scenario, require_peers=require_peers)
            except ScenarioError as exc:  # a setting the stack refused when building
                runs.append(Run(client, server, "refused",
                                f"{exc.key}: {exc.message}" if exc.key else exc.message))
                continue
            if verdict.skipped is not None:
                runs.append(Run(client, server, "skip", verdict.skipped))
                continue
            runs.append(Run(client, server, "pass" if verdict.passed else "fail",
                            outcomes=_outcomes(verdict.trace),
                            calls=tuple(c.to_json() for c in verdict.trace.calls)))
    return Matrix(str(path), as_written.title, tuple(stacks), tuple(runs))


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def render(matrix: Matrix, width: int = WIDTH) -> str:
    """The table: a header, then per combination its status and each side's sequence."""
    lines = _wrap(f"== {matrix.file}: {matrix.title}", width)
    ran = sum(r.ran for r in matrix.runs)
    lines.extend("   " + line for line in _wrap(
        f"{len(matrix.runs)} combinations of {', '.join(matrix.stacks)}: {ran} ran, "
        f"{matrix.disagreements} take other turns (!)", width - 3))
    indent = 3 + 2 * _STACK_COL + _STATUS_COL
    seq_width = max(20, width - indent - 9)
    lines.append(f"   {'client':<{_STACK_COL}}{'server':<{_STACK_COL}}"
                 f"{'result':<{_STATUS_COL}}outcomes")
    for run in matrix.runs:
        head = (f"   {run.client:<{_STACK_COL - 1}} {run.server:<{_STACK_COL - 1}} "
                f"{run.status:<{_STATUS_COL - 1}} ")
        if not run.ran:
            body = _wrap(run.reason, max(20, width - indent))
            lines.append(head + body[0])
            lines.extend(" " * indent + more for more in body[1:])
            continue
        first = True
        for role in _ROLES:
            mark = "  " if matrix.agrees(run, role) else "! "
            seq = _wrap(run.summary(role), seq_width)
            lines.append((head if first else " " * indent) + f"{mark}{role:<7}{seq[0]}")
            lines.extend(" " * (indent + 9) + more for more in seq[1:])
            first = False
    return "\n".join(lines)


def to_json(matrices: Sequence[Matrix], versions: dict[str, str]) -> dict[str, Any]:
    """The ``biopair run --stacks ... --json`` document (read by ``biopair diff``)."""
    return {"versions": versions,
            "stacks": list(matrices[0].stacks) if matrices else [],
            "matrix": [m.to_json() for m in matrices]}
