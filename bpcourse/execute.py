"""The executor ``bpcourse grade`` runs each notebook with: nbgrader's ``Execute``, made sturdier.

A per-cell timeout, a kernel restarted after it dies (the cells above are replayed silently, so only the cell
that killed it scores 0), output capped per cell, and the kernel started through a launcher that caps its
address space and confines its view of the disk (:mod:`bpcourse.confine`) before it execs.
"""

from __future__ import annotations

import copy
import sys

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute

from .judge import error_output

MEMORY_CAP = 2 * 1024 ** 3   # bytes of address space per grading kernel (RLIMIT_AS)
OUTPUT_CAP = 100_000         # characters of stream output kept per cell; the rest is dropped

# Runs before the kernel: caps its address space (inherited through exec), keeps BLAS to one thread so
# parallel workers do not oversubscribe the cores, asks grader_tests for transcripts, and confines the kernel's
# view of the disk (bpcourse.confine) to what it needs, with a private temporary folder.
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
    import json, tempfile
    from bpcourse.confine import apply
    rules = json.loads(rules)
    os.makedirs(rules['tmp'], exist_ok=True)
    tmp = tempfile.mkdtemp(dir=rules['tmp'])
    os.environ.update(TMPDIR=tmp, IPYTHONDIR=os.path.join(tmp, 'ipython'))
    own = [cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i] == '-f']  # the connection file
    try:
        apply(rules['read'] + own, rules['write'] + [os.getcwd(), tmp])
    except OSError as exc:  # fail closed: no kernel rather than an unconfined one
        sys.exit(f'bpcourse grade: could not confine the kernel ({exc}); use --no-confine to grade anyway')
os.execvp(cmd[0], cmd)
"""


class CappedKernelManager(AsyncKernelManager):
    """Starts the kernel through a tiny launcher that sets RLIMIT_AS first."""

    memory_cap = MEMORY_CAP
    stderr_log = ""
    confinement = ""  # JSON rules for bpcourse.confine, or "" for none

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        return [sys.executable, "-c", _LAUNCHER, str(int(self.memory_cap)), self.stderr_log, self.confinement,
                *cmd]


class RobustExecute(Execute):
    """nbgrader's Execute, but a dead kernel costs one cell and a flood of output is cut short."""

    max_restarts = 8  # a notebook whose every cell kills the kernel is not replayed forever

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", CappedKernelManager)
        kwargs.setdefault("shutdown_kernel", "immediate")  # its state is thrown away: no need to wait for it
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._ran_clean, self._restarts = set(), 0
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

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream":
            kept = sum(len(o.get("text", "")) for o in outs if o.get("output_type") == "stream")
            if kept >= OUTPUT_CAP:
                return None
            text = msg["content"]["text"]
            if kept + len(text) > OUTPUT_CAP:
                msg = copy.deepcopy(msg)
                msg["content"]["text"] = text[:OUTPUT_CAP - kept] + "\n... output truncated by the grader ...\n"
        return super().output(outs, msg, display_id, cell_index)
