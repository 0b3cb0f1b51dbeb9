"""Many notebooks at once, each graded in a process of its own: one that dies costs only its notebook.

:func:`run` forks a fresh child for every notebook (at most ``workers`` at a time), so no state passes from
one student's grading to the next, and a child that is killed or crashes (a kernel cannot signal it when
confined, but the out-of-memory killer can) takes nothing else with it: its notebook is tried once more in a
new child, then reported with the reason. Forking is cheap and inherits the imports the parent paid for.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
from collections import deque
from typing import Callable, Hashable


def _child(conn, setup: Callable, task: Callable, key: tuple) -> None:
    try:
        setup()
        result = task(*key)
    except BaseException as exc:  # noqa: BLE001 - whatever happens, the parent hears about it
        result = (False, f"the grading process failed: {type(exc).__name__}: {exc}")
    try:
        conn.send(result)
    finally:
        conn.close()
        os._exit(0)  # nothing of the parent's (atexit handlers, buffers) runs twice


def _why(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def run(keys: list[Hashable], task: Callable, *, setup: Callable = lambda: None, workers: int,
        on_done: Callable, retries: int = 1) -> None:
    """Call ``task(*key)`` for every key in a child process of its own, ``workers`` at a time; the task returns
    ``(ok, why)``. ``setup()`` runs first in each child. ``on_done(key, ok, why)`` is called in this process as
    each finishes. A child that dies without an answer is replaced, and its key tried again, ``retries`` times."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    pending = deque((key, 0) for key in keys)
    running: dict = {}
    while pending or running:
        while pending and len(running) < max(workers, 1):
            key, tries = pending.popleft()
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, setup, task, key), daemon=True)
            proc.start()
            send.close()
            running[proc.sentinel] = (proc, receive, key, tries)
        for sentinel in multiprocessing.connection.wait(list(running)):
            proc, receive, key, tries = running.pop(sentinel)
            try:
                result = receive.recv()
            except (EOFError, OSError):
                result = None
            receive.close()
            proc.join()
            if result is None:
                if tries < retries:
                    pending.append((key, tries + 1))
                    continue
                result = (False, f"the grading process died {tries + 1} times while grading it "
                                 f"({_why(proc.exitcode)})")
            on_done(key, *result)
