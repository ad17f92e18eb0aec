"""Hypothesis strategies for biopair: explore a scenario's schedules inside your own tests.

:func:`schedules` draws a point of a scenario's ``[explore]`` space (the same space
``biopair explore`` searches: split points per flight on the free links, turn swaps,
pauses) as a :class:`DrawnSchedule`.  It can run the scenario under that point, judge it
the way ``biopair explore`` does, or drive a :class:`~biopair.engine.pair.Pair` you built
yourself (:meth:`DrawnSchedule.schedule`).  Hypothesis does the searching and the
shrinking: the strategy is built so that simpler draws are simpler schedules (fewer
atoms, earlier flights, smaller offsets), so a failure shrinks to the same minimal
schedule the CLI's shrinker finds, and Hypothesis's falsifying example prints it as the
schedule string with the command that replays it::

    from hypothesis import given
    from biopair.strategies import schedules

    @given(schedules("scenarios/explore/false-claim-one-want-read.toml"))
    def test_claim_holds(drawn):
        drawn.check()   # AssertionError naming the failed expectation

This module is the only one in biopair that imports Hypothesis (``pip install
'biopair[explore]'``); nothing else needs it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from biopair.engine.pair import Pair
from biopair.engine.schedule import Schedule
from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ExploreSpec, Scenario
from biopair.scenario.runner import Verdict
from biopair.search import explore as ex

__all__ = ["DrawnSchedule", "schedules"]


class DrawnSchedule:
    """One drawn point of a scenario's schedule space.

    Attributes:
        scenario: the scenario it belongs to; spec: its space's bounds.
        point: the atoms (:class:`~biopair.search.explore.Split`, ``Swap``, ``Pause``).
        text: the schedule string (``s0.1``; ``-`` for the scenario as written), what
            ``biopair explore FILE --replay TEXT`` replays.
    """

    def __init__(self, scenario: Scenario, spec: ExploreSpec, point: Sequence[ex.Atom]) -> None:
        self.scenario = scenario
        self.spec = spec
        self.point = ex.canonical(point)
        self.text = ex.format_schedule(self.point)

    def __repr__(self) -> str:
        # What Hypothesis prints for a falsifying example: the schedule and its replay.
        return (f"DrawnSchedule({self.text!r})  # replay: biopair explore "
                f"{self.scenario.path} --replay '{self.text}'")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis's pretty printer (a falsifying example) uses this, not the strategy.
        printer.text(repr(self))

    def replay_command(self) -> str:
        """The command that replays this schedule with its full trace."""
        return f"biopair explore {self.scenario.path} --replay '{self.text}'"

    def schedule(self, pair: Pair) -> Schedule:
        """A :class:`~biopair.engine.schedule.Schedule` realising this point on ``pair``
        (assign it to ``pair.schedule`` before ``pair.run``); the scenario's delivery
        policy and turn rule decide every other choice."""
        return ex.ExploreSchedule(pair, self.point, self.spec.links, self.scenario.deliver,
                                  self.scenario.turns)

    def run(self, full: bool = True) -> Verdict:
        """Run the scenario under this point (``full``: with its whole trace).

        Returns:
            The :class:`~biopair.scenario.runner.Verdict`: what the stack returned.
        """
        return ex.run_once(self.scenario, self.spec, self.point, full=full)[0]

    def refutation(self) -> str | None:
        """Why this schedule refutes the scenario (as ``biopair explore`` judges: a failed
        expectation, LIMIT, a ``forbid`` terminal), or None when it holds."""
        why = ex.refutation(self.run(full=False), self.spec)
        return None if why is None else why[1]

    def check(self) -> None:
        """Run and judge; raise if the scenario does not hold under this schedule.

        Raises:
            AssertionError: naming the failure, the schedule and the replay command.
        """
        __tracebackhide__ = True
        verdict = self.run()
        why = ex.refutation(verdict, self.spec)
        if why is not None:
            raise AssertionError(f"{self.scenario.path}: schedule {self.text} refutes the "
                                 f"scenario: {why[1]}\nreplay: {self.replay_command()}\n"
                                 + verdict.report())


def _space(scenario: Scenario, spec: ExploreSpec) -> ex.Space:
    ex.check_explorable(scenario)
    frame, _ = ex.frame_of(scenario, spec)
    return ex.Space(spec, frame)


def _atoms(space: ex.Space) -> st.SearchStrategy[ex.Atom]:
    # Each kind shrinks towards its first and smallest: an earlier link and flight, a
    # smaller offset or round.  Splits come first, so a list shrinks towards splits.
    kinds: list[st.SearchStrategy[Any]] = []
    splittable = [(link, k, n) for link, lengths in space.frame.flights
                  for k, n in enumerate(lengths) if n > 1]
    if splittable and space.spec.splits:
        def split_of(flight: tuple[str, int, int]) -> st.SearchStrategy[ex.Atom]:
            link, k, n = flight
            return st.integers(1, n - 1).map(lambda off: ex.Split(link, k, off))

        kinds.append(st.sampled_from(splittable).flatmap(split_of))
    if space.spec.turns and space.frame.multi_rounds:
        kinds.append(st.integers(0, space.frame.multi_rounds - 1).map(ex.Swap))
    if space.spec.pauses and space.frame.rounds:
        kinds.append(st.tuples(st.sampled_from(space.spec.links),
                               st.integers(0, space.frame.rounds - 1))
                     .map(lambda lr: ex.Pause(*lr)))
    return st.one_of(kinds) if kinds else st.nothing()


def _within(space: ex.Space, atoms: list[ex.Atom]) -> ex.Point:
    # Keep the atoms, in drawn order, that fit the bounds (at most `splits` per flight,
    # `turns` swaps, `pauses` pauses): every draw is a point of the space.
    kept: list[ex.Atom] = []
    for atom in atoms:
        if atom not in kept and space.valid([*kept, atom]):
            kept.append(atom)
    return ex.canonical(kept)


def schedules(
    scenario_or_spec: Scenario | str | os.PathLike[str] | ex.Space,
    scenario: Scenario | str | os.PathLike[str] | None = None,
    *,
    spec: ExploreSpec | None = None,
    max_changes: int | None = None,
) -> st.SearchStrategy[DrawnSchedule]:
    """A Hypothesis strategy drawing schedules of a scenario's ``[explore]`` space.

    Args:
        scenario_or_spec: the scenario (loaded, or its file), whose ``[explore]`` section
            (or ``spec``) bounds the space; or a :class:`~biopair.search.explore.Space`
            already measured, with its ``scenario`` as the second argument.
        spec: bounds to use instead of the scenario's own.
        max_changes: at most this many atoms per schedule (default: as many as the
            bounds allow).

    Returns:
        A strategy of :class:`DrawnSchedule`.  The space's coordinates are measured (the
        scenario run once as written) when Hypothesis first draws from it.

    Raises:
        ScenarioError: (when first drawn) for a scenario that cannot be explored.
        TypeError: for a :class:`~biopair.search.explore.Space` without its scenario.
    """
    if isinstance(scenario_or_spec, ex.Space):
        if scenario is None:
            raise TypeError("schedules(space, scenario): a Space needs its scenario")
        given_space: ex.Space | None = scenario_or_spec
        source: Scenario | str | os.PathLike[str] = scenario
    else:
        given_space, source = None, scenario_or_spec

    def build() -> st.SearchStrategy[DrawnSchedule]:
        sc = source if isinstance(source, Scenario) else load_scenario(os.fspath(source))
        space = given_space or _space(sc, spec or sc.explore or ExploreSpec())
        most = space.most
        if max_changes is not None:
            most = min(most, max_changes)
        atoms = st.lists(_atoms(space), max_size=most) if most else st.just([])

        def drawn(a: list[ex.Atom]) -> DrawnSchedule:
            return DrawnSchedule(sc, space.spec, _within(space, a))

        return atoms.map(drawn)

    return st.deferred(build)
