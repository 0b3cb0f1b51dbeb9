"""The executor ``bpcourse grade`` runs each notebook with: nbgrader's ``Execute``, made sturdier.

A per-cell timeout, a kernel restarted after it dies (the cells above are replayed silently, so only the cell
that killed it scores 0), every kind of output capped per cell, and the kernel started through a launcher that
caps its address space and confines its view of the disk (:mod:`bpcourse_instructor.confine`) before it execs.
The errors it writes into a cell are in the language of the notebook's edition: the student reads them.

Output caps live in :mod:`bpcourse_instructor.outputs`; killing what a notebook leaves running and removing its kernels'
temporary folders in :mod:`bpcourse_instructor.leftovers`.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute

from bpcourse.i18n import translate

from .editions import language_of_notebook
from .judge import error_output, hidden_calls
from .kernel import CappedKernelManager
from .leftovers import WORK, after_kernel
from .outputs import CAPPED, CellBudget, cut_error


class RobustExecute(Execute):
    """nbgrader's Execute, but a dead kernel costs one cell, a flood of output is cut short, the whole notebook
    has a time budget, and the kernel runs in a private copy of the notebook's folder."""

    max_restarts = 8  # a notebook whose every cell kills the kernel is not replayed forever
    notebook_timeout = 0  # seconds for the whole notebook, restarts and replays included (0: no limit)
    work_base = ""        # where the private copies go (default: build/grading/work under the current folder)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", CappedKernelManager)
        kwargs.setdefault("shutdown_kernel", "immediate")  # its state is thrown away: no need to wait for it
        super().__init__(*args, **kwargs)
        self._budgets, self._notebook_rich = {}, [0]

    def preprocess(self, nb, resources=None, km=None):
        self._ran_clean, self._restarts = set(), 0
        self._language = language_of_notebook(nb)
        self._budgets, self._notebook_rich = {}, [0]
        self._cell_timeout = self.timeout
        self._deadline = time.monotonic() + self.notebook_timeout if self.notebook_timeout else None
        # The kernel runs in a private copy of the notebook's folder, removed after the notebook: nbgrader then
        # writes the graded notebook (and generate_feedback copies files) in a folder no kernel could touch, so
        # no link or file a kernel made is ever followed by the unconfined grader.
        meta = (resources or {}).setdefault("metadata", {})
        folder = meta.get("path")
        if folder:
            meta["path"] = _private_copy(folder, self.work_base)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self.timeout = self._cell_timeout
            if folder:
                meta["path"] = folder

    def _(self, text: str, **fields) -> str:
        """``text`` (an English template) in the language of the notebook being run."""
        return translate(text, getattr(self, "_language", "en"), **fields)

    def _time_left(self) -> bool:
        """Whether the notebook's time budget allows another cell; sets that cell's timeout to fit in it."""
        if self._deadline is None:
            return True
        left = self._deadline - time.monotonic()
        self.timeout = max(1, min(self._cell_timeout or left, int(left) + 1))
        return left >= 1

    def preprocess_cell(self, cell, resources, index):
        runs = cell.cell_type == "code" and cell.source.strip()
        if runs and self._restarts > self.max_restarts:
            cell.outputs = [error_output("KernelDied", self._("not run: the kernel died too often in this notebook"))]
            return cell, resources
        if runs and not self._time_left():
            cell.outputs = [error_output("TimeBudget", self._(
                "not run: grading this notebook used up its time budget ({seconds} s for all its cells)",
                seconds=self.notebook_timeout))]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cell.outputs = list(cell.get("outputs", [])) + [error_output("KernelDied", self._(
                "the kernel died while this cell ran (os._exit, a crash, or the memory cap); it was restarted and "
                "the cells above were run again"))]
            self._restart_and_replay(index)
        except CellTimeoutError:  # still busy after the interrupt: it swallowed KeyboardInterrupt
            cell.outputs = list(cell.get("outputs", [])) + [error_output("CellTimeoutError", self._(
                "no reply within {seconds} s, not even to an interrupt; the kernel was restarted and the cells above "
                "were run again", seconds=self.timeout))]
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
        after_kernel()  # and whatever it started, and its temporary folder: the next kernel starts clean
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
            if not self._time_left():
                return  # the cells below find the budget spent too
            try:
                self.execute_cell(copy.deepcopy(cell), j, store_history=False)
            except (DeadKernelError, CellTimeoutError):  # it ran fine once, no longer does: stop, start clean
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


def _private_copy(folder: str, base: str = "") -> str:
    """A fresh folder holding the plain files of ``folder``, removed by bpcourse_instructor.leftovers.after_notebook."""
    from pathlib import Path

    from .staging import copy_plain

    base = base or os.path.join(os.getcwd(), "build", "grading", "work")
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(dir=base, prefix=f"notebook-{os.getpid()}-")
    WORK.append(work)
    copy_plain(Path(folder), Path(work))
    return work
