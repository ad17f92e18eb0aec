"""Golden traces: a normalised trace stored next to each scenario, compared on later runs.

File format (``name.trace`` next to ``name.toml``)::

    # biopair golden trace 1: name.toml
    # biopair: 0.1.0                       <- version lines: shown, never compared
    # pyOpenSSL: 26.4.0
    # ...
    {"direction":"client>server","event":"record",...}   <- one event a line, sorted keys
    {"repeat":771,"period":4}                              <- the 4 lines above, 771 more times

Every event of the trace is one JSON line with sorted keys.  Nothing random is in a trace
(no key shares, nonces, ciphertext, secrets or timestamps: records are type and length,
messages are name and length), so with the deterministic test PKI two runs write the same
file.  ECDSA is the exception: its DER signatures vary in length from run to run, which
changes record lengths, so :func:`unstable_reason` refuses to create goldens for scenarios
with ECDSA certificates.

Byte-by-byte runs make thousands of turns that differ only in counters; a run of lines
that repeat with a period of 1 to 4 lines (ignoring ``seq``, ``call``, ``offset`` and
``queued``, which only count) is written once followed by a ``repeat`` line.  A change in
how many times OpenSSL said WANT_READ then shows up as a one-number diff.

Comparison ignores the ``# name: version`` lines: a newer pyOpenSSL or OpenSSL that does
the same thing must not fail every golden; when the traces *do* differ, the report names
both version sets, which is usually the explanation.

Golden files are data (:mod:`biopair.views.files`): ``name.trace`` and
``name.trace.obtained`` are read only when they are regular files that are not symbolic
links (at most :data:`READ_LIMIT` bytes) and are written atomically, never through a link.
:func:`refusal` says, before the scenario runs, why either one cannot be used; the front
ends report it in one line.

``biopair run --fill FILE`` (at the end) is the same idea for a scenario's own
expectations: write down what the stack did, into the scenario itself.

Writing a scenario starts from what OpenSSL did: write the steps, run ``--fill``, read the
diff.  The run's actual outcomes go into the file as compressed patterns (``WANT_READ{1775}
1``, the form failure reports print), every call step's ``expect`` and every run entry's
``expect.<endpoint>``, and the actual value of every ``[result]`` key the file has (a file
without a ``[result]`` table gets ``calls``).  Nothing else changes: comments, key order,
layout and version tables stay (the file is edited with tomlkit, which keeps them); in a
table of version conditions only the branch that holds for the running stack is
rewritten.

The file is written atomically and never through a symbolic link
(:func:`biopair.views.files.write_atomic`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit

from biopair.endpoints import versions
from biopair.engine.trace import Trace
from biopair.scenario.conditions import Versions
from biopair.scenario.loader import CallStep, RunStep, Scenario, Versioned
from biopair.views import files
from biopair.views.files import FileRefused
from biopair.views.ladder import collapse

if TYPE_CHECKING:
    from biopair.scenario.runner import Verdict

FORMAT = "biopair golden trace 1"
SUFFIX = ".trace"
OBTAINED = ".trace.obtained"
_COUNTERS = ("seq", "call", "offset", "queued")
_DIFF_LINES = 300
#: The largest golden trace read (bytes); the biggest shipped one is about 90 KB.
READ_LIMIT = 16 * 1024 * 1024


def golden_path(scenario_path: str | Path) -> Path:
    """``name.trace`` next to ``name.toml``."""
    return Path(scenario_path).with_suffix(SUFFIX)


def obtained_path(scenario_path: str | Path) -> Path:
    """``name.trace.obtained`` next to ``name.toml``: the trace of a mismatching run."""
    return Path(scenario_path).with_suffix(OBTAINED)


def refusal(scenario_path: str | Path) -> str | None:
    """Why this scenario's golden files cannot be used, or None.

    ``name.trace`` and ``name.trace.obtained`` must each be missing or a regular file that
    is not a symbolic link: a link is never followed (reading it would show another file
    in the diff, writing it would overwrite another file), a directory or FIFO is never
    opened (a FIFO would block).  Front ends ask before running the scenario.

    Returns:
        One line naming the file and the problem, or None.
    """
    for path in (golden_path(scenario_path), obtained_path(scenario_path)):
        problem = files.refusal(path)
        if problem is not None:
            return problem
    return None


def _read(path: Path) -> str | None:
    data = files.read_regular(path, limit=READ_LIMIT)
    return None if data is None else data.decode("utf-8", errors="replace")


def _remove(path: Path) -> None:
    # The stale .obtained of an earlier run; never a link or a directory (refusal()).
    problem = files.refusal(path)
    if problem is not None:
        raise FileRefused(problem)
    path.unlink(missing_ok=True)


def _dump(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def render(trace: Trace, name: str) -> str:
    """The golden text of a trace.

    Returns:
        Header lines, then one JSON line per event (repeats folded), newline-terminated.
    """
    lines = [f"# {FORMAT}: {name}"]
    lines += [f"# {key}: {value}" for key, value in versions.versions().items()]
    events = trace.to_json()
    keys = [_dump({k: v for k, v in e.items() if k not in _COUNTERS}) for e in events]
    for start, period, reps in collapse(keys, min_reps=3, periods=(1, 2, 3, 4)):
        lines += [_dump(e) for e in events[start:start + period]]
        if reps > 1:
            lines.append(_dump({"repeat": reps - 1, "period": period}))
    return "\n".join(lines) + "\n"


def comparable(text: str) -> list[str]:
    """The lines that are compared: everything but the header's version lines."""
    names = tuple(f"# {key}: " for key in versions.versions())
    return [line for line in text.splitlines() if not line.startswith(names)]


