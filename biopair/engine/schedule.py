"""The schedule: every choice a run makes, in one object.

Theory of operation
-------------------
A run (:mod:`biopair.engine.runloop`) is a loop of *rounds*.  In a round every entry that
has not finished takes a turn; a turn is one or more SSL calls on that entry's endpoint,
and after every call the links *move*: each hands some of its queued bytes to its
receiver.  The loop itself only keeps the rules that make a run a measurement -- an entry
finishes when its call returns anything but WANT_*, a partial write goes on with the rest,
a round in which nothing changed is a DEADLOCK, the call cap is a LIMIT.  Every *choice*
is the schedule's:

* :meth:`Schedule.turn_order` -- in which order the running entries take their turns this
  round (default: the order they were given);
* :meth:`Schedule.keep_turn` -- after a call that left its entry running, whether the
  same entry is called again at once (``turns = "alternate"``: never; ``"drain"``: while
  its calls make progress);
* :meth:`Schedule.move` -- after every call, for each link (in direction order) that has
  something to hand over (bytes queued, or an EOF still to reach its receiver): whether
  it moves now and how many bytes it hands over (the delivery policy: all, bytewise, N
  bytes, a list of sizes then all, one record at a time), or :data:`NO_MOVE`.  The
  default moves every such link that is neither paused nor held; a paused or held link
  does not move until a ``resume`` or its hold condition releases it.

A run reads :meth:`Schedule.fixed` once before it starts: the answers a schedule gives
whatever it is asked (the default's move size for a policy that is not a list, its turn
order, its ``alternate`` turns) are then taken from there rather than asked after every
call -- the hot path of a bytewise run.  Overriding a method un-fixes its answer, so a
subclass is asked every time without doing anything more.

The loop asks nothing else, so a schedule that answers differently -- an explorer that
varies split points, turn order and when a link moves -- drives the very same loop
(there is no second code path).  A schedule sees the links through :class:`LinkState`
(read-only facts) and the entries through :class:`Turn`; it never calls SSL or moves
bytes itself.

:class:`Schedule` is the default implementation and the base class: subclass it and
override one method to change one kind of choice.  A pair keeps one schedule for its
life (``Pair.schedule``, built from its ``deliver`` and ``turns``; a list policy's
position carries over from run to run); ``Pair.run(schedule=...)`` drives one run with
another, and ``Pair.run(deliver=...)`` with a fresh copy of the pair's turn rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Final, Literal, NamedTuple, Protocol, TypeVar

from biopair.transport.link import DIRECTIONS

#: Delivery policy names (``records``: one whole TLS record per move).
DELIVER_NAMES = ("all", "bytewise", "records")
#: Turn-taking rules for a run.
TURNS = ("alternate", "drain")

#: One link's delivery policy: a name of :data:`DELIVER_NAMES`, bytes per move, or a list
#: of sizes (one per move, then all).
LinkDeliver = str | int | Sequence[int]
#: A delivery policy: one policy for both links, or one per direction (a direction left
#: out delivers all); a list of sizes counts each link's moves on its own.
Deliver = LinkDeliver | Mapping[str, LinkDeliver]
#: How many bytes one move hands over: None (everything queued), a count (0: none, but an
#: EOF may reach the receiver), or a stop point (``"record"``: up to the end of the current
#: record; see :data:`biopair.tls.framing.STOPS`).
Size = int | str | None


class _NoMove(Enum):
    NO_MOVE = "no move"


#: What :meth:`Schedule.move` answers for a link that does not move now.
NO_MOVE: Final = _NoMove.NO_MOVE
#: A schedule's answer for one link: a :data:`Size`, or :data:`NO_MOVE`.
MoveChoice = Size | Literal[_NoMove.NO_MOVE]


class LinkState(Protocol):
    """What a schedule may read about a link (the links implement it)."""

    @property
    def name(self) -> str:
        """``client>server`` or ``server>client``."""
        ...

    @property
    def queue(self) -> bytearray:
        """Bytes pulled from the sender, not yet delivered (read them; do not change them)."""
        ...

    @property
    def delivered(self) -> int:
        """Bytes handed to the receiver so far (with :attr:`queue`: where a move is in
        the sender's stream; an explorer's split points are counted from it)."""
        ...

    @property
    def paused(self) -> bool:
        """True between ``pause`` and ``resume``."""
        ...

    @property
    def held(self) -> bool:
        """True while a hold condition is unmet."""
        ...

    @property
    def eof(self) -> bool:
        """An EOF was requested on the link."""
        ...

    @property
    def closed(self) -> bool:
        """The receiver already sees the EOF."""
        ...

    @property
    def waits(self) -> bool:
        """The sender's bytes arrive on their own (an external peer)."""
        ...


class Turn(Protocol):
    """What a schedule may read about a run entry (the run loop's per-entry state)."""

    @property
    def endpoint(self) -> str:
        """``client`` or ``server``."""
        ...

    @property
    def op(self) -> str:
        """The entry's op (``connect``, ``read``, ...)."""
        ...

    @property
    def index(self) -> int:
        """Position of the entry in the run's entry list."""
        ...

    @property
    def calls(self) -> int:
        """Calls made for this entry so far in the run."""
        ...


#: The run loop's own per-entry state type, handed back by :meth:`Schedule.turn_order`.
T = TypeVar("T", bound=Turn)


