"""Explore: search the schedules a scenario could meet, shrink what breaks it, replay it.

Theory of operation
-------------------
A scenario's ``run`` steps leave every choice to their
:class:`~biopair.engine.schedule.Schedule`.  :class:`ExploreSchedule` answers those
choices from a *point* of the scenario's ``[explore]`` space, a set of *atoms*:

* :class:`Split` ``(link, flight, offset)``: on a free link, flight ``flight`` (the bytes
  the sender wrote in one call, counted from 0 over the whole scenario) is handed over in
  two moves, the first ending ``offset`` bytes into the flight (a move hands over fewer
  bytes than are queued);
* :class:`Swap` ``(round)``: in the ``round``-th round that has two entries running, the
  second entry takes its turn first;
* :class:`Pause` ``(link, round)``: the link is paused at the start of that round (a socket
  link stops draining its sender, so the sender can meet WANT_WRITE) and resumed when the
  run would otherwise stall (the entry whose call ended the quiet round keeps its turn
  once, so the resumed bytes move) or when fewer than two entries run.

Everything else is the scenario's own schedule, so the empty point is the scenario as
written.  The space's coordinates (how many flights, how long, how many rounds) are read
from that unsplit run, the :class:`Frame`; a split that changes later flights is still
deterministic, and the schedule records the atoms that actually took effect
(:attr:`ExploreSchedule.applied`), which is what a report prints and replays.

The property is the scenario: a run *refutes* it when the verdict has a failure (an
``expect`` or ``[result]`` that does not hold, a run without expectation ending in
DEADLOCK), the run hit LIMIT, the harness raised, or a ``forbid`` terminal appeared.
Runs are grouped into behaviour classes: the outcome sequence of each entry of each step,
summarised, with each run's terminal.  The first refuting run (in index order, so the
same with any number of worker processes) is shrunk greedily: drop atoms while it still
fails the same way, then lower each offset and round by bisection.

A *shard* (:class:`Shard`) is a range of point indexes of one mode (exhaustive: the
canonical order; random: one seed); :func:`run_shard` is a pure function of the scenario,
the spec and the shard, so shards can run anywhere.

Speed: a search's runs are lean (calls, moves and run ends; no protocol hooks, no final
states or stream counts nobody reads) and share SSL contexts where that is proven not to
change them (:class:`ContextCache`, :func:`cache_for`); the reported counterexample is
run again with its whole trace.  ``jobs`` > 1 uses a :class:`WorkerPool` kept for the
life of the process, which also runs the shrinker's candidates.
"""

from __future__ import annotations

import atexit
import bisect
import dataclasses
import hashlib
import itertools
import json
import math
import os
import random
import re
import tempfile
import threading
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.pyopenssl import build_context
from biopair.endpoints.versions import stack_versions
from biopair.engine.pair import Pair
from biopair.engine.schedule import (
    NO_MOVE,
    Deliver,
    Delivery,
    Fixed,
    LinkState,
    MoveChoice,
    Schedule,
    T,
)
from biopair.engine.schedule import Turn as TurnState
from biopair.engine.trace import RunEnd
from biopair.outcome import Outcome, Pattern, summarize
from biopair.scenario.loader import load_scenario
from biopair.scenario.model import CallStep, ExploreSpec, RunStep, Scenario, ScenarioError
from biopair.scenario.resolve import for_stack, unmet_requires
from biopair.scenario.runner import Verdict, run_scenario
from biopair.search import interrupt
from biopair.transport.link import DIRECTIONS
from biopair.views import files

#: The most schedules one exploration may run (``--budget``).
MAX_BUDGET = 1_000_000
#: The longest ``--time`` (seconds).
MAX_SECONDS = 24 * 3600
#: Schedules a random search runs when given neither ``--budget`` nor ``--time``.
DEFAULT_BUDGET = 1000
#: The most worker processes.
MAX_JOBS = 64
#: Runs the shrinker may make.
SHRINK_RUNS = 400
#: Draws in a row that repeat earlier schedules after which a random sequence ends (its
#: space has run dry: every schedule it still draws has been run).
DRY_DRAWS = 1000
#: Where failing schedules are kept and tried first next time.
STORE_DIR = Path(".biopair") / "explore"

_SHORT = {"client>server": "c", "server>client": "s"}
_LONG = {v: k for k, v in _SHORT.items()}


# -- points and their printable form ---------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """Hand flight ``flight`` of ``link`` over in two moves, cut ``offset`` bytes in."""

    link: str
    flight: int
    offset: int

    def key(self) -> tuple[int, ...]:
        return (0, DIRECTIONS.index(self.link), self.flight, self.offset)

    def text(self) -> str:
        return f"{_SHORT[self.link]}{self.flight}.{self.offset}"


@dataclass(frozen=True)
class Swap:
    """In the ``round``-th round with two entries running, the second goes first."""

    round: int

    def key(self) -> tuple[int, ...]:
        return (1, self.round)

    def text(self) -> str:
        return f"t{self.round}"


@dataclass(frozen=True)
class Pause:
    """Pause ``link`` at the start of round ``round``; resume it before the run stalls."""

    link: str
    round: int

    def key(self) -> tuple[int, ...]:
        return (2, self.round, DIRECTIONS.index(self.link))

    def text(self) -> str:
        return f"p{_SHORT[self.link]}{self.round}"


Atom = Split | Swap | Pause
#: A point of the space: atoms in canonical order.
Point = tuple[Atom, ...]

_TOKEN = re.compile(r"^(?:([cs])(\d{1,9})\.(\d{1,9})|t(\d{1,9})|p([cs])(\d{1,9}))$")


def canonical(atoms: Sequence[Atom]) -> Point:
    """The atoms sorted in the space's canonical order, without repeats."""
    return tuple(sorted(set(atoms), key=lambda a: a.key()))


def format_schedule(point: Sequence[Atom]) -> str:
    """A point as its compact schedule string: ``s0.37,t2``; ``-`` for the unsplit run."""
    return ",".join(a.text() for a in canonical(point)) or "-"


def parse_schedule(text: str) -> Point:
    """Read a schedule string (:func:`format_schedule`'s form).

    Raises:
        ValueError: naming the token that is not a split (``c0.57``, ``s2.100``), a swap
            (``t3``) or a pause (``ps4``).
    """
    text = text.strip()
    if text == "-":
        return ()
    atoms: list[Atom] = []
    for token in text.split(","):
        m = _TOKEN.match(token.strip())
        if m is None:
            raise ValueError(f"bad schedule token {token.strip()[:40]!r}: expected a split "
                             f"like s0.37 (link c or s, flight, offset), a swap like t2 or "
                             f"a pause like ps4")
        if m.group(1):
            offset = int(m.group(3))
            if offset < 1:
                raise ValueError(f"bad schedule token {token!r}: a split offset is >= 1")
            atoms.append(Split(_LONG[m.group(1)], int(m.group(2)), offset))
        elif m.group(4):
            atoms.append(Swap(int(m.group(4))))
        else:
            atoms.append(Pause(_LONG[m.group(5)], int(m.group(6))))
    return canonical(atoms)


def _record_starts(data: bytes | bytearray) -> tuple[int, ...]:
    # Where TLS records start in one flight (a flight starts on a record boundary).
    starts, at = [], 0
    while at + 5 <= len(data):
        starts.append(at)
        at += 5 + int.from_bytes(data[at + 3:at + 5])
    return tuple(starts)


class Skipped(Exception):
    """The scenario does not run here (unmet ``requires``, a stack not installed): there
    is nothing to explore.  The message says why."""


