"""Many notebooks at once, in worker processes: one that dies costs only the notebook it was grading.

:func:`run` forks ``workers`` processes (inheriting the imports the parent paid for), hands each one notebook at
a time and keeps them for the next (so each pays nbgrader's and SQLAlchemy's first-use costs once). A worker
that is killed or crashes (a kernel cannot signal it when confined, but the out-of-memory killer can) takes
nothing else with it: it is replaced, its notebook is tried once more, then reported with the reason.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
from collections import deque
from typing import Callable, Hashable


def _serve(conn, setup: Callable, task: Callable) -> None:
    """A worker: set up once, then grade each key it is sent until it is sent None."""
    try:
        setup()
    except BaseException as exc:  # noqa: BLE001 - every key it is sent then fails with the reason
        failed = (False, f"the grading process could not start: {type(exc).__name__}: {exc}")
    else:
        failed = None
    try:
        while (key := conn.recv()) is not None:
            try:
                result = failed or task(*key)
            except BaseException as exc:  # noqa: BLE001 - whatever happens, the parent hears about it
                result = (False, f"the grading process failed: {type(exc).__name__}: {exc}")
            conn.send(result)
    except (EOFError, OSError):
        pass
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
        on_done: Callable, retries: int = 1, start_method: str | None = None) -> None:
    """Call ``task(*key)`` for every key in worker processes, ``workers`` at a time; the task returns
    ``(ok, why)``. ``setup()`` runs once in each worker. ``on_done(key, ok, why)`` is called in this process as
    each finishes. A worker that dies is replaced, and the key it held tried again, ``retries`` times.
    ``start_method``: multiprocessing's, default fork (where there is one); "forkserver" when the caller is a
    process that must not be forked, such as a Jupyter server with kernels and threads of its own."""
    method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    ctx = multiprocessing.get_context(method)
    pending = deque((key, 0) for key in keys)
    idle: list = []
    busy: dict = {}  # connection -> (process, key, tries)

    def start():
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(theirs, setup, task), daemon=True)
        proc.start()
        theirs.close()
        return proc, mine

    try:
        while pending or busy:
            while pending and (idle or len(busy) < max(workers, 1)):
                proc, conn = idle.pop() if idle else start()
                key, tries = pending.popleft()
                conn.send(key)
                busy[conn] = (proc, key, tries)
            for conn in multiprocessing.connection.wait(list(busy)):
                proc, key, tries = busy.pop(conn)
                try:
                    result = conn.recv()
                except (EOFError, OSError):  # the worker died with this key
                    conn.close()
                    proc.join()
                    if tries < retries:
                        pending.append((key, tries + 1))
                        continue
                    result = (False, f"the grading process died {tries + 1} times while grading it "
                                     f"({_why(proc.exitcode)})")
                else:
                    idle.append((proc, conn))
                on_done(key, *result)
    finally:
        for proc, conn in idle + [(p, c) for c, (p, _, _) in busy.items()]:
            try:
                conn.send(None)
            except OSError:
                pass
            conn.close()
            proc.join(timeout=10)
