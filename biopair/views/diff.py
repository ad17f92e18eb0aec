"""``biopair diff A B``: where two recorded runs of the same scenarios take different turns.

A and B are JSON documents printed by ``biopair run --json`` (typically the same scenarios
under two environments: two OpenSSL versions, two pyOpenSSL releases).  Scenarios are
matched by file; for each, the call sequences are compared call by call on what OpenSSL
said -- endpoint, op, return value, SSL_get_error() name and reasons -- and the first
divergence is shown first, with a few calls of context, in two columns (A left, B right).
Exit codes: 0 same, 1 different, 2 bad input (unreadable file, not a biopair JSON).

Stacks are compared the same way.  A ``biopair run --stacks ... --json`` document (a
*matrix*) is read as one run per (client, server) combination, keyed
``FILE [client/server]``: two matrices (say, before and after an upgrade) compare
combination by combination, and one matrix alone (``biopair diff M``) compares every
combination of a scenario with its first, so A is e.g. ``pyopenssl/pyopenssl`` and B
``wolfssl/pyopenssl``.  Combinations that were refused or skipped have no calls; they
are listed with their reason and never counted as equal.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biopair.outcome import Outcome, format_outcome

#: Calls of context shown before a divergence.
CONTEXT = 3


class DiffInputError(ValueError):
    """A file that is not a ``biopair run --json`` document; the message says why."""


def load_run(path: str | Path) -> dict[str, Any]:
    """Read a ``biopair run --json`` document.

    Raises:
        DiffInputError: naming the file and the problem.
    """
    doc = _read(path)
    if isinstance(doc, dict) and isinstance(doc.get("matrix"), list):
        return _flatten(path, doc)
    if not isinstance(doc, dict) or not isinstance(doc.get("scenarios"), list):
        raise DiffInputError(f"{path}: not a `biopair run --json` document (no \"scenarios\" "
                             f"list)")
    for i, sc in enumerate(doc["scenarios"]):
        if not isinstance(sc, dict) or not isinstance(sc.get("file"), str) or \
                not isinstance(sc.get("calls"), list):
            raise DiffInputError(f"{path}: scenarios[{i + 1}] has no \"file\" and \"calls\"")
    return doc


def _read(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise DiffInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise DiffInputError(f"{path}: not JSON: {exc}") from None


def _runs(path: str | Path, doc: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    # A matrix's (file, run) pairs, each checked: a bad one is a DiffInputError.
    out = []
    for i, sc in enumerate(doc["matrix"]):
        if not isinstance(sc, dict) or not isinstance(sc.get("file"), str) or \
                not isinstance(sc.get("runs"), list):
            raise DiffInputError(f"{path}: matrix[{i + 1}] has no \"file\" and \"runs\"")
        for j, run in enumerate(sc["runs"]):
            if not isinstance(run, dict) or not all(
                    isinstance(run.get(k), str) for k in ("client", "server", "status")) \
                    or not isinstance(run.get("calls"), list):
                raise DiffInputError(f"{path}: matrix[{i + 1}].runs[{j + 1}] has no "
                                     f"\"client\", \"server\", \"status\" and \"calls\"")
            out.append((sc["file"], run))
    return out


def _scenario(key: str, run: Mapping[str, Any]) -> dict[str, Any]:
    ran = run["status"] in ("pass", "fail")
    return {"file": key, "calls": run["calls"], "passed": run["status"] == "pass",
            "status": run["status"], "reason": "" if ran else str(run.get("reason", ""))}


def _flatten(path: str | Path, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A matrix as a run document: one scenario per combination, ``FILE [c/s]``."""
    return {"versions": doc.get("versions") or {},
            "scenarios": [_scenario(f"{file} [{run['client']}/{run['server']}]", run)
                          for file, run in _runs(path, doc)]}


def against_first(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """One matrix as two run documents: A holds each scenario's first combination that
    ran, B every other combination, both keyed ``FILE [A-combination vs B-combination]``.

    Raises:
        DiffInputError: when ``path`` is not a ``--stacks --json`` matrix.
    """
    doc = _read(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("matrix"), list):
        raise DiffInputError(f"{path}: one file to compare must be a `biopair run "
                             f"--stacks ... --json` matrix (no \"matrix\" list); give two "
                             f"`biopair run --json` files otherwise")
    first: dict[str, tuple[str, dict[str, Any]]] = {}
    a, b = [], []
    for file, run in _runs(path, doc):
        label = f"{run['client']}/{run['server']}"
        if file not in first and run["status"] in ("pass", "fail"):
            first[file] = (label, run)
            continue
        base = first.get(file)
        if base is None:
            key = f"{file} [{label}]"
            b.append(_scenario(key, run))
            continue
        key = f"{file} [{base[0]} vs {label}]"
        a.append(_scenario(key, base[1]))
        b.append(_scenario(key, run))
    versions = doc.get("versions") or {}
    return {"versions": versions, "scenarios": a}, {"versions": versions, "scenarios": b}


def call_text(call: Mapping[str, Any]) -> str:
    """One call as the diff compares it: ``client connect -1 WANT_READ``.

    The outcome is written as everywhere else (:data:`~biopair.outcome.Style.TEXT`): a
    return value the stack hid is ``?``, an SSL_get_error() not asked says so.
    """
    outcome = Outcome(call.get("ret"), call.get("error"), tuple(call.get("reasons") or ()))
    return f"{call.get('endpoint')} {call.get('op')} {format_outcome(outcome)}"


@dataclass
class ScenarioDiff:
    """How one scenario's calls differ between A and B.

    Attributes:
        file: the scenario file.
        index: the first call that differs (None: the sequences are equal).
        a, b: the two call lists (as :func:`call_text` strings).
    """

    file: str
    index: int | None
    a: list[str] = field(default_factory=list)
    b: list[str] = field(default_factory=list)
    note: str = ""


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ScenarioDiff]:
    """Compare two runs scenario by scenario (matched by file, in A's order, then B's).

    Returns:
        One :class:`ScenarioDiff` per scenario in either run.
    """
    by_a = {sc["file"]: sc for sc in a["scenarios"]}
    by_b = {sc["file"]: sc for sc in b["scenarios"]}
    files = list(by_a) + [f for f in by_b if f not in by_a]
    out = []
    for file in files:
        sa, sb = by_a.get(file), by_b.get(file)
        if sa is None or sb is None:
            only = sa if sa is not None else sb
            assert only is not None  # the file came from one of the two
            why = f": {only['status']}: {only['reason']}" if only.get("reason") else ""
            out.append(ScenarioDiff(file, 0, note=f"only in {'B' if sa is None else 'A'}{why}"))
            continue
        unrun = [f"{side} {sc['status']}: {sc['reason']}" for side, sc in (("A", sa), ("B", sb))
                 if sc.get("reason")]
        if unrun:  # a refused or skipped combination: nothing to compare
            out.append(ScenarioDiff(file, 0, note="; ".join(unrun)))
            continue
        ca = [call_text(c) for c in sa["calls"]]
        cb = [call_text(c) for c in sb["calls"]]
        index = next((i for i, (x, y) in enumerate(zip(ca, cb, strict=False)) if x != y),
                     None)
        if index is None and len(ca) != len(cb):
            index = min(len(ca), len(cb))
        note = ""
        if sa.get("passed") != sb.get("passed"):
            note = (f"passed in {'A' if sa.get('passed') else 'B'}, failed in "
                    f"{'B' if sa.get('passed') else 'A'}")
        out.append(ScenarioDiff(file, index, ca, cb, note))
    return out


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' * (count != 1)}"