# -- the schedule ------------------------------------------------------------------------------
class ExploreSchedule(Schedule):
    """A schedule that realises one point of an ``[explore]`` space on one pair.

    Args:
        pair: the pair it drives (pauses and resumes are the pair's events, so they are
            in its trace; the step index tells run steps apart).
        point: the atoms to apply.
        free: the directions whose move sizes are free.
        deliver, turns: the scenario's own policy, used for every other choice.
        observe: also note each flight's record starts (for the :class:`Frame`).

    Attributes:
        applied: the atoms that took effect, in the order they did.
        moves: ``(step, link, queued, size)`` for every move it answered.
        flights, starts: per free link, each flight's length and record starts.
        rounds, multi_rounds: rounds run, and rounds that had two entries running.
    """

    def __init__(self, pair: Pair, point: Sequence[Atom], free: Sequence[str],
                 deliver: Deliver = "all", turns: str = "alternate",
                 observe: bool = False) -> None:
        super().__init__(deliver, turns)
        self._pair = pair
        self._base = self.delivery
        self._free = frozenset(free)
        self._observe = observe
        self._cuts: dict[tuple[str, int], list[int]] = {}
        self._swaps: frozenset[int] = frozenset(a.round for a in point if isinstance(a, Swap))
        self._pause_at: dict[int, list[str]] = {}
        for a in point:
            if isinstance(a, Split):
                self._cuts.setdefault((a.link, a.flight), []).append(a.offset)
            elif isinstance(a, Pause):
                self._pause_at.setdefault(a.round, []).append(a.link)
        for offsets in self._cuts.values():
            offsets.sort()
        self._seen = dict.fromkeys(DIRECTIONS, 0)
        self._pending: dict[str, list[int]] = {d: [] for d in DIRECTIONS}
        self.applied: list[Atom] = []
        self.moves: list[tuple[int | None, str, int, MoveChoice]] = []
        self.flights: dict[str, list[int]] = {d: [] for d in DIRECTIONS}
        self.starts: dict[str, list[tuple[int, ...]]] = {d: [] for d in DIRECTIONS}
        self.rounds = 0
        self.multi_rounds = 0
        self._step: object = object()
        self._delivery_step: object = object()
        self._last_index = -1
        self._quiet = True
        self._paused: list[str] = []

    def detach(self) -> None:
        """Forget the pair once its run is over.

        The pair refers to its schedule and the schedule to the pair: a reference cycle
        that would keep every finished pair (its endpoints, links, parsers) alive until
        the cyclic GC ran, which then walks them in every collection of a search's
        thousands of runs.  Detached, a finished pair is freed by reference counting as
        it goes out of scope; the schedule keeps what reports read (``applied``,
        ``moves``, ``flights``).
        """
        self._pair = None  # type: ignore[assignment]

    def _use(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self._next_size = delivery.next_size
        self._listed = delivery.listed
        self._fixed = delivery.fixed

    def with_delivery(self, deliver: Deliver) -> Schedule:
        """A run step's own ``deliver``: this schedule, with that policy for that run."""
        self._use(Delivery(deliver))
        self._delivery_step = self._pair.step
        return self

    def _resume_all(self) -> None:
        for direction in self._paused:
            self._pair.resume(direction)
        self._paused.clear()

    def turn_order(self, running: Sequence[T]) -> Sequence[T]:
        """The order of this round: rotated where the point has a :class:`Swap`."""
        step = self._pair.step
        if step != self._step:
            self._step = step
            self._resume_all()
            if self._delivery_step != step:
                self._use(self._base)
        r = self.rounds
        self.rounds = r + 1
        if len(running) < 2:
            self._resume_all()
        else:
            for direction in self._pause_at.get(r, ()):
                if direction not in self._paused:
                    self._pair.pause(direction)
                    self._paused.append(direction)
                    self.applied.append(Pause(direction, r))
        order = running
        if len(running) >= 2:
            t = self.multi_rounds
            self.multi_rounds = t + 1
            if t in self._swaps:
                order = (*running[1:], running[0])
                self.applied.append(Swap(t))
        self._last_index = order[-1].index
        self._quiet = True
        return order

    def fixed(self) -> Fixed:
        """What this schedule answers whatever it is asked: without a pause in the point,
        :meth:`keep_turn` is the scenario's rule, fixed for ``turns = "alternate"`` (no
        entry keeps its turn), so a run need not ask it after every call.  Moves (the
        flights are counted there) and the turn order (rounds, steps) are always asked."""
        keeps = None if self._pause_at or self._drain else False
        return Fixed(False, None, keeps, False)

    def keep_turn(self, turn: TurnState, progressed: bool) -> bool:
        """The scenario's rule; but a quiet round with a pause of ours ends in a resume."""
        if progressed:
            self._quiet = False
        if self._paused and self._quiet and turn.index == self._last_index:
            self._resume_all()
            return True
        return super().keep_turn(turn, progressed)

    def move(self, link: LinkState) -> MoveChoice:
        """The scenario's move, cut short at the next split point on a free link."""
        name = link.name
        queued = len(link.queue)
        if name in self._free:
            pulled = link.delivered + queued
            seen = self._seen[name]
            if pulled > seen:
                start = max(seen, link.delivered)
                length = pulled - start
                k = len(self.flights[name])
                self.flights[name].append(length)
                if self._observe:
                    self.starts[name].append(
                        _record_starts(link.queue[start - link.delivered:]))
                for offset in self._cuts.get((name, k), ()):
                    if offset < length:
                        self._pending[name].append(start + offset)
                        self.applied.append(Split(name, k, offset))
                self._seen[name] = pulled
        if link.paused or link.held:
            return NO_MOVE
        if not queued:
            return 0
        size = self._next_size(name) if self._listed else self._fixed
        pending = self._pending[name]
        if pending:
            at = link.delivered
            while pending and pending[0] <= at:
                pending.pop(0)
            if pending:
                limit = pending[0] - at
                if size is None or (isinstance(size, int) and size > limit):
                    size = limit
        self.moves.append((self._pair.step, name, queued, size))
        return size


# -- the space -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """What the unsplit run showed: the coordinates of the space.

    Attributes:
        flights: per free link (direction order), each flight's length in bytes.
        starts: per free link, each flight's record starts (for well-placed splits).
        rounds: rounds in the whole scenario; multi_rounds: those with two entries.
    """

    flights: tuple[tuple[str, tuple[int, ...]], ...]
    starts: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...]
    rounds: int
    multi_rounds: int


def _poly_mul(a: list[int], b: list[int], most: int | None = None) -> list[int]:
    # The product of two count polynomials, cut after degree ``most`` (None: whole).
    size = len(a) + len(b) - 1 if most is None else min(len(a) + len(b) - 1, most + 1)
    out = [0] * size
    for i, x in enumerate(a[:size]):
        if x:
            for j, y in enumerate(b[:size - i]):
                out[i + j] += x * y
    return out


def _product(values: list[int]) -> int:
    # A product of many big integers, pairwise (a running product of thousands of
    # flights' counts re-copies its ever longer result at every step).
    while len(values) > 1:
        values = [values[i] * values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0] if values else 1


#: Counts with more digits than this are printed rounded (``about 1.23e+50012``): the
#: exact decimal form of a number of tens of thousands of digits says nothing more, and
#: Python refuses to write one over 4,300 digits.
EXACT_DIGITS = 1000
_EXACT_LIMIT = 10 ** EXACT_DIGITS
#: Levels (schedules per number of changes) ``--json`` lists at most, from 0.
LEVELS_SHOWN = 16


def count_text(n: int) -> str:
    """A count as text: exact up to :data:`EXACT_DIGITS` digits, else rounded to three
    significant digits (``about 1.23e+50012``)."""
    if n < _EXACT_LIMIT:
        return str(n)
    shift = n.bit_length() - 64
    log = math.log10(n >> shift) + shift * math.log10(2)
    exponent = math.floor(log)
    return f"about {10 ** (log - exponent):.2f}e+{exponent}"


def count_json(n: int) -> int | str:
    """A count for JSON: the number, or (beyond :data:`EXACT_DIGITS` digits) its rounded
    text as a string."""
    text = count_text(n)
    return n if not text.startswith("about") else text


class _Atoms(Sequence[Atom]):
    # The space's atoms in canonical order, made on demand: a space over megabytes of
    # flights has millions of split points, and a search touches a few of them.
    def __init__(self, space: Space) -> None:
        self._space = space

    def __len__(self) -> int:
        return self._space._end

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        space = self._space
        h = bisect.bisect_right(space._firsts, index) - 1
        return space._make(h, index - space._groups[h][0])


class Space:
    """The bounded schedule space of one scenario: its atoms, size and canonical order.

    Measuring a space costs O(its flights), never O(their bytes) or O(its size): the
    atoms are made when asked for, the counts per number of changes (``levels``) are
    worked out as far as they are read, and a slice of the canonical order starts at its
    first point directly (:meth:`exhaustive`).

    Args:
        spec: the ``[explore]`` bounds.
        frame: the unsplit run's coordinates.
    """

    def __init__(self, spec: ExploreSpec, frame: Frame) -> None:
        self.spec = spec
        self.frame = frame
        # The atoms in canonical order, in groups that share a bound: one group per
        # flight (at most ``splits`` of its split points), the swaps, the pauses.  A group
        # whose bound is 0 holds no atom: with ``splits = 0`` no split atom exists at all.
        #: (first, end, bound) of each group, in ``atoms``.
        self._groups: list[tuple[int, int, int]] = []
        #: what each group's atoms are: ("split", link, flight), ("swap",), ("pause",).
        self._kinds: list[tuple[Any, ...]] = []
        end = 0
        members: list[tuple[tuple[Any, ...], int, int]] = [
            (("split", link, k), n - 1 if spec.splits else 0, spec.splits)
            for link, lengths in frame.flights for k, n in enumerate(lengths)]
        members.append((("swap",), frame.multi_rounds if spec.turns else 0, int(spec.turns)))
        members.append((("pause",), frame.rounds * len(spec.links) if spec.pauses else 0,
                        spec.pauses))
        for kind, count, bound in members:
            if count > 0:
                self._groups.append((end, end + count, bound))
                self._kinds.append(kind)
                end += count
        self._end = end
        self._firsts = [first for first, _, _ in self._groups]
        #: the atoms, in canonical order (made when read).
        self.atoms: Sequence[Atom] = _Atoms(self)
        #: the most atoms one point can hold.
        self.most = sum(min(bound, e - f) for f, e, bound in self._groups)
        self._counts: list[int] = [1]  # schedules per number of atoms, as far as known
        self._size: int | None = None
        self._suffixes: dict[int, list[list[int]]] = {}
        self._splittable = [(link, k, n) for link, lengths in frame.flights
                            for k, n in enumerate(lengths) if n > 1]
        self._starts = {(link, k): s for link, ss in frame.starts for k, s in enumerate(ss)}

    def _make(self, h: int, j: int) -> Atom:
        # The ``j``-th atom of group ``h``.
        kind = self._kinds[h]
        if kind[0] == "split":
            return Split(kind[1], kind[2], j + 1)
        if kind[0] == "swap":
            return Swap(j)
        links = self.spec.links
        return Pause(links[j % len(links)], j // len(links))

    def _group_poly(self, h: int, most: int) -> list[int]:
        first, end, bound = self._groups[h]
        return [math.comb(end - first, j) for j in range(min(bound, end - first, most) + 1)]

    def level(self, changes: int) -> int:
        """How many schedules have exactly ``changes`` atoms (worked out up to there)."""
        if changes > self.most or changes < 0:
            return 0
        if changes >= len(self._counts):
            most = min(self.most, max(changes, 2 * len(self._counts)))
            poly = [1]
            for h in range(len(self._groups)):
                poly = _poly_mul(poly, self._group_poly(h, most), most)
            self._counts = poly + [0] * (most + 1 - len(poly))
        return self._counts[changes]

    @property
    def levels(self) -> list[int]:
        """Schedules with exactly L atoms, by L (the whole list: costs O(flights x its
        length); :meth:`level` works out one)."""
        self.level(self.most)
        return self._counts[:self.most + 1]

    @property
    def size(self) -> int:
        """The whole space: how many schedules it holds."""
        if self._size is None:
            self._size = _product([sum(self._group_poly(h, self.most))
                                   for h in range(len(self._groups))])
        return self._size

    def valid(self, atoms: Sequence[Atom]) -> bool:
        """Whether a set of atoms is within the bounds."""
        per_flight: dict[tuple[str, int], int] = {}
        swaps = pauses = 0
        for a in atoms:
            if isinstance(a, Split):
                n = per_flight.get((a.link, a.flight), 0) + 1
                if n > self.spec.splits:
                    return False
                per_flight[(a.link, a.flight)] = n
            elif isinstance(a, Swap):
                swaps += 1
            else:
                pauses += 1
        return swaps <= self.spec.turns and pauses <= self.spec.pauses

    def contains(self, atoms: Sequence[Atom]) -> bool:
        """Whether a set of atoms is a point of this space: within the bounds, each
        atom within the frame (a flight that exists, an offset inside it, a round that
        ran) and no atom of a kind the bounds leave fixed."""
        flights = dict(self.frame.flights)
        for a in atoms:
            if isinstance(a, Split):
                lengths = flights.get(a.link, ())
                if not (a.flight < len(lengths) and a.offset < lengths[a.flight]):
                    return False
            elif isinstance(a, Swap):
                if a.round >= self.frame.multi_rounds:
                    return False
            elif a.link not in self.spec.links or a.round >= self.frame.rounds:
                return False
        return self.valid(atoms)

    def exhaustive(self, start: int = 0, stop: int | None = None) -> Iterator[Point]:
        """Points ``start..stop`` of the canonical order: by number of atoms, then in
        lexicographic order of the atoms (splits by link, flight, offset; swaps; pauses).

        The first point is found directly (counted, not walked to), so a slice far into
        the order costs what a slice at its start does."""
        if stop is not None and stop <= start:
            return iter(())
        skip = start
        first = 0
        while first <= self.most and skip >= self.level(first):
            skip -= self.level(first)  # whole levels before ``start`` are not walked
            first += 1

        def every() -> Iterator[Point]:
            for level in range(first, self.most + 1):
                yield from self._level(level, skip if level == first else 0)
        return itertools.islice(every(), None if stop is None else stop - start)

    def _suffix(self, size: int) -> list[list[int]]:
        # suffix[g][k]: the ways to choose k <= size atoms from groups g.. within bounds.
        found = self._suffixes.get(size)
        if found is None:
            groups = len(self._groups)
            found = [[0] * (size + 1) for _ in range(groups + 1)]
            found[groups][0] = 1
            for g in range(groups - 1, -1, -1):
                poly = _poly_mul(found[g + 1], self._group_poly(g, size), size)
                found[g] = poly + [0] * (size + 1 - len(poly))
            self._suffixes = {size: found}  # one level at a time
        return found

    def _unrank(self, size: int, rank: int) -> list[int]:
        # The atom indexes of point ``rank`` of level ``size`` (0 <= rank < its count), by
        # counting the points each choice leaves behind: O(size x (groups + bound x
        # log(atoms))), whatever the rank.
        groups = self._groups
        suffix = self._suffix(size)

        def after(h: int, x: int, taken: int, need: int) -> int:
            # Points whose next atom is in group h at an index >= x.
            _, end, bound = groups[h]
            free = end - x
            return sum(math.comb(free, j) * suffix[h + 1][need - j]
                       for j in range(1, min(bound - taken, free, need) + 1))

        path: list[int] = []
        g, lo, used, need = 0, 0, 0, size
        while need:
            first, end, bound = groups[g]
            x0 = max(lo, first)
            here = after(g, x0, used, need) if used < bound and x0 < end else 0
            if rank >= here:
                rank -= here
                g += 1
                while rank >= suffix[g][need] - suffix[g + 1][need]:
                    rank -= suffix[g][need] - suffix[g + 1][need]
                    g += 1
                lo, used = groups[g][0], 0
                continue
            top = after(g, x0, used, need)
            a, b = x0, end - 1  # the largest i with top - after(i) <= rank
            while a < b:
                mid = (a + b + 1) // 2
                if top - after(g, mid, used, need) <= rank:
                    a = mid
                else:
                    b = mid - 1
            rank -= top - after(g, a, used, need)
            path.append(a)
            lo, used, need = a + 1, used + 1, need - 1
        return path

    def _level(self, size: int, skip: int = 0) -> Iterator[Point]:
        # The valid points of ``size`` atoms in lexicographic order of their indices (the
        # order itertools.combinations gives) from the ``skip``-th on, each reached in
        # O(size) steps: a group at its bound is left at once, and a branch is not entered
        # unless the groups after it can still hold the atoms it needs (checking every
        # combination of every atom instead took hours for spaces of a few dozen
        # schedules on large flights).  The first point is found by :meth:`_unrank`.
        groups = self._groups
        room = [0] * (len(groups) + 1)  # atoms groups g.. can hold at most
        for g in range(len(groups) - 1, -1, -1):
            first, end, bound = groups[g]
            room[g] = room[g + 1] + min(bound, end - first)
        firsts = self._firsts
        make = self._make
        chosen: list[Atom] = []
        begin = self._unrank(size, skip) if skip and size else []

        def pick(g: int, lo: int, used: int, need: int, path: list[int]) -> Iterator[Point]:
            if need == 0:
                yield tuple(chosen)
                return
            h0 = g if not path else bisect.bisect_right(firsts, path[0]) - 1
            for h in range(h0, len(groups)):
                if room[h] < need:
                    break  # the later groups hold fewer still
                first, end, bound = groups[h]
                taken = used if h == g else 0
                if taken >= bound:
                    continue
                i0 = max(lo, first) if not path or h != h0 else path[0]
                for i in range(i0, end):
                    if min(bound - taken, end - i) + room[h + 1] < need:
                        break  # too few atoms left from here on
                    chosen.append(make(h, i - first))
                    yield from pick(h, i + 1, taken + 1, need - 1,
                                    path[1:] if path and i == path[0] else [])
                    chosen.pop()
                path = []

        return pick(0, 0, 0, size, begin)

    def random_point(self, seed: int, index: int) -> Point:
        """Point ``index`` of seed ``seed``'s random sequence (0: the unsplit run).

        Few atoms are likelier than many (1 with probability 1/2, 2 with 1/4, ...), and
        half the splits fall on or next to a record boundary (a header's edges, a body's
        last byte), where parsers change state.
        """
        if index == 0 or self.most < 1:
            return ()
        rng = random.Random(f"{seed}:{index}")
        count = 1
        while count < self.most and rng.random() < 0.5:
            count += 1
        kinds = ([Split] if self.spec.splits and self._splittable else []) + \
            ([Swap] if self.spec.turns and self.frame.multi_rounds else []) + \
            ([Pause] if self.spec.pauses and self.frame.rounds else [])
        atoms: list[Atom] = []
        for _ in range(count):
            kind = rng.choice(kinds)
            atom: Atom
            if kind is Split:
                link, k, n = rng.choice(self._splittable)
                starts = self._starts.get((link, k), ())
                if starts and rng.random() < 0.5:
                    at = rng.choice(starts) + rng.choice((-1, 1, 2, 3, 4, 5))
                    offset = min(max(at, 1), n - 1)
                else:
                    offset = rng.randrange(1, n)
                atom = Split(link, k, offset)
            elif kind is Swap:
                atom = Swap(rng.randrange(self.frame.multi_rounds))
            else:
                atom = Pause(rng.choice(self.spec.links), rng.randrange(self.frame.rounds))
            if atom not in atoms and self.valid([*atoms, atom]):
                atoms.append(atom)
        return canonical(atoms)

    def random_points(self, seed: int, ended: dict[str, int] | None = None
                      ) -> Iterator[Point]:
        """Seed ``seed``'s random sequence: the unsplit run, then each draw
        (:meth:`random_point` ``(seed, j)``, j = 1, 2, ...) that no earlier draw gave.

        A search never runs a schedule twice: the draws favour few atoms and record
        boundaries, so they repeat often (10,000 draws over a TLS 1.3 handshake's flights
        give 3,850 to 5,571 distinct schedules).  The sequence ends when it holds the whole
        space, or after :data:`DRY_DRAWS` draws in a row gave nothing new: each point
        costs at most that many draws, and the set of points seen grows with the points.
        ``ended``, if given, gets ``"dry"`` (1 when the sequence ended that way) and
        ``"points"`` (how many it gave) once it ends.
        """
        # Each point seen is kept as an 8-byte digest of its schedule string (a few dozen
        # bytes in the set, not the point's objects): the same in every process, so
        # every shard item and worker agrees on the sequence.
        seen: set[int] = set()
        dry = 0
        j = 0
        size = self.size
        while len(seen) < size and dry < DRY_DRAWS:
            point = self.random_point(seed, j)
            j += 1
            key = int.from_bytes(hashlib.blake2b(format_schedule(point).encode(),
                                                 digest_size=8).digest(), "big")
            if key in seen:
                dry += 1
                continue
            dry = 0
            seen.add(key)
            yield point
        if ended is not None:
            ended["dry"] = int(dry >= DRY_DRAWS)
            ended["points"] = len(seen)

    def describe(self) -> str:
        """The space in one line: what is free, and how many schedules it holds."""
        spec = self.spec
        flights = "; ".join(f"{link} {len(ls)} flights ({_lengths(ls)} bytes)"
                            for link, ls in self.frame.flights)
        extra = (f", turns <= {spec.turns} of {self.frame.multi_rounds} rounds"
                 if spec.turns else "") + \
                (f", pauses <= {spec.pauses} of {self.frame.rounds} rounds"
                 if spec.pauses else "")
        return (f"{flights or 'no free link'}; splits <= {spec.splits} per flight{extra}: "
                f"{count_text(self.size)} schedules")


#: Flight lengths a space's description lists per link (then ``+... N more = T``).
FLIGHTS_SHOWN = 12


def _lengths(lengths: Sequence[int]) -> str:
    shown = "+".join(map(str, lengths[:FLIGHTS_SHOWN]))
    more = len(lengths) - FLIGHTS_SHOWN
    return shown if more <= 0 else f"{shown}+... {more} more = {sum(lengths)}"


# -- one run ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunReport:
    """One explored schedule.

    Attributes:
        index: its place in the search (stored failures first, then the mode's order).
        schedule: the atoms that took effect, as a schedule string.
        klass: its behaviour class.
        failure: why it refutes the scenario, or None.
        kind: the failure's kind (the key that failed, ``LIMIT``, ``forbid DEADLOCK``,
            ``harness exception``): shrinking keeps it.
        calls: SSL calls made.
    """

    index: int
    schedule: str
    klass: str
    failure: str | None = None
    kind: str | None = None
    calls: int = 0


#: Behaviour classes already written, by what they are written from (a search meets
#: the same few classes thousands of times); bounded, then forgotten wholesale.
_CLASSES: dict[tuple[Any, ...], str] = {}
_CLASSES_KEPT = 4096


def behaviour(verdict: Verdict) -> str:
    """A run's behaviour class: per step, each entry's outcomes summarised, and the
    terminal of a run that ended in one (``1: client WANT_READ{2} 1, server ...``)."""
    trace = verdict.trace
    key = (tuple([(c.step, c.endpoint, c.ret, c.error, c.reasons) for c in trace.calls]),
           tuple([(e.step, e.terminal) for e in trace.events
                  if isinstance(e, RunEnd) and e.terminal is not None]))
    found = _CLASSES.get(key)
    if found is None:
        if len(_CLASSES) >= _CLASSES_KEPT:
            _CLASSES.clear()
        found = _CLASSES[key] = _behaviour(verdict)
    return found


def _behaviour(verdict: Verdict) -> str:
    per_step: dict[int, dict[str, list[Any]]] = {}
    for call in verdict.trace.calls:
        step = -1 if call.step is None else call.step
        per_step.setdefault(step, {}).setdefault(call.endpoint, []).append(call.outcome)
    terminals = {e.step: e.terminal for e in verdict.trace.events
                 if isinstance(e, RunEnd) and e.terminal is not None}
    parts = []
    for step, by_end in per_step.items():
        text = ", ".join(f"{end} {summarize(outs)}" for end, outs in by_end.items())
        if step in terminals:
            text += f" {terminals[step]}"
        parts.append(f"{step + 1}: {text}")
    return " | ".join(parts) or "(no calls)"


def refutation(verdict: Verdict, spec: ExploreSpec) -> tuple[str, str] | None:
    """Why a run refutes its scenario, as ``(kind, text)``, or None if it holds."""
    terminals = {e.terminal for e in verdict.trace.events
                 if isinstance(e, RunEnd) and e.terminal is not None}
    if verdict.failures:
        f = verdict.failures[0]
        return f.key, f"{f.key}: expected {f.expected}, actual {f.actual}"
    if "LIMIT" in terminals:
        return "LIMIT", "a run hit the call cap (LIMIT)"
    errors = {c.error for c in verdict.trace.calls}
    for name in spec.forbid:
        if name in terminals or name in errors:
            return f"forbid {name}", f"forbidden {name} appeared"
    return None


def _schedule_factory(scenario: Scenario, spec: ExploreSpec, point: Sequence[Atom],
                      observe: bool, keep: list[ExploreSchedule]
                      ) -> Callable[[Pair], Schedule]:
    def make(pair: Pair) -> Schedule:
        schedule = ExploreSchedule(pair, point, spec.links, scenario.deliver, scenario.turns,
                                   observe)
        keep.append(schedule)
        return schedule
    return make


class _Remembered(Pattern):
    """A fitted pattern that remembers its verdict on each outcome sequence it judged.

    A search judges the same few sequences thousands of times, and a match builds its
    automaton's moves afresh each time; the verdict is a function of the sequence alone,
    so it is looked up (bounded: forgotten wholesale past :data:`_CLASSES_KEPT`)."""

    _memo: dict[tuple[Outcome, ...], bool]

    def __init__(self, pattern: Pattern) -> None:
        super().__init__(pattern.text, pattern.program)
        object.__setattr__(self, "_memo", {})

    def matches(self, outcomes: Sequence[Outcome]) -> bool:
        """:meth:`Pattern.matches`, remembered."""
        key = tuple(outcomes)
        memo = self._memo
        found = memo.get(key)
        if found is None:
            if len(memo) >= _CLASSES_KEPT:
                memo.clear()
            found = memo[key] = super().matches(key)
        return found


def _remembering(scenario: Scenario) -> Scenario:
    # The fitted scenario with each step's expectation a _Remembered pattern.
    steps: list[Any] = []
    for step in scenario.steps:
        if isinstance(step, RunStep) and step.expect:
            step = dataclasses.replace(step, expect={
                name: _Remembered(p) if type(p) is Pattern else p
                for name, p in step.expect.items()})
        elif isinstance(step, CallStep) and type(step.expect) is Pattern:
            step = dataclasses.replace(step, expect=_Remembered(step.expect))
        steps.append(step)
    return dataclasses.replace(scenario, steps=tuple(steps))


#: Per process: each scenario seen lately (path -> scenario, fitted or None).
_FITTED: dict[str, tuple[Scenario, Scenario | None]] = {}


def fitted(scenario: Scenario) -> Scenario | None:
    """The scenario fitted to the running stack's versions once for a search's many
    runs (:func:`~biopair.scenario.resolve.for_stack`), or None when its ``requires``
    are not met (its runs then say so themselves).

    Raises:
        ScenarioError: as ``for_stack`` (a version table without a branch for this
            stack), which every run would raise too.
    """
    hit = _FITTED.get(scenario.path)
    if hit is not None and hit[0] is scenario:
        return hit[1]
    versions = stack_versions()
    fit = None if unmet_requires(scenario, versions) is not None else \
        _remembering(for_stack(scenario, versions))
    if len(_FITTED) >= KEPT:
        _FITTED.pop(next(iter(_FITTED)))
    _FITTED[scenario.path] = (scenario, fit)
    return fit


def run_once(scenario: Scenario, spec: ExploreSpec, point: Sequence[Atom], *,
             full: bool = False, observe: bool = False,
             contexts: ContextCache | None = None) -> tuple[Verdict, ExploreSchedule]:
    """Run the scenario under one point.

    Args:
        full: keep the whole trace (the protocol too), for a report; else only calls,
            moves and run ends, what the property and the classes need.
        observe: note the flights' record starts (the :class:`Frame`'s run).
        contexts: SSL contexts shared across runs (lean runs only; see
            :class:`ContextCache`); None: fresh ones.

    Returns:
        The verdict and the schedule that drove it (its ``applied`` atoms).

    Raises:
        Skipped: when the scenario does not run here (its ``requires``, a missing stack).
    """
    keep: list[ExploreSchedule] = []
    fit = None if full else fitted(scenario)
    verdict = run_scenario(scenario if fit is None else fit, record=True, protocol=full,
                           schedule=_schedule_factory(scenario, spec, point, observe, keep),
                           contexts=None if full or contexts is None
                           else contexts.for_scenario, summary=full, fitted=fit is not None)
    for made in keep:
        made.detach()
    if verdict.skipped is not None:
        raise Skipped(verdict.skipped)
    return verdict, keep[0]


def run_point(scenario: Scenario, spec: ExploreSpec, point: Sequence[Atom],
              index: int = 0, contexts: ContextCache | None = None) -> RunReport:
    """Run one point and judge it; a harness exception is a refutation, not a crash.

    Returns:
        The :class:`RunReport`.
    """
    try:
        verdict, schedule = run_once(scenario, spec, point, contexts=contexts)
    except (ScenarioError, Skipped):
        raise
    except Exception:
        tb = traceback.format_exc()
        return RunReport(index, format_schedule(point), "harness exception",
                         tb.strip().splitlines()[-1], "harness exception")
    why = refutation(verdict, spec)
    return RunReport(index, format_schedule(schedule.applied), behaviour(verdict),
                     why[1] if why else None, why[0] if why else None,
                     len(verdict.trace.calls))


def contexts_for(scenario: Scenario, spec: ExploreSpec) -> ContextCache:
    """This process's context cache for a scenario (:func:`cache_for`),
    proven on the unsplit run: on fresh contexts and twice on cached ones it must make the
    same calls, else every run builds fresh contexts."""
    return cache_for(scenario, lambda c: run_once(scenario, spec, (), contexts=c)[0])


def frame_of(scenario: Scenario, spec: ExploreSpec) -> tuple[Frame, Verdict]:
    """Run the scenario as written and read the space's coordinates from it.

    Returns:
        The :class:`Frame` and the unsplit run's verdict.
    """
    verdict, schedule = run_once(scenario, spec, (), observe=True)
    free = [d for d in DIRECTIONS if d in spec.links]
    return Frame(tuple((d, tuple(schedule.flights[d])) for d in free),
                 tuple((d, tuple(schedule.starts[d])) for d in free),
                 schedule.rounds, schedule.multi_rounds), verdict


# -- SSL contexts shared across runs --------------------------------------------------------
# SSL contexts shared by the many runs of one search (explore, sweep).
#
# Building a pyOpenSSL ``Context`` (SSL_CTX_new, loading the certificate, key and trust
# store) costs about as much as a third of a whole-buffer TLS 1.3 handshake; a search makes
# thousands of runs of one scenario with the same settings.  A :class:`ContextCache` builds
# each endpoint's Context once and hands the same one to every later run.
#
# When is that safe?  pyOpenSSL 26 refuses changes to a Context once a Connection used it,
# and nothing biopair sets per run touches the Context (SNI, the verified host, the session
# to offer, post-handshake auth and modes are set on the Connection).  What a Context does
# carry from run to run is its session cache and its ticket keys:
#
# * a scenario that resumes a session (``resume = true``) builds its own Contexts so the
#   priming pair and the scenario's share ticket keys: it never gets cached ones
#   (:func:`reusable` says no), and an endpoint with a ``session`` to offer is never given
#   one either;
# * otherwise the client offers no session (biopair never calls ``set_session`` without
#   one), so what the server's cache remembers from earlier runs is never asked for, and
#   the ticket keys change the tickets' bytes, never their length.
#
# ``tests/search/test_explore_contexts.py`` runs every shipped scenario on fresh and on
# reused contexts and checks that the calls (op, return value, error, bytes sent and
# taken, reasons) and the streams are identical; :meth:`ContextCache.proves` makes the
# same check at the start of every search, so a scenario where reuse would change
# anything falls back to fresh contexts.  Only contexts without protocol-trace hooks are
# cached (the hooks must be in place before first use, and a search records the protocol
# only for the reported run).

#: A run's fingerprint: what reuse must not change.
Fingerprint = tuple[Any, ...]


def reusable(scenario: Scenario) -> bool:
    """Whether a scenario's runs may share contexts (no resumption)."""
    return not scenario.resume


