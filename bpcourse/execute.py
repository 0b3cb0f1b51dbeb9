"""The executor ``bpcourse grade`` runs each notebook with: nbgrader's ``Execute``, made sturdier.

A per-cell timeout, a kernel restarted after it dies (the cells above are replayed silently, so only the cell
that killed it scores 0), every kind of output capped per cell, and the kernel started through a launcher that
caps its address space and confines its view of the disk (:mod:`bpcourse.confine`) before it execs.

Output caps live in :mod:`bpcourse.outputs`; killing what a notebook leaves running and removing its kernels'
temporary folders in :mod:`bpcourse.leftovers`.
"""

from __future__ import annotations

import copy
import functools
import glob
import json
import os
import shutil
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute

from .judge import error_output, hidden_calls
from .leftovers import SCRATCH, after_notebook
from .outputs import CAPPED, CellBudget, cut_error

MEMORY_CAP = 2 * 1024 ** 3   # bytes of address space per grading kernel (RLIMIT_AS)

# Runs before the kernel: caps its address space (inherited through exec), keeps BLAS to one thread so
# parallel workers do not oversubscribe the cores, asks grader_tests for transcripts, and confines the kernel's
# view of the disk (bpcourse.confine) to what it needs, with a private temporary folder (made and seeded by
# CappedKernelManager, removed by after_notebook) that also holds IPython's and matplotlib's settings and caches.
# The kernel's own stderr (start-up notices, C-level crashes) goes to a log file, not over the progress bar.
_LAUNCHER = """\
import os, resource, sys
cap, log, rules, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
if cap > 0:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[k] = '1'
os.environ['BPCOURSE_TRANSCRIPT'] = '1'
if log:
    os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)
if rules:
    import json
    from bpcourse.confine import apply
    rules = json.loads(rules)
    tmp = rules['tmp']
    os.environ.update(TMPDIR=tmp, IPYTHONDIR=os.path.join(tmp, 'ipython'),
                      MPLCONFIGDIR=os.path.join(tmp, 'matplotlib'))
    own = [cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i] == '-f']  # the connection file
    try:
        apply(rules['read'] + own, rules['write'] + [os.getcwd(), tmp])
    except OSError as exc:  # fail closed: no kernel rather than an unconfined one
        sys.exit(f'bpcourse grade: could not confine the kernel ({exc}); use --no-confine to grade anyway')
os.execvp(cmd[0], cmd)
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


class CappedKernelManager(AsyncKernelManager):
    """Starts the kernel through a tiny launcher that sets RLIMIT_AS first (and confines it, if asked)."""

    memory_cap = MEMORY_CAP
    stderr_log = ""
    confinement = ""  # JSON rules for bpcourse.confine, or "" for none

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        rules = self.confinement
        if rules:
            rules = json.loads(rules)
            os.makedirs(rules["tmp"], exist_ok=True)
            rules["tmp"] = tmp = tempfile.mkdtemp(dir=rules["tmp"], prefix=f"kernel-{os.getpid()}-")
            SCRATCH.append(tmp)
            os.mkdir(os.path.join(tmp, "matplotlib"))
            for path in _matplotlib_seed():
                shutil.copy(path, os.path.join(tmp, "matplotlib"))
            rules = json.dumps(rules)
        return [sys.executable, "-c", _LAUNCHER, str(int(self.memory_cap)), self.stderr_log, rules, *cmd]


class RobustExecute(Execute):
    """nbgrader's Execute, but a dead kernel costs one cell and a flood of output is cut short."""

    max_restarts = 8  # a notebook whose every cell kills the kernel is not replayed forever

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", CappedKernelManager)
        kwargs.setdefault("shutdown_kernel", "immediate")  # its state is thrown away: no need to wait for it
        super().__init__(*args, **kwargs)
        self._budgets, self._notebook_rich = {}, [0]

    def preprocess(self, nb, resources=None, km=None):
        self._ran_clean, self._restarts = set(), 0
        self._budgets, self._notebook_rich = {}, [0]
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if self._restarts > self.max_restarts:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error_output("KernelDied", "not run: the kernel died too often in this notebook")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cell.outputs = list(cell.get("outputs", [])) + [error_output(
                "KernelDied", "the kernel died while this cell ran (os._exit, a crash, or the memory cap); "
                "it was restarted and the cells above were run again")]
            self._restart_and_replay(index)
        except CellTimeoutError:  # still busy after the interrupt: it swallowed KeyboardInterrupt
            cell.outputs = list(cell.get("outputs", [])) + [error_output(
                "CellTimeoutError", f"no reply within {self.timeout} s, not even to an interrupt; the kernel "
                "was restarted and the cells above were run again")]
            self._restart_and_replay(index)
        else:
            errors = [o.get("ename") for o in cell.get("outputs", []) if o.output_type == "error"]
            if not errors:
                self._ran_clean.add(index)
            elif "CellTimeoutError" in errors:
                # The interrupt may not have stopped it (student code can swallow KeyboardInterrupt, C code
                # ignores it); a fresh kernel is the only sure way to run the next cell.
                self._restart_and_replay(index)
        self._stderr_to_stdout(cell)
        return cell, resources

    @staticmethod
    def _stderr_to_stdout(cell) -> None:
        """nbgrader scores a test cell 0 for any stderr output, so a warning from correct code would cost the
        exercise; keep the text (feedback shows it) but as stdout. Wrong values still raise, and score 0."""
        m = cell.metadata.get("nbgrader", {})
        if m.get("grade") and not m.get("solution"):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stderr":
                    out.name = "stdout"

    def _fresh_kernel(self) -> None:
        self._restarts += 1
        self._cleanup_kernel()  # killed, not asked: a busy kernel never answers
        after_notebook()  # and whatever it started, and its temporary folder: the next kernel starts clean
        self.km = self.create_kernel_manager()
        self.start_new_kernel()
        self.start_new_kernel_client()

    def _restart_and_replay(self, index: int) -> None:
        self._fresh_kernel()
        # Re-create the state the cells below expect. Graded test cells only check, so they are skipped.
        for j in sorted(i for i in self._ran_clean if i < index):
            cell = self.nb.cells[j]
            if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution"):
                continue
            try:
                self.execute_cell(copy.deepcopy(cell), j, store_history=False)
            except DeadKernelError:  # a cell that ran fine once no longer does: stop replaying, start clean
                self._fresh_kernel()
                return

    # ------------------------------------------------------------ output caps

    def process_message(self, msg, cell, cell_index):
        if msg.get("msg_type") in CAPPED:
            msg = self._budget(msg, cell).admit(msg, cell.outputs, self._display_targets(msg))
            if msg is None:
                return None
        return super().process_message(msg, cell, cell_index)

    def on_cell_executed(self, **kwargs):
        # nbgrader copies an error from the reply into the cell when no error output matches its name: cut it
        # the same way as the error output, so that the two still match and neither is large.
        reply = kwargs.get("execute_reply") or {}
        if reply.get("content", {}).get("status") == "error":
            reply["content"] = cut_error(reply["content"])
        return super().on_cell_executed(**kwargs)

    def _budget(self, msg, cell) -> CellBudget:
        """The budget of the execution ``msg`` belongs to (a cell replayed after a restart gets a new one)."""
        key = msg.get("parent_header", {}).get("msg_id")
        if key not in self._budgets:
            self._budgets[key] = CellBudget(len(hidden_calls(cell.get("source", ""))) + 1, self._notebook_rich)
        return self._budgets[key]

    def _display_targets(self, msg) -> int:
        """How many outputs an update_display_data message would overwrite (each is stored in full)."""
        if msg["msg_type"] != "update_display_data":
            return 1
        display_id = (msg["content"].get("transient") or {}).get("display_id")
        return sum(map(len, getattr(self, "_display_id_map", {}).get(display_id, {}).values()))


