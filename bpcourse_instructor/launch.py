"""The last steps before a grading kernel runs, shared by both ways of starting one.

A kernel is either exec'd by a tiny launcher (``python -c LAUNCHER CFG CMD...``: :func:`main`) or forked from a
warm fork server (:mod:`bpcourse_instructor.forkserver`). Either way :func:`prepare` runs first, in the process
that becomes the kernel, and leaves it:

- with its address space capped (RLIMIT_AS), and the size of any file it writes (RLIMIT_FSIZE: the kernel log,
  which all kernels of a run share, cannot fill the disk either; Python ignores SIGXFSZ, so a write fails);
- holding no file of the grader's: stdin is /dev/null, stdout and stderr go to the kernel log (start-up notices,
  C-level crashes, anything written to fd 1 or 2), every other descriptor is closed, and it leads a session of
  its own, so it has no controlling terminal: nothing it prints reaches the terminal grading runs in;
- with the environment :func:`environment` makes;
- if asked, confined by :mod:`bpcourse_instructor.confine`: the disk, /proc (its own entries), TCP (it may bind
  only the ports of its connection file, none with the ipc transport) and signals, as far as the system's
  Landlock goes. It fails closed: no kernel rather than an unconfined one.

Only the standard library is imported here (and confine, when asked): the launcher starts in milliseconds.
"""

from __future__ import annotations

import json
import os
import resource
import sys

LAUNCHER = "from bpcourse_instructor.launch import main; main()"
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def environment(environ: dict[str, str], cfg: dict) -> dict[str, str]:
    """The kernel's environment: the variables of ``environ`` that ``cfg`` keeps, plus those it sets."""
    env = {k: v for k, v in environ.items() if k in cfg["keep"] or k.startswith(tuple(cfg["prefixes"]))}
    env.update(cfg["env"])
    return env


def connection_file(cmd: list[str]) -> str | None:
    return next((cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i] == "-f"), None)


def prepare(cfg: dict, cmd: list[str]) -> None:
    """Cap, isolate and (if ``cfg`` has rules) confine the calling process, which is about to become the kernel
    that ``cmd`` starts. Exits with the reason if confinement was asked for and failed."""
    if cfg["cap"] > 0:
        resource.setrlimit(resource.RLIMIT_AS, (cfg["cap"], cfg["cap"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["fsize"], cfg["fsize"]))
    null = os.open(os.devnull, os.O_RDWR)
    out = os.open(cfg["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if cfg["log"] else null
    for fd, to in ((0, null), (1, out), (2, out)):
        os.dup2(to, fd)
    os.closerange(3, 1 << 20)
    if os.getsid(0) != os.getpid():
        os.setsid()
    rules = cfg["rules"]
    if not rules:
        return
    try:
        from bpcourse_instructor.confine import apply, own_proc

        own = [f for f in [connection_file(cmd)] if f]
        ports = []
        for path in own:
            with open(path) as f:
                info = json.load(f)
            if info.get("transport", "tcp") == "tcp":
                ports += [int(info[k]) for k in PORTS]
        sockets = [cfg["sockets"]] if cfg.get("sockets") else []  # its own Unix sockets' folder (ipc transport)
        apply(rules["read"] + own + own_proc(os.getpid()), rules["write"] + [os.getcwd(), cfg["tmp"], *sockets],
              ports)
    except (OSError, ValueError, KeyError) as exc:  # fail closed: no kernel rather than an unconfined one
        sys.exit(f"bpcourse grade: could not confine the kernel ({exc!r}); use --no-confine to grade anyway")


def main() -> None:
    """``python -c LAUNCHER CFG CMD...``: prepare this process, then exec the kernel."""
    cfg, cmd = json.loads(sys.argv[1]), sys.argv[2:]
    env = environment(dict(os.environ), cfg)
    prepare(cfg, cmd)
    os.execvpe(cmd[0], cmd, env)