def fingerprint(verdict: Verdict) -> Fingerprint:
    """What a run did, for comparing fresh against reused contexts: every call's endpoint,
    op, return value, error name, reasons, bytes sent and taken, and the failures."""
    calls = tuple((c.endpoint, c.op, c.ret, c.error, tuple(c.reasons), c.sent, c.consumed)
                  for c in verdict.trace.calls)
    return calls, tuple((f.key, f.actual) for f in verdict.failures)


class ContextCache:
    """One Context per pyOpenSSL endpoint configuration, built on first use.

    Attributes:
        enabled: False once reuse was found to change a run (then it hands out nothing,
            and every run builds fresh contexts as before).
        built: Contexts built so far.
    """

    def __init__(self) -> None:
        self.enabled = True
        self.built = 0
        self._cache: dict[EndpointConfig, Any] = {}
        self._last: tuple[EndpointConfig, EndpointConfig, dict[str, Any]] | None = None

    def _get(self, cfg: EndpointConfig) -> Any:
        ctx = self._cache.get(cfg)
        if ctx is None:
            ctx = self._cache[cfg] = build_context(cfg)
            self.built += 1
        return ctx

    def for_scenario(self, scenario: Scenario) -> Mapping[str, Any]:
        """The contexts for a fitted scenario's endpoints (empty: build fresh ones).

        Only pyOpenSSL endpoints without a session to offer get one; a scenario that
        resumes gets none (it shares its own between its priming pair and its run).
        """
        if not self.enabled or not reusable(scenario):
            return {}
        client, server = scenario.client, scenario.server
        # A search's runs fit the same scenario again and again: the endpoint settings
        # are the same objects each time, so the last answer is kept by identity
        # (hashing an EndpointConfig costs more than the lookup saves).
        last = self._last
        if last is not None and last[0] is client and last[1] is server:
            return last[2]
        found = {cfg.role: self._get(cfg) for cfg in (client, server)
                 if cfg.stack == "pyopenssl" and cfg.session is None}
        self._last = (client, server, found)
        return found

    def proves(self, fresh: Fingerprint, run: Callable[[], Fingerprint],
               times: int = 2) -> bool:
        """Check that ``times`` runs on cached contexts match a fresh run's fingerprint;
        if not, turn reuse off.  Returns whether reuse stays on."""
        if self.enabled:
            for _ in range(times):
                if run() != fresh:
                    self.enabled = False
                    self._cache.clear()
                    self._last = None
                    break
        return self.enabled