def _wrap(text: str, width: int, indent: str) -> list[str]:
    # Break at spaces only: a reason string is shown whole, never cut.
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False) or [indent]


def _versions(doc: Mapping[str, Any]) -> str:
    vs = doc.get("versions") or {}
    # OpenSSL_version() names itself: "OpenSSL 4.0.3", not "OpenSSL OpenSSL 4.0.3".
    return ", ".join(str(v) if str(v).startswith(f"{k} ") else f"{k} {v}"
                     for k, v in vs.items() if k != "biopair") or "versions unknown"


def render(a: Mapping[str, Any], b: Mapping[str, Any], diffs: Sequence[ScenarioDiff],
           names: tuple[str, str] = ("A", "B"), context: int = CONTEXT,
           width: int = 79) -> str:
    """The text report: a header, then each differing scenario as a two-column ladder.

    Lines are at most ``width`` wide: a row whose calls do not fit two columns is shown as
    an A line and a B line, wrapped at spaces; nothing (a reason string least of all) is
    cut.
    """
    lines = [*_wrap(f"A: {names[0]}  ({_versions(a)})", width, ""),
             *_wrap(f"B: {names[1]}  ({_versions(b)})", width, "")]
    differing = [d for d in diffs if d.index is not None]
    same = len(diffs) - len(differing)
    lines.append(f"{_plural(same, 'scenario')} take{'s' * (same == 1)} the same turns, "
                 f"{len(differing)} diverge{'s' * (len(differing) == 1)}")
    column = max(20, (width - 13) // 2)
    for d in differing:
        lines.append("")
        lines += _wrap(f"== {d.file}" + (f"  ({d.note})" if d.note else ""), width, "")
        if not d.a and not d.b:
            continue
        assert d.index is not None
        lines.append(f"   first divergence at call #{d.index} "
                     f"(A made {_plural(len(d.a), 'call')}, B {len(d.b):,})")
        lines.append(f"   {'':6} {'A':<{column}} | B")
        start = max(0, d.index - context)
        end = min(max(len(d.a), len(d.b)), d.index + context + 1)
        if start:
            lines.append(f"   {'':6} ... {start:,} equal call{'s' * (start != 1)}")
        for i in range(start, end):
            x = d.a[i] if i < len(d.a) else "(no call)"
            y = d.b[i] if i < len(d.b) else "(no call)"
            mark = "  " if x == y else "!="
            shown_b = "(same)" if x == y else y
            if len(x) <= column and len(shown_b) <= column:
                lines.append(f"   #{i:<4}{mark} {x:<{column}} | {shown_b}")
            elif x == y:
                lines += _wrap(f"#{i:<4}{mark} {x}  (same in B)", width, "   ")
            else:
                lines += _wrap(f"#{i:<4}{mark} A: {x}", width, "   ")
                lines += _wrap(f"B: {y}", width, " " * 10)
        rest = max(len(d.a), len(d.b)) - end
        if rest > 0:
            lines.append(f"   {'':6} ... {_plural(rest, 'more call')}")
    return "\n".join(lines)


def main(path_a: str, path_b: str | None, context: int = CONTEXT, width: int = 79
         ) -> tuple[int, str]:
    """Run the diff (``path_b`` None: ``path_a`` is a matrix, see :func:`against_first`).

    Returns:
        (exit code, report): 0 same, 1 different.

    Raises:
        DiffInputError: for bad input (the CLI turns it into exit 2).
    """
    if path_b is None:
        a, b = against_first(path_a)
        names = (f"{path_a}, each scenario's first combination",
                 f"{path_a}, every other combination")
    else:
        a, b = load_run(path_a), load_run(path_b)
        names = (path_a, path_b)
    diffs = compare(a, b)
    report = render(a, b, diffs, names, context, width)
    return (1 if any(d.index is not None for d in diffs) else 0), report
