"""Running a validated scenario: steps in order, then the ``[result]`` checks, a verdict.

Data flows one way: :class:`~biopair.scenario.Scenario` -> :class:`~biopair.scheduler.Pair`
-> :class:`~biopair.trace.Trace` -> :class:`Verdict`.  The first failing expectation stops
the run (later steps would act on a state the scenario did not expect); the verdict keeps
the whole trace up to that point.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from biopair.endpoint import ConfigError, build_context
from biopair.outcome import Outcome, Pattern, summarize
from biopair.peers import PeerError
from biopair.scenario import (
    CallStep,
    LinkStep,
    MoveStep,
    Scenario,
    ScenarioError,
    Step,
)
from biopair.scheduler import Pair
from biopair.trace import Trace


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold.

    Attributes:
        key: the scenario key path that failed (``steps[3].expect.client``).
        expected: what the scenario said.
        actual: what OpenSSL did, in the same notation.
        step: 0-based index of the step, or None for ``[result]`` checks.
    """

    key: str
    expected: str
    actual: str
    step: int | None = None


@dataclass
class Verdict:
    """The outcome of running one scenario.

    Attributes:
        scenario: what ran.
        failures: expectations that did not hold (empty when passed).
        trace: every event of the run.
        states: each endpoint's final state (version, cipher, ...).
    """

    scenario: Scenario
    failures: list[Failure]
    trace: Trace
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: why the scenario did not run (its ``requires`` are not met), or None.
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        """True when every expectation held (or the scenario was skipped)."""
        return not self.failures

    def report(self) -> str:
        """A failure report: each mismatch, expected vs actual, then the call trace."""
        sc = self.scenario
        lines = [f"{sc.path}: {sc.title}"]
        for f in self.failures:
            where = describe_step(sc.steps[f.step]) if f.step is not None else "after the steps"
            lines.append(f"  {f.key} ({where})")
            lines.append(f"    expected: {f.expected}")
            lines.append(f"    actual:   {f.actual}")
        lines.append(f"  link: {self.trace.link}; deliver: {_deliver_text(sc.deliver)}")
        lines.append(f"Call trace ({len(self.trace.calls)} calls):")
        lines.append(self.trace.format_calls(limit=200))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``biopair run --json`` prints for each scenario."""
        sc = self.scenario
        return {
            "file": sc.path,
            "title": sc.title,
            "passed": self.passed,
            "link": self.trace.link,
            "failures": [dataclasses.asdict(f) for f in self.failures],
            "calls": [c.to_json() for c in self.trace.calls],
            "events": self.trace.to_json(),
            "states": self.states,
            "skipped": self.skipped,
        }


def _deliver_text(deliver: Any) -> str:
    return deliver if isinstance(deliver, str) else repr(list(deliver) if
                                                       isinstance(deliver, tuple) else deliver)


def describe_step(step: Step) -> str:
    """A step written back as it appears in the file (``run client connect, ...``)."""
    if isinstance(step, CallStep):
        return f"call {step.endpoint} {step.op}"
    if isinstance(step, MoveStep):
        return f"move {step.direction}" + (f" {step.nbytes} bytes" if step.nbytes else "")
    if isinstance(step, LinkStep):
        return f"{step.action} {step.direction}"
    return "run " + ", ".join(f"{e.endpoint} {e.op}" for e in step.entries)


def _check(
    failures: list[Failure], key: str, pattern: Pattern, outcomes: list[Outcome], step: int
) -> None:
    if not pattern.matches(outcomes):
        failures.append(Failure(key, pattern.text, summarize(outcomes), step))


def _make_pair(scenario: Scenario, record: bool) -> Pair:
    client, server = scenario.client, scenario.server
    contexts = None
    try:
        if scenario.resume:
            contexts = {"client": build_context(client), "server": build_context(server)}
            with Pair(client, server, contexts=contexts, record=False) as priming:
                first = priming.handshake()
                if first.terminal is None:
                    # TLS 1.3 tickets arrive after the handshake: one read takes them in.
                    priming.move("server>client")
                    priming.call("client", "read")
                session = priming.client.session()
            client = dataclasses.replace(client, session=session)
        return Pair(
            client,
            server,
            deliver=scenario.deliver,
            turns=scenario.turns,
            max_calls=scenario.max_calls,
            record=record,
            contexts=contexts,
        )
    except ConfigError as exc:
        raise ScenarioError(scenario.path, exc.key, exc.message) from None
    except PeerError as exc:
        raise ScenarioError(scenario.path, "", f"external peer: {exc}") from None


def run_scenario(scenario: Scenario, *, record: bool = True) -> Verdict:
    """Run a scenario and judge it.

    Raises:
        ScenarioError: when a setting is impossible (OpenSSL refused it).
    """
    failures: list[Failure] = []
    unmet = [cond.unmet() for cond in scenario.requires if not cond.holds()]
    if unmet:
        return Verdict(scenario, failures, Trace(), skipped="requires " + "; ".join(unmet))
    with _make_pair(scenario, record) as pair:
        for step in scenario.steps:
            pair.step = step.index
            _run_step(pair, step, failures)
            if failures:
                break
        pair.step = None
        # An external peer's state is not visible (state() is None): not checked.
        states = {name: state for name, ep in pair.endpoints.items()
                  if (state := ep.state()) is not None}
        if not failures:
            _check_result(scenario, states, len(pair.trace.calls), failures)
        return Verdict(scenario, failures, pair.trace, states)


def _run_step(pair: Pair, step: Step, failures: list[Failure]) -> None:
    where = f"steps[{step.index + 1}]"
    if isinstance(step, CallStep):
        call = pair.call(step.endpoint, step.op, size=step.size, data=step.data,
                         buffer=step.buffer)
        if step.expect is not None:
            _check(failures, f"{where}.expect", step.expect, [call.outcome], step.index)
        if step.expect_data is not None and call.data != step.expect_data:
            failures.append(Failure(f"{where}.data", repr(step.expect_data.decode("latin-1")),
                                    repr(call.data.decode("latin-1")), step.index))
    elif isinstance(step, MoveStep):
        pair.move(step.direction, step.nbytes)
    elif isinstance(step, LinkStep):
        getattr(pair, step.action)(step.direction)
    else:
        result = pair.run(step.entries, deliver=step.deliver, max_calls=step.max_calls)
        for entry in step.entries:
            outcomes = result.outcomes[entry.endpoint]
            pattern = step.expect.get(entry.endpoint)
            if pattern is not None:
                _check(failures, f"{where}.expect.{entry.endpoint}", pattern, outcomes,
                       step.index)
            elif outcomes and outcomes[-1].terminal:
                failures.append(Failure(
                    f"{where}.expect.{entry.endpoint}",
                    "(no expectation: the run must not end in DEADLOCK or LIMIT)",
                    summarize(outcomes), step.index))


def _check_result(
    scenario: Scenario, states: dict[str, dict[str, Any]], ncalls: int,
    failures: list[Failure],
) -> None:
    spec = scenario.result
    for role, state in states.items():
        wanted = {**spec.both, **spec.per_endpoint.get(role, {})}
        for key, value in wanted.items():
            actual = state.get(key)
            path = f"result.{role}.{key}" if key in spec.per_endpoint.get(role, {}) else \
                f"result.{key} ({role})"
            if actual != value:
                failures.append(Failure(path, _show(value), _show(actual)))
    if spec.calls is not None and ncalls != spec.calls:
        failures.append(Failure("result.calls", str(spec.calls), str(ncalls)))


def _show(value: Any) -> str:
    return "none" if value is None else repr(value)