#: Per process: the cache of each scenario seen lately (path -> scenario, cache).
_CACHES: dict[str, tuple[Scenario, ContextCache]] = {}
#: Scenarios whose caches a process keeps.
KEPT = 16


def cache_for(scenario: Scenario,
              run: Callable[[ContextCache | None], Verdict]) -> ContextCache:
    """This process's context cache for a scenario, proven on first use.

    Args:
        run: runs the scenario as the search would (its unsplit, unfaulted run), on the
            given cache or (None) on fresh contexts.

    The fresh run and two runs on the cache must have the same :func:`fingerprint`, else
    the cache stays off for this scenario (every run then builds fresh contexts); a
    scenario that resumes a session never gets one.
    """
    hit = _CACHES.get(scenario.path)
    if hit is not None and hit[0] == scenario:
        return hit[1]
    cache = ContextCache()
    if not reusable(scenario):
        cache.enabled = False
    else:
        try:
            fresh = fingerprint(run(None))
            cache.proves(fresh, lambda: fingerprint(run(cache)))
        except Skipped:
            raise
        except Exception:  # a run that raises is the search's to report, on fresh contexts
            cache.enabled = False
    if len(_CACHES) >= KEPT:
        _CACHES.pop(next(iter(_CACHES)))
    _CACHES[scenario.path] = (scenario, cache)
    return cache