def header_versions(text: str) -> dict[str, str]:
    """The ``# name: version`` lines of a golden file."""
    out = {}
    for key in versions.versions():
        for line in text.splitlines():
            if line.startswith(f"# {key}: "):
                out[key] = line[len(key) + 4:]
    return out


def unstable_reason(scenario: Any) -> str | None:
    """Why this scenario's trace is not the same on every run, or None.

    Returns:
        A sentence naming the cause (ECDSA certificates, a socket link), or None when it
        is stable.
    """
    for cfg in (scenario.client, scenario.server):
        if getattr(cfg, "stack", "pyopenssl") in ("openssl-cli", "gnutls-cli"):
            return (f"{cfg.role}.stack = {cfg.stack!r}: an external program answers in its "
                    f"own time, so how many calls wait for it varies from run to run")
    if getattr(scenario, "link", "memory") == "socket":
        return ("link = 'socket': how many bytes a write gets into a socket depends on the "
                "kernel's buffer accounting, so call counts differ between machines")
    for cfg in (scenario.client, scenario.server):
        cert = cfg.certificate
        if cert.startswith("ecdsa"):
            return (f"{cfg.role}.cert = {cert!r}: ECDSA signatures vary in length from run "
                    f"to run, so record lengths are not stable")
    return None


@dataclass(frozen=True)
class GoldenResult:
    """What a golden comparison found.

    Attributes:
        status: ``match``, ``created``, ``updated``, ``mismatch``, ``missing``,
            ``unstable`` or ``skipped`` (no golden file and none required, or nothing
            written on update).
        message: a report for the user ("" on match and on a plain skip).
        unstable: on a skipped update, :func:`unstable_reason` when that is why nothing
            was written (the plugin words its skip around it).
    """

    status: str
    message: str = ""
    unstable: str | None = None

    @property
    def failed(self) -> bool:
        """True for mismatch, missing and unstable."""
        return self.status in ("mismatch", "missing", "unstable")


def how_to_update(scenario_path: str | Path) -> str:
    """The commands that (re)create a golden trace."""
    return (f"create or update it with `pytest --biopair-update {scenario_path}` or "
            f"`biopair run --update {scenario_path}`")