class Delivery:
    """A delivery policy's state: how many bytes the next move on each link hands over.

    Args:
        policy: ``"all"``, ``"bytewise"``, ``"records"``, a positive int, or a list of
            positive ints (one per move on each link, then all); or a mapping from
            direction to one of those (one policy per link; a direction left out: all).
    """

    def __init__(self, policy: Deliver = "all") -> None:
        self.policy = policy
        self._moves: dict[str, int] = dict.fromkeys(DIRECTIONS, 0)
        #: one policy per direction, when ``policy`` is a mapping.
        self.per_link: dict[str, Delivery] | None = None
        if isinstance(policy, Mapping):
            self.per_link = {d: Delivery(policy.get(d, "all")) for d in DIRECTIONS}
        #: True for a list of sizes (they change from move to move).
        self.listed = not isinstance(policy, (str, int))
        #: The size of every move when the policy is not a list.
        self.fixed: Size = (None if policy == "all" else 1 if policy == "bytewise"
                            else "record" if policy == "records"
                            else policy if isinstance(policy, int) else None)

    def next_size(self, direction: str) -> Size:
        """Bytes for the next move on ``direction`` (None: everything queued; ``"record"``:
        up to the end of the current record)."""
        if not self.listed:
            return self.fixed
        if self.per_link is not None:
            return self.per_link[direction].next_size(direction)
        policy = self.policy
        assert not isinstance(policy, (str, int, Mapping))
        index = self._moves[direction]
        self._moves[direction] = index + 1
        return policy[index] if index < len(policy) else None


class Fixed(NamedTuple):
    """The answers a schedule gives whatever it is asked, known before a run starts.

    A run asks its schedule after every call; the answers that cannot vary it takes from
    here once (:meth:`Schedule.fixed`), and asks the schedule for every other.

    Attributes:
        move_known: True if :attr:`move` is what :meth:`Schedule.move` answers for every
            link that has bytes queued and is neither paused nor held.
        move: that answer (meaningful only with ``move_known``).
        keep_turn: what :meth:`Schedule.keep_turn` answers for every turn, or None if
            the answer depends on the turn.
        in_order: True if :meth:`Schedule.turn_order` returns the running entries in
            the order it is given them.
    """

    move_known: bool
    move: Size
    keep_turn: bool | None
    in_order: bool


#: The answer of a schedule that fixes nothing in advance.
ASK_EVERY_TIME = Fixed(False, None, None, False)


class Schedule:
    """The default schedule: today's turn rules and delivery policies.

    Args:
        deliver: the delivery policy (see :class:`Delivery`); its state (the position in
            a list of sizes) lasts as long as the schedule.
        turns: ``"alternate"`` or ``"drain"``.

    Raises:
        ValueError: for an unknown ``turns``.
    """

    def __init__(self, deliver: Deliver = "all", turns: str = "alternate") -> None:
        if turns not in TURNS:
            raise ValueError(f"turns must be one of {TURNS}, not {turns!r}")
        self.delivery = Delivery(deliver)
        self.turns = turns
        self._drain = turns == "drain"
        # Asked after every call: a fixed size is answered without asking the policy.
        self._next_size = self.delivery.next_size
        self._listed = self.delivery.listed
        self._fixed = self.delivery.fixed

    def with_delivery(self, deliver: Deliver) -> Schedule:
        """The same turn rules with another delivery policy (a run's ``deliver=``).

        Returns:
            A new schedule; this one is unchanged.
        """
        return Schedule(deliver, self.turns)

    def fixed(self) -> Fixed:
        """The answers this schedule gives whatever it is asked (a run reads them once).

        The default schedule fixes the size of every move of a delivery policy that is
        not a list, the turn order (as given), and, with ``turns = "alternate"``, that
        no entry keeps its turn.  A subclass that overrides :meth:`move`,
        :meth:`keep_turn` or :meth:`turn_order` fixes that answer no longer (it is asked
        every time) unless it overrides this method too.
        """
        cls = type(self)
        move_known = cls.move is Schedule.move and not self._listed
        keeps = False if cls.keep_turn is Schedule.keep_turn and not self._drain else None
        return Fixed(move_known, self._fixed if move_known else None, keeps,
                     cls.turn_order is Schedule.turn_order)

    def turn_order(self, running: Sequence[T]) -> Sequence[T]:
        """The order in which the running entries take their turns this round.

        Every entry returned gets one turn; an entry left out waits for the next round
        (a schedule must return at least one, or the round cannot make progress).
        """
        return running

    def keep_turn(self, turn: Turn, progressed: bool) -> bool:
        """After a call that left ``turn`` running: call it again before the next entry?

        Args:
            turn: the entry just called.
            progressed: whether that call (or the moves after it) changed anything.
        """
        return self._drain and progressed

    def move(self, link: LinkState) -> MoveChoice:
        """After a call: how many bytes ``link`` hands over now, or :data:`NO_MOVE`.

        Asked for each link, in direction order, that has bytes queued or an EOF still
        to reach its receiver.  The default: :data:`NO_MOVE` while the link is paused or
        held, else the delivery policy's next size (0 for an EOF with nothing queued).
        """
        if link.paused or link.held:
            return NO_MOVE
        if link.queue:
            return self._next_size(link.name) if self._listed else self._fixed
        return 0