# -- shards ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shard:
    """A slice of the search: points ``start..stop`` of one mode.

    Attributes:
        mode: ``"exhaustive"`` (the canonical order), ``"random"`` (seed ``seed``'s
            sequence: its points are given in ``schedules``, since which draws are new
            depends on every draw before) or ``"list"`` (the schedule strings in
            ``schedules``).
        frame: the space's coordinates (computed once, by whoever splits the work).
        index_base: the report index of point ``start``.
        reuse: share SSL contexts between the runs where that is proven not to change
            them (:func:`contexts_for`); False: fresh contexts for every run.
    """

    mode: str
    start: int
    stop: int
    frame: Frame
    seed: int = 0
    schedules: tuple[str, ...] = ()
    index_base: int = 0
    reuse: bool = True


def shard_points(spec: ExploreSpec, shard: Shard) -> list[Point]:
    """The points of a shard, in order."""
    if shard.mode == "exhaustive":
        return list(Space(spec, shard.frame).exhaustive(shard.start, shard.stop))
    return [parse_schedule(s) for s in shard.schedules[shard.start:shard.stop]]


def random_slice(space: Space, seed: int, start: int, stop: int) -> Shard:
    """Points ``start..stop`` of seed ``seed``'s sequence as one shard (a pytest shard
    item's; it draws the ``stop`` points before it)."""
    texts = tuple(format_schedule(p)
                  for p in itertools.islice(space.random_points(seed), start, stop))
    return Shard("random", 0, len(texts), space.frame, seed, schedules=texts,
                 index_base=start)


