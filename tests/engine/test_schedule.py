"""The schedule: every choice a run makes goes through it, and a custom one is obeyed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from biopair import Pair
from biopair.engine.schedule import (
    NO_MOVE,
    Delivery,
    Fixed,
    LinkState,
    MoveChoice,
    Schedule,
    T,
    Turn,
)
from biopair.engine.trace import Call, MoveEvent
from biopair.outcome import summarize

HANDSHAKE = [("client", "connect"), ("server", "accept")]


def _moves(pair: Pair) -> list[tuple[str, int]]:
    return [(e.direction, e.nbytes) for e in pair.trace.events if isinstance(e, MoveEvent)]


def _calls(pair: Pair) -> list[tuple[str, int | None, str | None, int, int]]:
    return [(c.endpoint, c.ret, c.error, c.sent, c.consumed) for c in pair.trace.calls]


@pytest.mark.parametrize("deliver", ["all", "bytewise", 7, (5, 300), "records"])
@pytest.mark.parametrize("turns", ["alternate", "drain"])
def test_an_explicit_default_schedule_makes_the_same_run(deliver: object, turns: str) -> None:
    with Pair(deliver=deliver, turns=turns) as implicit:  # type: ignore[arg-type]
        implicit.handshake()
    with Pair() as explicit:
        explicit.run(HANDSHAKE, schedule=Schedule(deliver, turns))  # type: ignore[arg-type]
    assert _calls(explicit) == _calls(implicit)
    assert _moves(explicit) == _moves(implicit)


class ThreeThenAll(Schedule):
    """Hands over 3 bytes on the first move of each link, then everything."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def move(self, link: LinkState) -> MoveChoice:
        self.asked.append(link.name)
        first = self.asked.count(link.name) == 1
        return 3 if first else None


def test_a_custom_move_size_is_obeyed() -> None:
    schedule = ThreeThenAll()
    with Pair() as pair:
        result = pair.run(HANDSHAKE, schedule=schedule)
        assert result.terminal is None
        events = [e for e in pair.trace.events if isinstance(e, MoveEvent)]
    firsts: dict[str, MoveEvent] = {}
    for event in events:
        firsts.setdefault(event.direction, event)
    assert {d: e.nbytes for d, e in firsts.items()} == {"client>server": 3,
                                                        "server>client": 3}
    assert all(e.queued > 0 for e in firsts.values())
    # Every later move hands over all that was queued: nothing is left behind.
    later = [e for e in events if e not in firsts.values()]
    assert later and all(e.queued == 0 for e in later)
    assert len(schedule.asked) == len(events)


class Reversed(Schedule):
    """Lets the last entry go first in every round."""

    def turn_order(self, running: Sequence[T]) -> Sequence[T]:
        return list(reversed(running))


def test_a_custom_turn_order_is_obeyed() -> None:
    with Pair() as pair:
        result = pair.run(HANDSHAKE, schedule=Reversed())
        assert result.terminal is None
        order = [c.endpoint for c in pair.trace.calls]
    # The server is called first: with nothing received yet it says WANT_READ.
    assert order[0] == "server"
    assert pair.trace.calls[0].error == "WANT_READ"
    with Pair() as plain:
        plain.handshake()
        assert plain.trace.calls[0].endpoint == "client"


class Withhold(Schedule):
    """Moves nothing on server>client until told to: a pause the schedule chooses."""

    def __init__(self) -> None:
        super().__init__()
        self.open = False

    def move(self, link: LinkState) -> MoveChoice:
        if link.name == "server>client" and not self.open:
            return NO_MOVE
        return super().move(link)


def test_a_schedule_that_withholds_a_link_starves_the_run_into_deadlock() -> None:
    schedule = Withhold()
    with Pair() as pair:
        result = pair.run(HANDSHAKE, schedule=schedule)
        assert result.terminal == "DEADLOCK"
        assert pair.links["server>client"].queue  # the server's flight waits there
        schedule.open = True
        assert pair.run(HANDSHAKE, schedule=schedule).terminal is None


class Drain(Schedule):
    """Keeps the turn while calls make progress, and records what it was asked."""

    def __init__(self) -> None:
        super().__init__(deliver=100)
        self.asked: list[tuple[str, bool]] = []

    def keep_turn(self, turn: Turn, progressed: bool) -> bool:
        self.asked.append((turn.endpoint, progressed))
        return progressed


def test_keep_turn_decides_who_calls_next() -> None:
    schedule = Drain()
    with Pair() as pair:
        pair.run(HANDSHAKE, schedule=schedule)
        ours = [c.endpoint for c in pair.trace.calls]
    with Pair(deliver=100, turns="drain") as reference:
        reference.handshake()
        assert ours == [c.endpoint for c in reference.trace.calls]
    assert any(progressed for _, progressed in schedule.asked)


def test_a_run_schedule_leaves_the_pairs_own_alone() -> None:
    with Pair(deliver=(5, 7)) as pair:
        own = pair.schedule
        pair.run([("client", "connect")], schedule=Schedule("bytewise"))
        assert pair.schedule is own
        # The pair's list policy has not been consumed by the other schedule's moves.
        assert own.delivery.next_size("client>server") == 5


def test_deliver_for_one_run_keeps_the_turn_rule() -> None:
    with Pair(turns="drain") as pair:
        one = pair.schedule.with_delivery("bytewise")
        assert one.turns == "drain" and one.delivery.policy == "bytewise"
        assert pair.schedule.delivery.policy == "all"


def test_fixed_policies_answer_without_a_list() -> None:
    assert [Delivery(p).next_size("client>server") for p in ("all", "bytewise", "records", 9)] \
        == [None, 1, "record", 9]
    listed = Delivery([2])
    assert listed.listed and [listed.next_size("server>client") for _ in range(2)] == [2, None]


def test_an_unknown_turn_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="turns must be one of"):
        Schedule(turns="random")


def test_calls_recorded_by_a_custom_schedule_are_the_stacks_answers() -> None:
    with Pair() as pair:
        result = pair.run(HANDSHAKE, schedule=ThreeThenAll())
    assert all(isinstance(c, Call) for c in result.calls)
    assert summarize(result.outcomes["client"]).endswith("1")


@pytest.mark.parametrize(("deliver", "turns", "fixed"), [
    ("bytewise", "alternate", Fixed(True, 1, False, True)),
    ("all", "alternate", Fixed(True, None, False, True)),
    ("records", "drain", Fixed(True, "record", None, True)),
    ((5, 300), "alternate", Fixed(False, None, False, True)),
])
def test_fixed_says_what_the_default_answers_whatever_it_is_asked(
        deliver: object, turns: str, fixed: Fixed) -> None:
    assert Schedule(deliver, turns).fixed() == fixed  # type: ignore[arg-type]


def test_an_overridden_choice_is_no_longer_fixed() -> None:
    # A run takes fixed answers once; a subclass must be asked every time instead.
    class Moves(Schedule):
        def move(self, link: LinkState) -> MoveChoice:
            return super().move(link)

    class Keeps(Schedule):
        def keep_turn(self, turn: Turn, progressed: bool) -> bool:
            return False

    class Orders(Schedule):
        def turn_order(self, running: Sequence[T]) -> Sequence[T]:
            return list(reversed(running))

    assert not Moves("bytewise").fixed().move_known
    assert Keeps("bytewise").fixed().keep_turn is None
    assert not Orders("bytewise").fixed().in_order
    with Pair(deliver="bytewise") as pair:
        result = pair.run(HANDSHAKE, schedule=Orders("bytewise"))
    assert result.terminal is None
    assert pair.trace.calls[0].endpoint == "server"  # the server's turn came first
