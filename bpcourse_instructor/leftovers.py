"""Nothing a notebook starts outlives its grading.

A grading worker calls :func:`adopt_orphans` once, so every process a kernel leaves behind (daemons that called
``setsid``, grandchildren whose parent exited) becomes its child instead of init's, and :func:`after_notebook`
kills all of them and removes the kernels' private temporary folders. That needs Linux
(``PR_SET_CHILD_SUBREAPER``); elsewhere only the kernel's process group is killed, by jupyter_client's own
shutdown.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import sys
import time

_PR_SET_CHILD_SUBREAPER = 36
_adopting = False   # True once this process is a child subreaper: everything below it was started by grading
SPARED: set[int] = set()  # processes below this one that grading itself keeps (the fork server), and their own


def adopt_orphans() -> bool:
    """Make this process adopt every orphan among its descendants (Linux ``PR_SET_CHILD_SUBREAPER``), so
    that :func:`kill_leftovers` can find them; True if it worked. Call it only in a process that exists to
    grade (a grading worker): from then on :func:`kill_leftovers` kills *every* process below it."""
    global _adopting
    if sys.platform.startswith("linux") and os.path.isdir("/proc"):
        try:
            _adopting = ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            _adopting = False
    return _adopting


def adopting() -> bool:
    """Whether this process adopts its orphans (see :func:`adopt_orphans`)."""
    return _adopting


def _process_tree() -> dict[int, int]:
    """{pid: parent pid} of every process visible in /proc (one scan)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    line = f.read()
            except OSError:
                continue  # it just ended
            parents[int(name)] = int(line[line.rindex(b")") + 2:].split()[1])  # "pid (name) state ppid ..."
    return parents


def _below(pid: int, parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        if child not in SPARED:
            children.setdefault(parent, []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def kill_leftovers(rounds: int = 200) -> int:
    """SIGKILL and reap every process below this one; returns how many were killed. Does nothing unless
    :func:`adopt_orphans` succeeded. A process that forks while it is being killed leaves its children to this
    one, so the sweep repeats until nothing is left, at most ``rounds`` times (about a second: a fork bomb
    cannot hold the worker)."""
    if not _adopting:
        return 0
    me, killed = os.getpid(), set()
    for _ in range(rounds):
        parents = _process_tree()
        below = _below(me, parents)
        if not below:
            break
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        killed.update(below)
        for pid in below:
            if parents[pid] == me:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        time.sleep(0.005)
    return len(killed)


SCRATCH: list[str] = []  # private temporary folders made for this process's kernels, not yet removed
WORK: list[str] = []     # the private folders notebooks run in (kept across a kernel restart), not yet removed


def remove_scratch(folders: list[str] = SCRATCH) -> None:
    """Remove the private temporary folders of the kernels this process started (whatever was written in
    them, however its permissions were set)."""
    def writable_and_retry(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
            func(path)
        except OSError:
            pass

    while folders:
        shutil.rmtree(folders.pop(), onerror=writable_and_retry)


def after_kernel() -> int:
    """Kill whatever a kernel left running, then remove its temporary folder (before a restart)."""
    killed = kill_leftovers()
    remove_scratch(SCRATCH)
    return killed


def after_notebook() -> int:
    """Kill whatever the notebook's kernels left running, then remove their temporary folders and the folder
    the notebook ran in."""
    killed = after_kernel()
    remove_scratch(WORK)
    return killed