def random_shards(space: Space, seed: int, budget: int, chunk: int,
                  index_base: int = 0, ended: dict[str, int] | None = None
                  ) -> Iterator[Shard]:
    """The first ``budget`` points of seed ``seed``'s sequence (:meth:`Space.random_points`)
    in shards of ``chunk``, made as they are asked for (a ``--time`` search draws no more
    than it runs); ``ended`` as for :meth:`Space.random_points`."""
    points = space.random_points(seed, ended)
    done = 0
    while done < budget:
        batch = tuple(format_schedule(p)
                      for p in itertools.islice(points, min(chunk, budget - done)))
        if not batch:
            return
        yield Shard("random", 0, len(batch), space.frame, seed, schedules=batch,
                    index_base=index_base + done)
        done += len(batch)


def run_shard(scenario: Scenario, spec: ExploreSpec, shard: Shard) -> list[RunReport]:
    """Run every point of a shard (a pure function: same arguments, same reports).

    Returns:
        One :class:`RunReport` per point, in order.
    """
    contexts = contexts_for(scenario, spec) if shard.reuse else None
    return [run_point(scenario, spec, p, shard.index_base + i, contexts)
            for i, p in enumerate(shard_points(spec, shard))]


_LOADED: dict[str, tuple[float, int, Scenario]] = {}


def _load(path: str) -> Scenario:
    # A worker loads each scenario once (again only if the file changed), and keeps the
    # last few.
    st = os.stat(path)
    hit = _LOADED.get(path)
    if hit is not None and hit[:2] == (st.st_mtime, st.st_size):
        return hit[2]
    scenario = load_scenario(path)
    if len(_LOADED) >= KEPT:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[path] = (st.st_mtime, st.st_size, scenario)
    return scenario


def _worker(args: tuple[str, ExploreSpec, Shard]) -> list[RunReport]:
    path, spec, shard = args
    return interrupt.worker_task(lambda: run_shard(_load(path), spec, shard))


def _worker_points(args: tuple[str, ExploreSpec, tuple[str, ...]]) -> list[RunReport]:
    path, spec, schedules = args
    return interrupt.worker_task(lambda: [
        run_point(_load(path), spec, parse_schedule(text),
                  contexts=contexts_for(_load(path), spec)) for text in schedules])


class WorkerPool:
    """Worker processes kept for the life of the process: forked once, they serve every
    shard of every search and the shrinker's candidates, and each loads a scenario and
    builds its contexts once (:func:`_load`, :func:`contexts_for`).

    Workers are set up by :func:`biopair.search.interrupt.worker_setup`; a search that is
    interrupted (or fails) terminates the pool, and the next one starts a new pool.
    """

    _pool: Pool | None = None
    _jobs = 0
    _registered = False

    @classmethod
    def get(cls, jobs: int) -> Pool:
        """The pool with ``jobs`` workers (a pool of another size is replaced)."""
        if cls._pool is not None and cls._jobs != jobs:
            cls.close()
        if cls._pool is None:
            ctx = interrupt.pool_context()
            with interrupt.blocked():
                cls._pool = ctx.Pool(jobs, initializer=interrupt.worker_setup)
            cls._jobs = jobs
            if not cls._registered:
                atexit.register(cls.close)
                cls._registered = True
        return cls._pool

    @classmethod
    def close(cls) -> None:
        """Terminate the workers (safe to call twice)."""
        pool, cls._pool = cls._pool, None
        if pool is not None:
            pool.terminate()
            pool.join()


# -- shrinking -------------------------------------------------------------------------------
def shrink(scenario: Scenario, spec: ExploreSpec, found: RunReport,
           max_runs: int = SHRINK_RUNS, jobs: int = 1) -> tuple[Point, int]:
    """Shrink a refuting schedule: fewest atoms, then smallest offsets and rounds, keeping
    the failure's kind.  Deterministic: every step is a fixed sequence of runs.

    With ``jobs`` > 1 each pass that drops one atom runs its candidates on the
    :class:`WorkerPool` and takes the first that still fails (in candidate order), so
    the result and the run count are the same as in one process.

    Returns:
        The minimal point found and the runs it took.
    """
    runs = 0
    contexts = contexts_for(scenario, spec)

    def fails(atoms: Sequence[Atom]) -> bool:
        nonlocal runs
        runs += 1
        return run_point(scenario, spec, canonical(atoms), contexts=contexts).kind == found.kind

    def first_failing(candidates: Iterator[list[Atom]]) -> int | None:
        # The index of the first candidate that fails the same way; runs counted as if
        # they had been made one by one, stopping there.  Only the candidates the runs
        # left can try are built (building all n of n - 1 atoms each, in every pass, made
        # a schedule of n atoms cost O(n^3) before its first run).
        nonlocal runs
        batch = [] if jobs <= 1 else list(itertools.islice(candidates,
                                                           max(0, max_runs - runs)))
        if len(batch) < 2:
            for i, candidate in enumerate(batch if jobs > 1 else candidates):
                if runs >= max_runs:
                    return None
                if fails(candidate):
                    return i
            return None
        texts = [(format_schedule(canonical(c)),) for c in batch]
        pool = WorkerPool.get(jobs)
        try:
            results = pool.map(_worker_points, [(scenario.path, spec, t) for t in texts])
        except BaseException:
            WorkerPool.close()
            raise
        for i, [r] in enumerate(results):
            runs += 1
            if r.kind == found.kind:
                return i
        return None

    atoms = list(parse_schedule(found.schedule))
    while runs < max_runs:
        hit = first_failing(atoms[:i] + atoms[i + 1:] for i in range(len(atoms)))
        if hit is None:
            break
        atoms = atoms[:hit] + atoms[hit + 1:]
    for i in range(len(atoms)):
        a = atoms[i]
        value = a.offset if isinstance(a, Split) else a.round
        lo, hi = (1 if isinstance(a, Split) else 0), value
        while lo < hi and runs < max_runs:
            mid = (lo + hi) // 2
            trial: Atom = (Split(a.link, a.flight, mid) if isinstance(a, Split)
                           else Swap(mid) if isinstance(a, Swap) else Pause(a.link, mid))
            candidate = [*atoms[:i], trial, *atoms[i + 1:]]
            if trial not in atoms and fails(candidate):
                hi = mid
                atoms = candidate
            else:
                lo = mid + 1
    return canonical(atoms), runs


# -- the minimal counterexample as a scenario file --------------------------------------------
def deliver_lists(schedule: ExploreSchedule) -> dict[int, dict[str, list[int]]] | None:
    """Per run step and link, the ``deliver`` list that makes the scenario's own schedule
    move the same bytes as ``schedule`` did.

    Returns:
        ``{step index: {direction: sizes}}`` for the links and steps where a move handed
        over less than was queued (each list then delivers all), or None when the schedule
        has a swap or a pause, which no delivery policy states.
    """
    if any(not isinstance(a, Split) for a in schedule.applied):
        return None
    per_step: dict[int, dict[str, list[tuple[int, MoveChoice]]]] = {}
    for step, link, queued, size in schedule.moves:
        if step is None:
            return None
        per_step.setdefault(step, {}).setdefault(link, []).append((queued, size))
    out: dict[int, dict[str, list[int]]] = {}
    for step, links in sorted(per_step.items()):
        for link, moves in links.items():
            split = [i for i, (q, size) in enumerate(moves)
                     if isinstance(size, int) and size < q]
            if not split:
                continue
            sizes = [size if isinstance(size, int) and size < q else q for q, size in moves]
            out.setdefault(step, {})[link] = sizes[:split[-1] + 1]
    return out


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(doc: dict[str, Any]) -> str:
    """A parsed scenario document written back as TOML (tables, arrays of tables, inline
    values); deterministic: keys keep the document's order."""
    lines: list[str] = []

    def table(prefix: str, body: dict[str, Any], array: bool = False) -> None:
        plain = {k: v for k, v in body.items()
                 if not isinstance(v, dict) and not (isinstance(v, list) and v
                                                     and all(isinstance(x, dict) for x in v))}
        if prefix:
            lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in plain.items())
        lines.append("")
        for k, v in body.items():
            name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
            if isinstance(v, dict):
                table(name, v)
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                for item in v:
                    table(name, item, array=True)

    table("", doc)
    return "\n".join(lines).rstrip() + "\n"


