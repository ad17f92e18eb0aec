"""Clean interruption: Ctrl-C (SIGINT) and SIGTERM end a command, never inside C.

Theory of operation
-------------------
A Python signal handler runs in the main thread between two bytecodes of whatever Python
code is running, and that may be a cffi callback OpenSSL is calling (the message, info
and key-log hooks run inside ``SSL_do_handshake``), a ``weakref.finalize`` callback or a
``__del__``.  An exception raised there does not unwind the command: cffi prints it and
returns to C, the garbage collector prints "Exception ignored".  So the handler here
never raises blindly:

* it records the first signal (:attr:`Guard.signum`);
* if the interrupted frame, or any frame above it, belongs to code that calls into a TLS
  library (:data:`UNSAFE_MODULES`) or to a finalizer, it raises nothing and arms a short
  interval timer (``SIGALRM`` every :data:`RETRY` seconds) that asks again; the run loop
  leaves such code within microseconds, so the next tick lands in plain Python;
* otherwise it raises :class:`Interrupted`, once: a second Ctrl-C while the command
  cleans up (killing peers, removing temporary folders) is recorded and ignored, so
  cleanup always finishes.

:class:`Interrupted` derives from ``BaseException``, so the ``except Exception`` blocks
that turn harness bugs into results let it pass; ``with`` blocks and ``finally`` clauses
release every pair, peer process and temporary folder on the way out.  The front end
catches it, prints what completed, and exits with ``128 + signum`` (130 for SIGINT, 143
for SIGTERM).

Worker processes (:func:`worker_setup`) ignore SIGINT -- a terminal sends Ctrl-C to the
whole process group, and the parent decides -- and treat SIGTERM (what the parent sends
to stop them) the same way: idle, they exit at once; in a task, the task unwinds, cleans
up, and the worker exits with 143 (:func:`worker_task`).

``biopair run``, ``biopair sweep`` and the coming ``biopair explore`` share this module.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TypeVar

#: Module name prefixes whose frames may sit between Python and a C library that calls
#: back into Python: an exception raised under them could be swallowed by cffi.
UNSAFE_MODULES: tuple[str, ...] = ("biopair.endpoints._openssl", "OpenSSL", "ssl",
                                   "_cffi_backend", "cffi", "weakref", "cryptography")
#: Seconds between retries while a signal waits for a safe point.
RETRY = 0.01
#: The signals a front end handles.
SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)

T = TypeVar("T")


class Interrupted(BaseException):
    """The command was interrupted by a signal.

    Attributes:
        signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """``128 + signum``: 130 for SIGINT, 143 for SIGTERM."""
        return exit_code(self.signum)


def signal_name(signum: int) -> str:
    """``"SIGINT"`` for ``signal.SIGINT``; ``"signal N"`` for one without a name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _threads() -> int:
    # Every thread of the process, including those started below the threading module
    # (execnet's, in a pytest-xdist worker), which threading.active_count() misses.
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def pool_context() -> multiprocessing.context.BaseContext:
    """How worker pools start their processes.

    ``fork`` where this process runs one thread (workers start at once and share what is
    loaded); ``forkserver`` where it runs more, e.g. inside a pytest-xdist worker, whose
    execnet I/O thread may hold a lock at the moment of a fork: the forked child inherits
    the lock held and can wait on it for ever (measured: a sweep worker stuck in
    ``futex_do_wait``); ``spawn`` where neither exists.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and _threads() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def exit_code(signum: int) -> int:
    """The shell's exit code for a command ended by ``signum``: ``128 + signum``."""
    return 128 + signum


def _unsafe(frame: FrameType | None) -> bool:
    # True if raising here could land inside a C callback or a finalizer.
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if isinstance(name, str) and name.startswith(UNSAFE_MODULES):
            return True
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


class Guard:
    """Signal handling while a command runs (see the module docstring).

    Attributes:
        signum: the first signal received, or None.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._raised = False
        self._armed = False
        # A forked worker inherits this handler until it installs its own; a signal in
        # that window (e.g. inside threading's after-fork hooks) is the parent's to act
        # on: the parent stops and reaps its workers.
        self._pid = os.getpid()

    @property
    def interrupted(self) -> bool:
        """True once a signal was received."""
        return self.signum is not None

    def check(self) -> None:
        """Raise :class:`Interrupted` now if a signal arrived and was not yet raised (for
        loops that want a check between two steps; the handler raises on its own too).

        Raises:
            Interrupted: a signal arrived.
        """
        if self.signum is not None and not self._raised:
            self._raise()

    def _raise(self) -> None:
        assert self.signum is not None
        self._raised = True
        self._disarm()
        raise Interrupted(self.signum)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:
            return
        if self.signum is None:
            self.signum = signum
        self._try(frame)

    def _on_retry(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:
            return
        self._try(frame)

    def _try(self, frame: FrameType | None) -> None:
        if self._raised or self.signum is None:
            self._disarm()
            return
        if _unsafe(frame):
            if not self._armed:
                self._armed = True
                signal.setitimer(signal.ITIMER_REAL, RETRY, RETRY)
            return
        self._raise()

    def _disarm(self) -> None:
        if self._armed:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def guard(signals: tuple[int, ...] = SIGNALS) -> Iterator[Guard]:
    """Handle ``signals`` as described in the module docstring while the block runs.

    Only in the main thread (elsewhere Python cannot install handlers): there the block
    runs unguarded.  The previous handlers are restored on exit.

    Yields:
        The :class:`Guard`; :class:`Interrupted` propagates out of the block.
    """
    g = Guard()
    if threading.current_thread() is not threading.main_thread():
        yield g
        return
    previous = {s: signal.getsignal(s) for s in (*signals, signal.SIGALRM)}
    try:
        signal.signal(signal.SIGALRM, g._on_retry)
        for s in signals:
            signal.signal(s, g._on_signal)
        yield g
    finally:
        g._raised = True  # nothing may raise from here on
        g._disarm()
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def blocked(signals: tuple[int, ...] = SIGNALS) -> Iterator[None]:
    """Block ``signals`` while the block runs (a process forked in it starts with them
    blocked until :func:`worker_setup` installs the worker's handlers); pending ones are
    delivered when it ends."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _Worker:
    guard: Guard | None = None
    busy = False


def worker_setup() -> None:
    """Install a worker process's handling (a pool's ``initializer``): SIGINT ignored,
    SIGTERM ends an idle worker at once and a busy one once its task has cleaned up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    g = Guard()
    _Worker.guard = g

    def on_term(signum: int, frame: FrameType | None) -> None:
        if not _Worker.busy:
            os._exit(exit_code(signum))
        g._on_signal(signum, frame)

    signal.signal(signal.SIGALRM, g._on_retry)
    signal.signal(signal.SIGTERM, on_term)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def worker_task(func: Callable[[], T]) -> T:
    """Run one task in a worker set up by :func:`worker_setup`.

    If SIGTERM arrives, the task unwinds (its ``with`` blocks close pairs, kill peers and
    remove temporary folders) and the worker exits with 143, printing nothing.

    Returns:
        What ``func`` returns.
    """
    _Worker.busy = True
    try:
        return func()
    except Interrupted as exc:
        sys.stdout.flush()
        os._exit(exc.exit_code)
    finally:
        _Worker.busy = False
        g = _Worker.guard
        if g is not None and g.signum is not None:
            os._exit(exit_code(g.signum))
