"""How a grading kernel is started: through a tiny launcher that caps, isolates and confines it before it execs.

:class:`CappedKernelManager` is jupyter_client's kernel manager with its command wrapped by ``_LAUNCHER``, and
a private temporary folder made for each kernel (removed by :func:`bpcourse_instructor.leftovers.after_notebook`).
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

# Runs before the kernel, and passes on to it (through exec) only what follows:
# - its address space capped (RLIMIT_AS), and the size of any file it writes (RLIMIT_FSIZE: the kernel log,
#   which all kernels of a run share, cannot fill the disk either; Python ignores SIGXFSZ, so a write fails);
# - no file of the grader's: stdin is /dev/null, stdout and stderr go to the kernel log (start-up notices,
#   C-level crashes, anything written to fd 1 or 2), every other descriptor is closed, and it leads a session
#   of its own, so it has no controlling terminal: nothing it prints reaches the terminal grading runs in;
# - an environment of KEEP_ENV only, plus one BLAS thread (parallel workers must not oversubscribe the
#   cores), transcripts asked of grader_tests, MNIST's folder, and HOME, TMPDIR and IPython's and matplotlib's
#   settings in its private temporary folder (made and seeded by CappedKernelManager, removed by
#   after_notebook);
# - if asked, confined by bpcourse_instructor.confine: the disk, /proc (its own /proc/<pid> is the kernel's after exec),
#   TCP (it may bind only the ports of its connection file) and signals, as far as the system's Landlock goes.
#   It fails closed: no kernel rather than an unconfined one.
_LAUNCHER = """\
import json, os, resource, sys
cfg, cmd = json.loads(sys.argv[1]), sys.argv[2:]
if cfg['cap'] > 0:
    resource.setrlimit(resource.RLIMIT_AS, (cfg['cap'], cfg['cap']))
resource.setrlimit(resource.RLIMIT_FSIZE, (cfg['fsize'], cfg['fsize']))
null = os.open(os.devnull, os.O_RDWR)
out = os.open(cfg['log'], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if cfg['log'] else null
for fd, to in ((0, null), (1, out), (2, out)):
    os.dup2(to, fd)
os.closerange(3, 1 << 20)
if os.getsid(0) != os.getpid():
    os.setsid()
env = {k: v for k, v in os.environ.items() if k in cfg['keep'] or k.startswith(tuple(cfg['prefixes']))}
env.update(cfg['env'])
rules = cfg['rules']
if rules:
    try:
        from bpcourse_instructor.confine import apply, own_proc
        own = [cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i] == '-f']  # the connection file
        ports = []
        for path in own:
            with open(path) as f:
                info = json.load(f)
            if info.get('transport', 'tcp') == 'tcp':
                ports += [int(info[k]) for k in ('shell_port', 'iopub_port', 'stdin_port', 'control_port',
                                                 'hb_port')]
        apply(rules['read'] + own + own_proc(os.getpid()), rules['write'] + [os.getcwd(), cfg['tmp']], ports)
    except (OSError, ValueError, KeyError) as exc:  # fail closed: no kernel rather than an unconfined one
        sys.exit(f'bpcourse grade: could not confine the kernel ({exc!r}); use --no-confine to grade anyway')
os.execvpe(cmd[0], cmd, env)
"""


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


def _private_folder(parent: str | None) -> str:
    """A new temporary folder for one kernel (in ``parent``, else the system's), seeded with matplotlib's
    settings and removed after the notebook (bpcourse_instructor.leftovers.SCRATCH)."""
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f"kernel-{os.getpid()}-")
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
    confinement = ""  # JSON rules for bpcourse_instructor.confine, or "" for none

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        rules = json.loads(self.confinement) if self.confinement else None
        tmp = _private_folder(rules["tmp"] if rules else None)
        cfg = {"cap": int(self.memory_cap), "fsize": FILE_CAP, "log": self.stderr_log, "tmp": tmp,
               "rules": rules, "keep": list(KEEP_ENV), "prefixes": list(KEEP_PREFIXES), "env": _settings(tmp)}
        return [sys.executable, "-c", _LAUNCHER, json.dumps(cfg), *cmd]