def counterexample_file(scenario: Scenario, schedule: ExploreSchedule, text: str,
                        failure: str) -> str | None:
    """The minimal counterexample as an ordinary scenario: the original file, without
    ``[explore]``, each run step that a split changed given the ``deliver`` list that
    reproduces its moves.

    Returns:
        The TOML text, or None when a scenario file cannot state the schedule.
    """
    lists = deliver_lists(schedule)
    if lists is None:
        return None
    with open(scenario.path, "rb") as fh:
        doc = tomllib.load(fh)
    doc.pop("explore", None)
    for step, per_link in lists.items():
        raw = doc["steps"][step]
        base = raw.get("deliver", doc.get("schedule", {}).get("deliver", "all"))
        policy: dict[str, Any] = {d: base for d in DIRECTIONS if base != "all"}
        policy.update(per_link)
        raw["deliver"] = {d: policy[d] for d in DIRECTIONS if d in policy}
    doc["title"] = f"explore counterexample: {scenario.title}"
    doc["about"] = (f"Written by `biopair explore {scenario.path}`: the schedule {text} "
                    f"refutes the scenario ({failure}). Each listed run step delivers its "
                    f"moves in the sizes given; everything else is the original file.\n\n"
                    + str(doc.get("about", ""))).strip()
    return to_toml(doc)


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file, then a rename); never
    through a symlink.

    Raises:
        OSError: when ``path`` is a symlink or cannot be written.
    """
    target = Path(path)
    if target.is_symlink():
        raise OSError(f"{target}: is a symlink; not writing through it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- the store of failures ---------------------------------------------------------------------
def store_path(scenario: Scenario, root: Path = STORE_DIR) -> Path:
    """Where a scenario's failing schedules are kept (one per line)."""
    digest = hashlib.sha256(os.path.abspath(scenario.path).encode()).hexdigest()[:12]
    return root / f"{scenario.name}-{digest}.txt"


#: The most a store file may hold (100 lines of schedules); a larger one is ignored.
STORE_LIMIT = 1 << 16


def stored(scenario: Scenario, root: Path = STORE_DIR) -> list[str]:
    """The stored failing schedules of a scenario (unreadable lines are skipped).

    A store that is not a regular file (a symlink, a FIFO: never opened in a way that
    blocks), or over :data:`STORE_LIMIT` bytes, holds none.
    """
    try:
        raw = files.read_regular(store_path(scenario, root), limit=STORE_LIMIT)
        lines = [] if raw is None else raw.decode().splitlines()[:100]
    except (files.FileRefused, OSError, UnicodeDecodeError):
        return []
    good = []
    for line in lines:
        try:
            parse_schedule(line)
        except ValueError:
            continue
        good.append(line.strip())
    return list(dict.fromkeys(good))


def remember(scenario: Scenario, schedule: str, root: Path = STORE_DIR) -> None:
    """Add a failing schedule to the store (first in line for next time)."""
    kept = [schedule, *(s for s in stored(scenario, root) if s != schedule)][:100]
    write_atomic(store_path(scenario, root), "\n".join(kept) + "\n")


