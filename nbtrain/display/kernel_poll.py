"""Deliver widget clicks while a cell is busy (the Stop button), on ipykernel 7.

A cell that trains blocks the kernel's main thread, so a widget's comm message (a click) waits in
a queue until the cell ends: a plain ``on_click`` that sets a flag comes too late.  ``LiveComms``
gets the messages of a few chosen comms through anyway, in one of these modes:

``"subshell"``  ipykernel >= 7.4 routes each comm message through ``comm._reply_subshell_for``.
                We start one private kernel subshell (a thread) and route the chosen comms to it:
                their handlers run on that thread while the cell is busy, at no cost per batch.
``"queue"``     Kernel subshells are unavailable: between batches, ``poll()`` reads the messages
                queued for the main shell, handles the chosen comms' messages at once and holds
                back everything else; ``close()`` feeds the held messages back through the
                stream's own receive callback, in their original order, so queued cells still
                run in order after this one.
``"thread"``    Training runs off the main thread: the kernel delivers clicks by itself.
``"none"``      Not in a kernel we understand: clicks arrive when the cell ends; use the
                kernel's interrupt to stop at once.

Both kernel modes use private ipykernel attributes, so each is guarded and falls back to the next.
``NBTRAIN_COMM_MODE`` (auto|subshell|queue|none) forces a mode, for tests.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterable

MODES = ("subshell", "queue", "thread", "none")
_COMM_TYPES = ("comm_msg",)

# one private subshell per kernel process, created on first use
_subshell_lock = threading.Lock()
_subshell_id: dict = {}


def current_kernel():
    """The running ipykernel ``Kernel`` or None (never imports ipykernel)."""
    mod = sys.modules.get("ipykernel.kernelbase")
    if mod is None:
        return None
    try:
        if not mod.Kernel.initialized():
            return None
        return mod.Kernel.instance()
    except Exception:
        return None


def _comm_of(obj):
    """A widget's comm, or the object itself when it already is one."""
    return obj if hasattr(obj, "comm_id") else getattr(obj, "comm", None)


def _private_subshell(kernel, timeout: float = 2.0) -> str | None:
    """Create (once) a kernel subshell owned by nbtrain; return its id, or None."""
    key = id(kernel)
    with _subshell_lock:
        sid = _subshell_id.get(key)
        if sid is not None:
            return sid
        thread = getattr(kernel, "shell_channel_thread", None)
        if thread is None or not thread.is_alive():
            return None
        manager = thread.manager
        result: dict = {}
        done = threading.Event()

        def create():  # runs on the shell channel thread, like a create_subshell_request
            try:
                result["id"] = manager._create_subshell()
            except BaseException as exc:
                result["error"] = exc
            finally:
                done.set()

        thread.io_loop.add_callback(create)
        if not done.wait(timeout) or "id" not in result:
            return None
        _subshell_id[key] = result["id"]
        return result["id"]


