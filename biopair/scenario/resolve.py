"""Fitting a loaded scenario to one stack: its ``requires`` and its version tables.

A loaded :class:`~biopair.scenario.model.Scenario` fits every environment: its tables of
version conditions are :class:`~biopair.scenario.model.Versioned` values.  The runner
calls :func:`unmet_requires` and :func:`for_stack` once, with the versions of the stack it
runs on, and runs what :func:`for_stack` returns: the same scenario with every table
replaced by the branch that holds.  Tests pass made-up versions to see how a scenario
reads under another OpenSSL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from biopair.outcome import Pattern
from biopair.scenario.conditions import ConditionError, Versions
from biopair.scenario.model import (
    CallStep,
    CheckStep,
    ResultSpec,
    RunStep,
    Scenario,
    ScenarioError,
    Step,
    Versioned,
)

T = TypeVar("T")


def unmet_requires(scenario: Scenario, versions: Versions) -> str | None:
    """Why a stack with ``versions`` does not meet the scenario's ``requires``.

    Returns:
        ``"requires openssl >= 3.5 (have 3.1.4)"`` naming every unmet condition, or None
        when all hold.
    """
    unmet = [cond.unmet(versions) for cond in scenario.requires if not cond.holds(versions)]
    return "requires " + "; ".join(unmet) if unmet else None


def for_stack(scenario: Scenario, versions: Versions) -> Scenario:
    """The scenario with every version table replaced by its branch for ``versions``.

    A chosen pattern's text says which branch it came from (``1  (when openssl >= 3.5)``)
    and ``result.when`` names the condition of each chosen ``[result]`` value, so that
    failure reports show why this expectation applied.

    Returns:
        A scenario without :class:`~biopair.scenario.model.Versioned` values.

    Raises:
        ScenarioError: naming the key of a table in which no branch holds (a bad
            scenario for this stack, never a silent pass).
    """
    fit = _Fit(scenario.path, versions)
    steps = tuple(fit.step(step) for step in scenario.steps)
    return dataclasses.replace(scenario, steps=steps, result=fit.result(scenario.result))


class _Fit:
    # The file and the versions, so each choice can name its key in a ScenarioError.
    def __init__(self, path: str, versions: Versions) -> None:
        self.path = path
        self.versions = versions
        self.when: dict[str, str] = {}

    def choose(self, value: Versioned[T], key: str, name: str | None = None) -> tuple[str, T]:
        # (the condition that held, its value); ``name`` records it for result.when.
        try:
            cond, chosen = value.choose(self.versions)
        except ConditionError as exc:
            raise ScenarioError(self.path, key, str(exc)) from None
        if name is not None:
            self.when[name] = cond.text
        return cond.text, chosen

    def pattern(self, value: Pattern | Versioned[Pattern], key: str) -> Pattern:
        if not isinstance(value, Versioned):
            return value
        when, chosen = self.choose(value, key)
        return dataclasses.replace(chosen, text=f"{chosen.text}  (when {when})")

    def step(self, step: Step) -> Step:
        where = f"steps[{step.index + 1}]"
        if isinstance(step, CallStep) and step.expect is not None:
            return dataclasses.replace(step, expect=self.pattern(step.expect, f"{where}.expect"))
        if isinstance(step, CheckStep):
            return dataclasses.replace(step, values=self.values(step.values, where, f"{where}."))
        if isinstance(step, RunStep) and step.expect:
            expect = {name: self.pattern(p, f"{where}.expect.{name}")
                      for name, p in step.expect.items()}
            return dataclasses.replace(step, expect=expect)
        return step

    def values(self, table: Mapping[str, Any], path: str, prefix: str) -> dict[str, Any]:
        return {key: self.choose(v, f"{path}.{key}", prefix + key)[1]
                if isinstance(v, Versioned) else v for key, v in table.items()}

    def result(self, spec: ResultSpec) -> ResultSpec:
        both = self.values(spec.both, "result", "")
        per = {role: self.values(table, f"result.{role}", f"{role}.")
               for role, table in spec.per_endpoint.items()}
        calls = spec.calls
        if isinstance(spec.calls, Versioned):
            calls = self.choose(spec.calls, "result.calls", "calls")[1]
        return ResultSpec(both, per, calls, dict(self.when), spec.keys_match, spec.oracle)