# -- the search ------------------------------------------------------------------------------
@dataclass
class ExploreReport:
    """Everything one exploration found.

    Attributes:
        runs: every run, in index order, when the search was asked to keep them
            (``keep_runs``); else empty: the classes, their counts and first examples and
            the first refutation are kept as runs arrive (a long ``--time`` search holds
            what it found, not a report per run).
        schedules: runs made.
        space: the space searched.
        mode: ``"exhaustive"`` or ``"random"``; seed: the random seed.
        covered: points of the mode's order that were run (stored ones not counted).
        counterexample: the shrunk refuting schedule's report, or None.
        shrunk_from: the first refuting schedule before shrinking.
        interrupted: the search was stopped by a signal.
    """

    path: str
    space: Space
    mode: str
    seed: int
    jobs: int
    runs: list[RunReport] = field(default_factory=list)
    schedules: int = 0
    covered: int = 0
    seconds: float = 0.0
    counterexample: RunReport | None = None
    shrunk_from: str | None = None
    shrink_runs: int = 0
    interrupted: bool = False
    #: the signal that interrupted it (``"SIGINT"``, ``"SIGTERM"``), or None.
    signal: str | None = None
    #: a random search ended before its budget: its sequence ran dry (DRY_DRAWS).
    dry: bool = False
    verdict: Verdict | None = None
    out: str | None = None
    out_note: str | None = None
    #: the schedule of the shrunk counterexample's full run (its moves, for ``--out``).
    schedule: ExploreSchedule | None = None
    keep_runs: bool = False
    _found: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    _first_failure: RunReport | None = field(default=None, repr=False)

    def add(self, results: Sequence[RunReport]) -> None:
        """Count runs that arrived (in index order) into their classes."""
        found = self._found
        for r in results:
            key = r.klass + (f"  [refutes: {r.kind}]" if r.kind else "")
            entry = found.get(key)
            if entry is None:
                found[key] = [1, r]
            else:
                entry[0] += 1
            if r.failure is not None and self._first_failure is None:
                self._first_failure = r
        self.schedules += len(results)
        if self.keep_runs:
            self.runs.extend(results)

    def classes(self) -> list[tuple[str, int, RunReport]]:
        """Behaviour classes: ``(class, count, first example)``, most frequent first."""
        return sorted(((k, v[0], v[1]) for k, v in self._found.items()),
                      key=lambda kv: (-kv[1], kv[2].index))

    def first_failure(self) -> RunReport | None:
        """The refuting run with the lowest index."""
        return self._first_failure

    def replay_command(self) -> str:
        """The one command that replays the counterexample."""
        if self.counterexample is None:
            return ""
        if self.out:
            return f"biopair run {self.out}"
        return f"biopair explore {self.path} --replay '{self.counterexample.schedule}'"

    def coverage(self) -> str:
        """How much of the space was run."""
        if self.mode != "exhaustive":
            text = (f"{self.covered} random schedules (seed {self.seed}) of "
                    f"{count_text(self.space.size)}")
            if self.covered >= self.space.size:
                return text + " (the whole space)"
            if self.dry:
                return text + f" (the sequence ran dry: {DRY_DRAWS} draws in a row repeated " \
                    "earlier schedules)"
            return text
        done, complete = self.covered, -1
        for level in range(self.space.most + 1):
            count = self.space.level(level)
            if done >= count:
                done -= count
                complete = level
            else:
                break
        whole = " (the whole space)" if self.covered >= self.space.size else ""
        levels = (f"; every schedule with at most {complete} change"
                  f"{'s' * (complete != 1)}" if complete >= 0 and not whole else "")
        return f"{self.covered} of {count_text(self.space.size)} schedules{whole}{levels}"

    def summary(self) -> str:
        """What ``biopair explore`` prints."""
        lines = [f"explore {self.path}: {self.space.describe()}",
                 f"  ran {self.schedules} schedules in {self.seconds:.1f} s, "
                 f"{self.jobs} job{'s' * (self.jobs != 1)}: {self.coverage()}"]
        classes = self.classes()
        lines.append(f"  {len(classes)} behaviour class{'es' * (len(classes) != 1)}:")
        width = len(str(max((c for _, c, _ in classes), default=1)))
        for klass, count, example in classes:
            lines.append(f"  {count:>{width}}  {klass}")
            lines.append(f"  {'':>{width}}    e.g. {example.schedule}")
        if self.interrupted:
            lines.append(f"interrupted by {self.signal}" if self.signal else "interrupted")
        ce = self.counterexample
        if ce is None:
            lines.append("no counterexample in " + ("the space" if self.covered >=
                                                      self.space.size else "the budget"))
            return "\n".join(lines)
        lines.append(f"counterexample: {ce.schedule}  (shrunk from {self.shrunk_from} in "
                     f"{self.shrink_runs} runs)")
        lines.append(f"  {ce.failure}")
        if self.verdict is not None and self.verdict.failures:
            lines.append(self.verdict.report())
        if self.out:
            lines.append(f"wrote {self.out}")
        elif self.out_note:
            lines.append(self.out_note)
        lines.append(f"replay: {self.replay_command()}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``biopair explore --json`` prints."""
        ce = self.counterexample
        return {
            "file": self.path, "mode": self.mode, "seed": self.seed, "jobs": self.jobs,
            "space": {"size": count_json(self.space.size),
                      "levels": [count_json(self.space.level(n))
                                 for n in range(min(self.space.most, LEVELS_SHOWN) + 1)],
                      "most_changes": self.space.most,
                      "flights": {d: list(ls) for d, ls in self.space.frame.flights},
                      "rounds": self.space.frame.rounds},
            "schedules": self.schedules, "covered": self.covered,
            "seconds": round(self.seconds, 3), "interrupted": self.interrupted,
            "signal": self.signal,
            "ran_dry": self.dry,
            "classes": [{"class": k, "count": c, "example": e.schedule,
                         "refutes": e.kind} for k, c, e in self.classes()],
            "counterexample": None if ce is None else {
                "schedule": ce.schedule, "failure": ce.failure, "kind": ce.kind,
                "shrunk_from": self.shrunk_from, "file": self.out,
                "replay": self.replay_command()},
        }


def check_explorable(scenario: Scenario) -> None:
    """Refuse what the explorer cannot vary.

    Raises:
        ScenarioError: for a record-wise delivery policy (its sizes are stop points, not
            counts, so a split cannot cut them).
    """
    if scenario.deliver == "records" or (isinstance(scenario.deliver, Mapping)
                                         and "records" in scenario.deliver.values()):
        raise ScenarioError(scenario.path, "schedule.deliver",
                            '"records" cannot be explored (a move\'s size is a stop point)')
    for step in scenario.steps:
        if isinstance(step, RunStep) and (step.deliver == "records" or (
                isinstance(step.deliver, Mapping) and "records" in step.deliver.values())):
            raise ScenarioError(scenario.path, f"steps[{step.index + 1}].deliver",
                                '"records" cannot be explored (a move\'s size is a stop '
                                'point)')


def explore(
    scenario: Scenario,
    spec: ExploreSpec | None = None,
    *,
    exhaustive: bool = False,
    seed: int = 0,
    budget: int | None = None,
    seconds: float | None = None,
    jobs: int = 1,
    store: Path | None = STORE_DIR,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 16,
    keep_runs: bool = False,
) -> ExploreReport:
    """Search a scenario's schedule space for a schedule that refutes it.

    Args:
        scenario: the scenario (loaded from a file: workers reload it by path).
        spec: the space (default: the scenario's ``[explore]``, else the defaults).
        exhaustive: the canonical order instead of seed ``seed``'s random sequence.
        budget: at most this many schedules (default: the whole space when exhaustive,
            else :data:`DEFAULT_BUDGET`; with ``seconds``, :data:`MAX_BUDGET`); seconds:
            stop starting new
            ones after this long.
        keep_runs: also keep every run's report in ``runs`` (tests, comparisons); the
            classes and the first refutation are kept either way.
        jobs: worker processes (1: in this process); the result is the same.
        store: the failure store's directory (None: neither read nor written).
        progress: called with (schedules run, classes so far).

    Returns:
        The :class:`ExploreReport` (its counterexample shrunk).
    """
    start = time.monotonic()
    spec = spec or scenario.explore or ExploreSpec()
    check_explorable(scenario)
    frame, _ = frame_of(scenario, spec)
    space = Space(spec, frame)
    if budget is None:
        budget = (min(space.size, MAX_BUDGET) if exhaustive or seconds is not None
                  else DEFAULT_BUDGET)
    total = min(budget, space.size) if exhaustive else budget
    report = ExploreReport(scenario.path, space, "exhaustive" if exhaustive else "random",
                           seed, jobs, keep_runs=keep_runs)
    # Stored schedules outside this space's bounds (another spec's, or a hand-edited
    # store) are not its points: skipped, so no store makes a search or its shrinker
    # handle more atoms than a point can hold.
    old = [s for s in (stored(scenario, store) if store is not None else [])
           if space.contains(parse_schedule(s))]
    base = len(old)
    ended: dict[str, int] = {}  # how the random sequence ended, if it did
    searched: Iterator[Shard] = (
        (Shard("exhaustive", lo, min(lo + chunk, total), frame, index_base=base + lo)
         for lo in range(0, total, chunk)) if exhaustive
        else random_shards(space, seed, total, chunk, base, ended))
    shards = itertools.chain(
        [Shard("list", 0, len(old), frame, schedules=tuple(old))] if old else [], searched)
    deadline = None if seconds is None else start + seconds

    def take(results: list[RunReport]) -> None:
        report.add(results)
        report.covered += sum(r.index >= base for r in results)  # stored ones not counted
        if progress is not None:
            progress(report.schedules, len(report._found))

    try:
        if jobs <= 1:
            for shard in shards:
                if deadline is not None and time.monotonic() > deadline:
                    break
                take(run_shard(scenario, spec, shard))
        else:
            pool = WorkerPool.get(jobs)
            # The pool's task thread draws shards (a random sequence's points) as it hands
            # them out, at most ``ahead`` before the results taken: a long search queues
            # what the workers are about to run, not its whole budget.
            ahead = threading.Semaphore(4 * jobs)
            done = threading.Event()
            handed = [0, False]  # shards handed out; whether that was the last of them

            def fed() -> Iterator[tuple[str, ExploreSpec, Shard]]:
                for shard in shards:
                    while not ahead.acquire(timeout=0.05):
                        if done.is_set():
                            return
                    if done.is_set():
                        return
                    handed[0] += 1
                    yield scenario.path, spec, shard
                handed[1] = True

            try:
                for taken, results in enumerate(pool.imap(_worker, fed()), 1):
                    ahead.release()
                    take(results)
                    if handed[1] and taken == handed[0]:
                        break  # that was the last: nothing to abandon, whatever the time
                    if deadline is not None and time.monotonic() > deadline:
                        # The rest are abandoned: a fresh pool serves the next search.
                        done.set()
                        WorkerPool.close()
                        break
            except BaseException:
                done.set()
                WorkerPool.close()
                raise
            done.set()
    except KeyboardInterrupt:
        report.interrupted, report.signal = True, "SIGINT"
    except interrupt.Interrupted as exc:
        report.interrupted, report.signal = True, interrupt.signal_name(exc.signum)
    # Dry: the sequence itself ended so, and every point it gave was run (a deadline or a
    # signal after its last point does not hide it).
    report.dry = (bool(ended.get("dry")) and not report.interrupted
                  and report.covered == ended["points"])
    first = report.first_failure()
    if first is not None and not report.interrupted:
        try:
            _shrunk(report, scenario, spec, first, jobs, store)
        except KeyboardInterrupt:
            report.interrupted, report.signal = True, "SIGINT"
        except interrupt.Interrupted as exc:
            report.interrupted, report.signal = True, interrupt.signal_name(exc.signum)
        if report.interrupted:  # stopped while shrinking: the refutation as found
            report.counterexample, report.shrunk_from = first, first.schedule
            report.verdict = report.schedule = None
    elif first is not None:
        report.counterexample = first
        report.shrunk_from = first.schedule
    report.seconds = time.monotonic() - start
    return report


def _shrunk(report: ExploreReport, scenario: Scenario, spec: ExploreSpec, first: RunReport,
            jobs: int, store: Path | None) -> None:
    # Shrink the first refutation, run the result in full and put it in the report.
    point, report.shrink_runs = shrink(scenario, spec, first, jobs=jobs)
    verdict, schedule = run_once(scenario, spec, point, full=True)
    why = refutation(verdict, spec)
    if why is None:  # pragma: no cover - shrinking only keeps refuting points
        point, (verdict, schedule) = (parse_schedule(first.schedule),
                                      run_once(scenario, spec,
                                               parse_schedule(first.schedule), full=True))
        why = refutation(verdict, spec)
    text = format_schedule(schedule.applied)
    report.counterexample = RunReport(first.index, text, behaviour(verdict),
                                      why[1] if why else first.failure,
                                      why[0] if why else first.kind,
                                      len(verdict.trace.calls))
    report.shrunk_from = first.schedule
    report.verdict = verdict
    report.schedule = schedule
    if store is not None:
        remember(scenario, text, store)


def write_out(report: ExploreReport, scenario: Scenario, out: str) -> bool:
    """Write the report's counterexample as a scenario file at ``out``.

    Returns:
        True if written; False (with ``report.out_note`` saying why) when the schedule
        needs a swap or a pause, which a scenario file cannot state.

    A run step whose own ``deliver`` is a per-link table, or a scenario whose base policy
    is a list, is written with the recorded sizes of the split links only.
    """
    ce = report.counterexample
    schedule = report.schedule
    if ce is None or schedule is None:
        return False
    text = counterexample_file(scenario, schedule, ce.schedule, ce.failure or "")
    if text is None:
        report.out_note = (f"not written: {out}: the schedule {ce.schedule} needs a turn "
                           f"swap or a pause, which a scenario file's deliver lists cannot "
                           f"state")
        return False
    write_atomic(out, text)
    report.out = out
    return True