def check(
    scenario_path: str | Path,
    obtained: str,
    *,
    update: bool = False,
    require: bool = False,
    rerun: str | None = None,
) -> GoldenResult:
    """Compare a run's golden text with the stored file, or write it.

    Args:
        scenario_path: the scenario file (the golden lives next to it).
        obtained: :func:`render` of this run.
        update: write the golden (created/updated) instead of comparing.
        require: a missing golden is a failure (otherwise the check is skipped).
        rerun: with ``update``, the golden text of a second run; a difference means the
            trace is not deterministic and nothing is written.

    Returns:
        The :class:`GoldenResult`.

    Raises:
        FileRefused: a golden file is a symbolic link, not a regular file, too large, or
            cannot be written (see :func:`refusal`); nothing was followed or shown.
    """
    path = golden_path(scenario_path)
    stale = obtained_path(scenario_path)
    problem = refusal(scenario_path)
    if problem is not None:
        raise FileRefused(problem)
    if update:
        if rerun is not None and comparable(rerun) != comparable(obtained):
            diff = _diff(obtained, rerun, "first run", "second run")
            return GoldenResult("unstable", f"{scenario_path}: two runs gave different "
                                            f"traces; golden not written:\n{diff}")
        current = _read(path)
        if current is not None and comparable(current) == comparable(obtained):
            _remove(stale)
            return GoldenResult("match")
        files.write_atomic(path, obtained)
        _remove(stale)
        status = "updated" if current is not None else "created"
        return GoldenResult(status, f"{path}: golden trace {status}")
    expected = _read(path)
    if expected is None:
        if not require:
            return GoldenResult("skipped")
        return GoldenResult("missing", f"{path}: no golden trace; {how_to_update(scenario_path)}")
    if comparable(expected) == comparable(obtained):
        _remove(stale)
        return GoldenResult("match")
    files.write_atomic(stale, obtained)
    lines = [f"{path}: trace differs from the golden trace (this run: {stale})"]
    was, now = header_versions(expected), versions.versions()
    changed = [f"{k} {was.get(k, '?')} -> {now[k]}" for k in now if was.get(k) != now[k]]
    if changed:
        lines.append("  versions changed since the golden was written: " + "; ".join(changed))
    lines.append(_diff(expected, obtained, str(path), str(stale)))
    lines.append(f"If the new trace is right, {how_to_update(scenario_path)}")
    return GoldenResult("mismatch", "\n".join(lines))


def check_run(
    verdict: Verdict,
    *,
    rerun: Callable[[], Verdict],
    update: bool = False,
    require: bool = False,
) -> GoldenResult:
    """The golden workflow of a scenario's run, shared by ``biopair run`` and the plugin.

    Renders the run's trace and compares it with the stored golden (:func:`check`).  With
    ``update`` it writes the golden instead, but only for a run that passed, of a scenario
    whose trace is stable (:func:`unstable_reason`), and only when a second run, made by
    ``rerun``, renders the same text.

    Args:
        verdict: the judged run.
        rerun: runs the same scenario again (the front end decides how: it owns the
            environment the run depends on); called only on ``update``.
        update: write the golden instead of comparing.
        require: a missing golden is a failure.

    Returns:
        The :class:`GoldenResult`; ``skipped`` with a message when an update wrote nothing.

    Raises:
        FileRefused: as :func:`check`.
    """
    sc = verdict.scenario
    name = Path(sc.path).name
    text = render(verdict.trace, name)
    if not update:
        return check(sc.path, text, require=require)
    if not verdict.passed:
        return GoldenResult("skipped", f"{sc.path}: failed; golden trace not written")
    reason = unstable_reason(sc)
    if reason is not None:
        return GoldenResult("skipped", f"{sc.path}: no golden trace ({reason})",
                            unstable=reason)
    return check(sc.path, text, update=True, rerun=render(rerun().trace, name))


def _diff(a: str, b: str, name_a: str, name_b: str) -> str:
    diff = list(difflib.unified_diff(comparable(a), comparable(b), name_a, name_b,
                                     lineterm="", n=2))
    if len(diff) > _DIFF_LINES:
        diff = [*diff[:_DIFF_LINES], f"... {len(diff) - _DIFF_LINES} more diff lines"]
    return "\n".join(diff)