class LiveComms:
    """Get the messages of ``comms`` (widgets or comms) handled while the main thread is busy.

    >>> live = LiveComms([stop_button])       # doctest: +SKIP
    >>> live.start()                          # doctest: +SKIP
    'subshell'
    >>> for batch in ...: live.poll()         # cheap; throttled to ``min_interval``   # doctest: +SKIP
    >>> live.close()                          # doctest: +SKIP
    """

    def __init__(
        self,
        comms: Iterable = (),
        kernel=None,
        mode: str | None = None,
        min_interval: float = 0.05,
        clock=time.monotonic,
    ):
        self.comms = [c for c in (_comm_of(x) for x in comms) if c is not None]
        self.kernel = kernel if kernel is not None else current_kernel()
        self.requested = (mode or os.environ.get("NBTRAIN_COMM_MODE") or "auto").lower()
        self.mode = "none"
        self.min_interval, self.clock = min_interval, clock
        self.held: list = []  # raw messages held back in queue mode, in arrival order
        self.handled = 0  # comm messages handled early (queue mode)
        self.replayed = 0  # messages held back, then handed back to the kernel (queue mode)
        self.reason = ""  # why we are in the mode we are in
        self._next_poll = 0.0
        self._stream = None
        self._ids: set = set()
        self._routed: list = []
        self._started = False
        self.closed = False

    # ------------------------------------------------------------------ set-up
    def start(self) -> str:
        """Choose and set up a mode; return it.  Never raises: falls back to "none"."""
        if self._started:
            return self.mode
        self._started = True
        self._ids = {getattr(c, "comm_id", None) for c in self.comms} - {None}
        if self.kernel is None or not self._ids:
            self.reason = "not running in a Jupyter kernel"
            return self.mode
        order = {
            "auto": ("subshell", "thread", "queue"),
            "subshell": ("subshell",),
            "queue": ("thread", "queue"),
            "thread": ("thread",),
            "none": (),
        }.get(self.requested, ("subshell", "thread", "queue"))
        for mode in order:
            try:
                ok = getattr(self, f"_start_{mode}")()
            except Exception as exc:  # private kernel internals changed: try the next mode
                ok, self.reason = False, f"{mode}: {type(exc).__name__}: {exc}"
            if ok:
                self.mode = mode
                return mode
        if not self.reason:
            self.reason = "this kernel cannot deliver widget messages while a cell runs"
        return self.mode

    def _start_subshell(self) -> bool:
        comm = self.comms[0]
        if not callable(getattr(comm, "_reply_subshell_for", None)):
            self.reason = "this ipykernel does not route comm messages (needs ipykernel >= 7.4)"
            return False
        if self.kernel.session is None or not hasattr(self.kernel, "comm_manager"):
            return False
        sid = _private_subshell(self.kernel)
        if sid is None:
            self.reason = "could not start a kernel subshell"
            return False

        def route(data, default, _sid=sid):
            return _sid

        for c in self.comms:
            c._reply_subshell_for = route  # instance attribute shadows the class method
            self._routed.append(c)
        return True

    def _start_thread(self) -> bool:
        # training off the main thread: the main thread is free to handle messages itself
        return threading.current_thread() is not threading.main_thread()

    def _start_queue(self) -> bool:
        import zmq  # present wherever ipykernel is

        k = self.kernel
        thread = getattr(k, "shell_channel_thread", None)
        if thread is not None:  # ipykernel 7: the shell channel thread forwards main-shell messages here
            stream = thread.manager.get_shell_channel_to_subshell_pair(None).to_stream
        else:  # ipykernel 6: the main thread reads the shell socket itself
            stream = getattr(k, "shell_stream", None)
        if stream is None or stream.socket is None or not callable(getattr(stream, "_recv_callback", None)):
            self.reason = "the kernel's shell stream is not where nbtrain expects it"
            return False
        if k.session is None:
            return False
        self._zmq = zmq
        self._stream = stream
        return True

    # ------------------------------------------------------------------ per batch
    def poll(self, force: bool = False) -> int:
        """Queue mode: handle the chosen comms' queued messages now.  Returns how many were handled.

        Cheap: a clock read when called sooner than ``min_interval`` after the last poll, and one
        non-blocking socket check otherwise."""
        if self.mode != "queue" or self.closed:
            return 0
        now = self.clock()
        if not force and now < self._next_poll:
            return 0
        self._next_poll = now + self.min_interval
        sock = self._stream.socket
        if sock is None or not (sock.getsockopt(self._zmq.EVENTS) & self._zmq.POLLIN):
            return 0
        mine, interrupted = self._drain(sock)
        for msg in mine:
            self._handle(msg)
        self.handled += len(mine)
        if interrupted:
            raise KeyboardInterrupt
        return len(mine)

    def _drain(self, sock):
        """Read every queued message; keep ours, hold the rest.  A KeyboardInterrupt that arrives
        meanwhile is deferred (returned as ``interrupted``), so no message read from the socket is lost."""
        zmq, session = self._zmq, self.kernel.session
        copy = getattr(self._stream, "_recv_copy", False)
        deferred = []
        old = None
        if threading.current_thread() is threading.main_thread():
            try:
                old = signal.signal(signal.SIGINT, lambda *a: deferred.append(a))
            except (ValueError, OSError):
                old = None
        mine = []
        try:
            while True:
                try:
                    raw = sock.recv_multipart(zmq.NOBLOCK, copy=copy)
                except zmq.Again:
                    break
                msg = self._ours(session, raw)
                if msg is None:
                    self.held.append(raw)
                else:
                    mine.append(msg)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        return mine, bool(deferred)

    def _ours(self, session, raw):
        """The deserialized message when ``raw`` is a comm message for one of our comms, else None."""
        try:
            _, frames = session.feed_identities(raw, copy=False)
            head = session.deserialize(frames, content=False, copy=False)
            if head["header"]["msg_type"] not in _COMM_TYPES:
                return None
            content = session.unpack(head["content"])
            if content.get("comm_id") not in self._ids:
                return None
            _, frames = session.feed_identities(raw, copy=False)
            return session.deserialize(frames, content=True, copy=False)
        except Exception:
            return None  # anything we cannot read is held back and left to the kernel

    def _handle(self, msg) -> None:
        comm = self.kernel.comm_manager.get_comm(msg["content"]["comm_id"])
        if comm is not None:
            comm.handle_msg(msg)

    # ------------------------------------------------------------------ after the run
    def close(self) -> None:
        """Undo the routing (subshell mode) or hand the held messages back in order (queue mode)."""
        if self.closed:
            return
        for c in self._routed:
            try:
                del c._reply_subshell_for
            except AttributeError:
                pass
        self._routed = []
        if self.mode == "queue" and self._stream is not None:
            # the main thread is busy: anything still in the socket is read by the stream later, after these
            interrupted = False
            try:
                self.poll(force=True)
            except KeyboardInterrupt:  # hand the messages back first, then let the interrupt through
                interrupted = True
            held, self.held = self.held, []
            self.replayed += len(held)
            stream = self._stream
            for raw in held:
                stream._run_callback(stream._recv_callback, raw)
            # reading the socket ourselves may have used up its edge-triggered wake-up: look again soon
            io_loop = getattr(stream, "io_loop", None)
            if io_loop is not None:
                io_loop.add_callback(lambda: stream._handle_events(stream.socket, 0) if stream.socket else None)
            self.closed = True
            if interrupted:
                raise KeyboardInterrupt
        self.closed = True
