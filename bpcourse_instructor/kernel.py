"""How a grading kernel is started: capped, isolated and confined before it runs (:mod:`.launch`).

:class:`CappedKernelManager` is jupyter_client's kernel manager with its command wrapped by the launcher, and a
private temporary folder made for each kernel (removed by :func:`bpcourse_instructor.leftovers.after_notebook`).
Where it can, it forks the kernel from this worker's warm fork server (:mod:`.forkserver`) instead of
exec'ing the launcher: the same steps, without paying Python's and ipykernel's start-up per notebook.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager

from . import forkserver, leftovers
from .launch import LAUNCHER, environment
from .leftovers import SCRATCH

MEMORY_CAP = 2 * 1024 ** 3   # bytes of address space per grading kernel (RLIMIT_AS)
FILE_CAP = 100 * 1024 ** 2   # bytes any file a kernel writes may grow to (RLIMIT_FSIZE), its log included

# The grader's environment variables a kernel keeps (if set), and the prefixes of those it keeps too: what
# Python, ipykernel, NumPy/OpenBLAS, matplotlib and the course read. Nothing else of the grader's environment
# (tokens, the instructor's HOME, anything) reaches a kernel. The launcher sets the rest (see _settings).
KEEP_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "PYTHONHOME", "PYTHONUTF8", "PYTHONIOENCODING",
            "LD_LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX", "MPLBACKEND", "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE", "BPCOURSE_MNIST_URL", "BPCOURSE_CROSSCHECK",
            "NBGRADER_EXECUTION",  # set by nbgrader while grading: notebook 07 then trains briefly
            "JPY_PARENT_PID", "JPY_SESSION_NAME")  # set by jupyter_client: ipykernel exits when its parent does
KEEP_PREFIXES = ("LC_",)
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

@functools.lru_cache(maxsize=1)
def _matplotlib_seed() -> tuple[str, ...]:
    """This Python's matplotlib font list (built now if missing) and the user's matplotlibrc: copied into
    each kernel's private MPLCONFIGDIR, so kernels neither share a writable cache nor rebuild the font list."""
    try:
        import matplotlib
        from matplotlib import font_manager  # noqa: F401 - importing it writes the font list if missing
    except Exception:  # noqa: BLE001 - no matplotlib: nothing to seed
        return ()
    files = glob.glob(os.path.join(matplotlib.get_cachedir(), "fontlist-v*.json"))
    rc = os.path.join(matplotlib.get_configdir(), "matplotlibrc")
    return tuple(files + ([rc] if os.path.isfile(rc) else []))


def _private_folder(parent: str | None, keep: bool = False) -> str:
    """A new temporary folder for one kernel (in ``parent``, else the system's), seeded with matplotlib's
    settings and removed after the notebook (bpcourse_instructor.leftovers.SCRATCH)."""
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f"kernel-{os.getpid()}-")
    if not keep:
        SCRATCH.append(tmp)
    os.mkdir(os.path.join(tmp, "matplotlib"))
    for path in _matplotlib_seed():
        shutil.copy(path, os.path.join(tmp, "matplotlib"))
    return tmp


def _settings(tmp: str) -> dict[str, str]:
    """The variables the launcher sets for the kernel, whatever the grader's environment says."""
    from .confine import mnist_dir

    env = dict.fromkeys(THREADS, "1")
    env.update(BPCOURSE_TRANSCRIPT="1", BPCOURSE_DATA_DIR=mnist_dir(), HOME=tmp, TMPDIR=tmp,
               IPYTHONDIR=os.path.join(tmp, "ipython"), MPLCONFIGDIR=os.path.join(tmp, "matplotlib"))
    return env


class CappedKernelManager(AsyncKernelManager):
    """Starts the kernel through a tiny launcher that caps and isolates it first (and confines it, if asked)."""

    memory_cap = MEMORY_CAP
    stderr_log = ""
    fork = True  # fork kernels from the worker's fork server where possible (False: always exec them)
    # Kernels talk over Unix sockets in a private folder of their own: no TCP port is chosen by one process and
    # bound later by another (two workers could pick the same one), and a kernel needs no TCP at all.
    ipc = True

    async def _async_pre_start_kernel(self, **kw):
        if self.ipc and os.name == "posix" and self.transport == "tcp":
            folder = tempfile.mkdtemp(prefix="bpk-")  # short: a socket's path is limited to about 100 bytes
            SCRATCH.append(folder)
            self.transport, self.ip = "ipc", os.path.join(folder, "k")
        return await super()._async_pre_start_kernel(**kw)
    confinement = ""  # JSON rules for bpcourse_instructor.confine, or "" for none

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        rules = json.loads(self.confinement) if self.confinement else None
        tmp = _private_folder(rules["tmp"] if rules else None)
        cfg = {"cap": int(self.memory_cap), "fsize": FILE_CAP, "log": self.stderr_log, "tmp": tmp,
               "rules": rules, "keep": list(KEEP_ENV), "prefixes": list(KEEP_PREFIXES), "env": _settings(tmp),
               "sockets": os.path.dirname(self.ip) if self.transport == "ipc" else ""}
        # -P: the launcher runs in the student's folder, which must not shadow bpcourse_instructor.launch
        return [sys.executable, "-P", "-c", LAUNCHER, json.dumps(cfg), *cmd]

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        server = _fork_server(self.stderr_log) if self.fork else None
        wrapped = kernel_cmd[:4] == [sys.executable, "-P", "-c", LAUNCHER]
        cmd = kernel_cmd[5:]
        if server is None or not wrapped or not _forkable(cmd):
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        cfg = json.loads(kernel_cmd[4])
        env = environment(kw.get("env") or dict(os.environ), cfg)
        env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher sets it: the kernel ends with us
        pid = server.spawn(cfg, cmd, str(kw.get("cwd") or os.getcwd()), env)
        p = self.provisioner
        p.process, p.pid, p.pgid, p.cwd = forkserver.ForkedKernel(pid), pid, pid, kw.get("cwd")
        self._reconcile_connection_info(p.connection_info)


def _forkable(cmd: list[str]) -> bool:
    """Whether ``cmd`` starts this Python's own ipykernel, which the fork server has loaded."""
    exe = shutil.which(cmd[0]) if cmd else None
    return bool(exe) and os.path.realpath(exe) == os.path.realpath(sys.executable) and \
        cmd[1:3] == ["-m", "ipykernel_launcher"]


_SERVER: list = []  # this worker's fork server, once started; [None] if it could not start


def _fork_server(log: str):
    """This worker's fork server, started on first use; None where kernels must be exec'd: not Linux, not a
    child subreaper (forked kernels would not be this process's children), or the server failed."""
    if _SERVER and (_SERVER[0] is None or _SERVER[0].alive()):
        return _SERVER[0]
    _SERVER.clear()
    server = None
    if sys.platform.startswith("linux") and leftovers.adopting():
        home = _private_folder(None, keep=True)
        env = environment(dict(os.environ), {"keep": KEEP_ENV, "prefixes": KEEP_PREFIXES, "env": _settings(home)})
        # What ipykernel would set in a kernel before matplotlib is imported: the server imports it first.
        env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        try:
            server = forkserver.ForkServer(env, log)
        except OSError:
            server = None
        else:
            leftovers.SPARED.add(server.pid)
    _SERVER.append(server)
    return server