# -- run --fill: the run's actual outcomes written into the scenario ---------------------

class FillError(Exception):
    """The file cannot be filled (one line naming the file and the problem)."""


def _set(table: MutableMapping[str, Any], key: str, value: Any,
         model: object, versions: Versions) -> None:
    # A table of version conditions: rewrite the branch that holds for this stack only.
    current = table.get(key)
    if isinstance(model, Versioned) and isinstance(current, Mapping):
        condition, _ = model.choose(versions)
        if condition.text in current:
            current[condition.text] = value  # type: ignore[index]
            return
    table[key] = value


def filled_text(text: str, loaded: Scenario, verdict: Verdict,
                stack: Versions | None = None) -> str:
    """``text`` (the scenario file) with the run's actual outcomes and results written in.

    Args:
        text: the file's TOML as read.
        loaded: the scenario as loaded (version tables unresolved).
        verdict: its run on the stack in use, with ``observed`` outcomes (``every=True``).
        stack: the stack's versions (default: the running stack's).

    Returns:
        The new TOML text.
    """
    vs = versions.stack_versions() if stack is None else stack
    doc = tomlkit.parse(text)
    raw_steps = doc.get("steps")
    for step in loaded.steps:
        raw = raw_steps[step.index]  # type: ignore[index]
        where = f"steps[{step.index + 1}]"
        if isinstance(step, CallStep):
            seen = verdict.observed.get(f"{where}.expect")
            if seen is not None:
                _set(raw, "expect", seen, step.expect, vs)
        elif isinstance(step, RunStep):
            seen_by = {e.endpoint: verdict.observed.get(f"{where}.expect.{e.endpoint}")
                       for e in step.entries}
            if all(v is None for v in seen_by.values()):
                continue
            if "expect" not in raw:
                # Written as the shipped scenarios write it: { client = "...", ... }.
                pairs = ", ".join(f"{name} = {tomlkit.string(seen).as_string()}"
                                  for name, seen in seen_by.items() if seen is not None)
                raw["expect"] = tomlkit.parse(f"expect = {{ {pairs} }}\n")["expect"]
                continue
            for endpoint, seen in seen_by.items():
                if seen is not None:
                    _set(raw["expect"], endpoint, seen, step.expect.get(endpoint), vs)
    _fill_result(doc, loaded, verdict, vs)
    return tomlkit.dumps(doc)


def _fill_result(doc: Any, loaded: Scenario, verdict: Verdict, vs: Versions) -> None:
    calls = len(verdict.trace.calls)
    if "result" not in doc:
        table = tomlkit.table()
        table["calls"] = calls
        doc["result"] = table
        return
    table = doc["result"]
    spec = loaded.result
    for key in list(table):
        if key == "calls":
            _set(table, "calls", calls, spec.calls, vs)
        elif key in spec.both:
            # A key for both ends: written when both agree (they must, for it to pass).
            values = {repr(_toml(state.get(key))) for state in verdict.states.values()}
            if len(values) == 1:
                _set(table, key, _value(verdict.states, key), spec.both[key], vs)
        elif key in spec.per_endpoint and key in verdict.states:
            sub = table[key]
            for name in list(sub):
                if name in verdict.states[key]:
                    _set(sub, name, _toml(verdict.states[key].get(name)),
                         spec.per_endpoint[key].get(name), vs)


def _value(states: Mapping[str, Mapping[str, Any]], key: str) -> Any:
    return _toml(next(iter(states.values())).get(key))


def _toml(value: Any) -> Any:
    # ``none`` is written false in scenario files; lists stay lists.
    if value is None:
        return False
    if isinstance(value, list | tuple):
        return list(value)
    return value


def unified_diff(path: str, old: str, new: str) -> str:
    """The change ``--fill`` made, as a unified diff (empty when nothing changed)."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True),
                                        f"{path} (before)", f"{path} (filled)"))
