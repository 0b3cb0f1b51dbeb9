"""``bpcourse grade``: nbgrader's autograder, made to hold up against what students hand in.

Grading itself stays nbgrader's: its ``Autograde`` converter (through ``NbGraderAPI``) restores the test
cells, runs the notebook, scores the graded cells and writes the gradebook, so ``nbgrader generate_feedback``
and ``nbgrader export`` work on the result as usual. This module adds three things around it, all only for this
command (``nbgrader autograde`` itself is unchanged):

* a *sanitised staged copy* of each submission (``submitted/`` is never modified): an unreadable or missing
  notebook is reported and that student skipped; a deleted graded test cell or locked cell is put back from the
  released notebook; a duplicated ``grade_id`` keeps one graded copy, the others become plain cells;
* a sturdier executor (:class:`RobustExecute`): a per-cell timeout, a kernel restarted after it dies (the cells
  above are replayed silently, so only the cell that killed it scores 0), stream output capped per cell, and the
  kernel started under an address-space cap so runaway memory fails one cell, not the machine;
* worker processes grading several submissions at once, with a progress bar and a summary.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

from .instructor import RELEASE, nbgrader_api
from .judge import LOG as JUDGE_LOG
from .judge import error_output

# Defaults (each can be changed on the command line: see `bpcourse grade --help`).
TIMEOUT = 30                 # seconds per cell: every course cell runs in well under 10 s
MEMORY_CAP = 2 * 1024 ** 3   # bytes of address space per grading kernel (RLIMIT_AS)
OUTPUT_CAP = 100_000         # characters of stream output kept per cell; the rest is dropped
# One more worker than cores: a worker waiting on a kernel start or the gradebook leaves its core to another.
WORKERS = min((os.cpu_count() or 1) + 1, 9)
STAGED = os.path.join("build", "grading", "submitted")  # nbgrader's "submitted" step for this command

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


# ---------------------------------------------------------------- staging and sanitising

class Unreadable(Exception):
    """The submission cannot be graded; the message says why, for the instructor."""


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _restorable(cell) -> bool:
    """Cells nbgrader owns and a student cannot usefully change: graded tests and locked given code."""
    m = _meta(cell)
    return bool(m.get("grade_id")) and not m.get("solution") and (m.get("grade") or m.get("locked"))


def sanitise(nb: NotebookNode, released: NotebookNode) -> list[str]:
    """Repair ``nb`` in place so nbgrader can grade it; returns what was changed, one line each.

    Duplicated ``grade_id``: of a solution cell the *last* copy stays graded (it is the definition in force
    when the notebook runs top to bottom, so the manual grader sees the code the tests saw); of a test or locked
    cell the *first* (nbgrader overwrites its contents anyway). The other copies lose their nbgrader metadata
    and still run as plain cells. Deleted test and locked cells are re-inserted from the release after the
    nearest preceding nbgrader cell; deleted solution cells are not (the student may have moved the code).
    """
    changes = []
    seen: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        gid = _meta(cell).get("grade_id")
        if gid:
            seen.setdefault(gid, []).append(i)
    for gid, where in seen.items():
        if len(where) > 1:
            keep = where[-1] if _meta(nb.cells[where[-1]]).get("solution") else where[0]
            for i in where:
                if i != keep:
                    nb.cells[i].metadata.pop("nbgrader", None)
            changes.append(f"cell {gid!r} appeared {len(where)} times; kept copy {where.index(keep) + 1} graded")

    present = {_meta(c).get("grade_id"): c for c in nb.cells if _meta(c).get("grade_id")}
    anchor = None  # grade_id of the last release cell found in the submission
    for cell in released.cells:
        gid = _meta(cell).get("grade_id")
        if not gid:
            continue
        if gid not in present and _restorable(cell):
            ids = [_meta(c).get("grade_id") for c in nb.cells]
            at = ids.index(anchor) + 1 if anchor in ids else 0
            restored = copy.deepcopy(cell)
            if restored.cell_type == "code":
                restored.outputs, restored.execution_count = [], None
            nb.cells.insert(at, restored)
            present[gid] = restored
            changes.append(f"cell {gid!r} was deleted; restored from the release")
        if gid in present:
            anchor = gid
    return changes


def stage(root: Path, assignment: str, student: str) -> list[str]:
    """Copy one submission to the staging area, sanitised; raises Unreadable with the reason."""
    import nbformat

    src = root / "submitted" / student / assignment
    dest = root / STAGED / student / assignment
    if dest.exists():
        shutil.rmtree(dest)
    notebook = f"{assignment}.ipynb"
    if not (src / notebook).is_file():
        found = sorted(p.name for p in src.glob("*.ipynb")) if src.is_dir() else []
        raise Unreadable(f"no {notebook} in submitted/{student}/{assignment}/"
                         + (f" (found {', '.join(found)})" if found else ""))
    try:
        nb = nbformat.read(src / notebook, as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as exc:
        raise Unreadable(f"{notebook} is not valid notebook JSON ({str(exc).splitlines()[0][:120]})") from None
    except Exception as exc:  # noqa: BLE001 - any other complaint of nbformat about the file
        raise Unreadable(f"{notebook} could not be read: {type(exc).__name__}: {str(exc)[:120]}") from None
    if not isinstance(nb.get("cells"), list):
        raise Unreadable(f"{notebook} has no list of cells")
    released = nbformat.read(root / RELEASE / assignment / notebook, as_version=4)
    changes = sanitise(nb, released)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    nbformat.write(nb, dest / notebook)
    return changes


# ---------------------------------------------------------------- running nbgrader

def _api(root: Path, timeout: int, memory_cap: int, confinement: str = ""):
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from .judge import JudgeHiddenTests

    CappedKernelManager.memory_cap = memory_cap
    CappedKernelManager.confinement = confinement
    CappedKernelManager.stderr_log = str(Path(root).resolve() / "build" / "grading" / "kernels.log")
    db = Path(root).resolve() / "gradebook.db"
    return nbgrader_api(root, CourseDirectory={
        "submitted_directory": STAGED,
        # Workers write to the same SQLite file: wait for a lock instead of failing at once.
        "db_url": f"sqlite:///{db}?timeout=120",
    }, Execute={"timeout": timeout}, Autograde={"autograde_preprocessors": [
        RobustExecute, JudgeHiddenTests, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
        AssignLatePenalties, CheckCellMetadata]})


_WORKER_API = None


def _init_worker(root: str, timeout: int, memory_cap: int, confinement: str) -> None:
    global _WORKER_API
    os.chdir(root)
    _WORKER_API = _api(Path(root), timeout, memory_cap, confinement)


def _grade_one(assignment: str, student: str) -> tuple[bool, str]:
    for attempt in range(3):
        result = _WORKER_API.autograde(assignment, student, force=True, create=True)
        if result["success"]:
            return True, ""
        text = f"{result.get('log', '')}\n{result.get('error', '')}"
        if "database is locked" not in text:
            break
        time.sleep(1 + attempt)
    # The last line is nbgrader's "see the above traceback"; the cause is the last exception line before it.
    causes = [line.strip() for line in text.splitlines()
              if line.strip()[:1].isalpha() and ("Error" in line or "Exception" in line) and ": " in line
              and "NbGraderException" not in line and not line.lstrip().startswith("[")]
    return False, causes[-1][:200] if causes else "nbgrader failed without a message (see its log)"


@dataclass
class Outcome:
    """What happened to one submission: its score, or why it could not be graded, and what was repaired."""

    assignment: str
    student: str
    score: float | None = None
    max_score: float | None = None
    problem: str = ""                      # why it could not be graded (empty when graded)
    changes: list[str] = field(default_factory=list)
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade_id -> (score, max)
    overruled: list[str] = field(default_factory=list)  # test cells that passed in the kernel, not on replay
    confined: str = ""  # "yes", or why the kernel's view of the disk was not confined


def _confinement(root: Path) -> tuple[str, str]:
    """(launcher rules as JSON, "yes" or why not) for confining grading kernels to what they need."""
    from . import confine

    if confine.abi() < 1:
        return "", "no: this system has no Landlock (Linux 5.13 or later); grade in a container"
    read, write, exposed = confine.kernel_paths(str(root))
    tmp = root / "build" / "grading" / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    rules = json.dumps({"read": read, "write": write, "tmp": str(tmp)})
    if exposed:
        return rules, f"partly: the course root lies inside {exposed[0]}, which kernels must read; move it"
    return rules, "yes"


def _load_grader_tests() -> None:
    """Import every hidden-test module now, before any submission runs: the judge replays with the code
    held in memory, so a kernel that rewrites grader_tests on disk changes nothing it computes."""
    import importlib
    import pkgutil

    import grader_tests

    for info in pkgutil.iter_modules(grader_tests.__path__):
        importlib.import_module(f"grader_tests.{info.name}")


def students_of(root: Path, assignment: str) -> list[str]:
    base = Path(root) / "submitted"
    return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) if base.is_dir() else []


def grade(root: Path, assignment: str | list[str], students: list[str] | None = None, *,
          workers: int = WORKERS, timeout: int = TIMEOUT, memory_cap: int = MEMORY_CAP, progress: bool = True,
          export: str | None = "grades.csv", confine: bool = True) -> list[Outcome]:
    """Grade one assignment (or several, sharing the workers) for ``students`` (default: everyone who handed
    it in); returns one Outcome per assignment and student, in that order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from nbgrader.api import Gradebook, MissingEntry
    from tqdm import tqdm

    # nbgrader's Gradebook runs `alembic` from PATH: make it the one installed beside this Python.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    root = Path(root).resolve()
    _load_grader_tests()
    rules, confined = _confinement(root) if confine else ("", "off (--no-confine)")
    judge_log = root / JUDGE_LOG
    if judge_log.exists():
        judge_log.unlink()
    names = [assignment] if isinstance(assignment, str) else list(assignment)
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        for a in names:
            try:
                gb.find_assignment(a)
            except MissingEntry:
                raise Unreadable(f"{a} is not in the gradebook: run `bpcourse release {a}` "
                                 "(or nbgrader generate_assignment) first") from None
    outcomes = {(a, s): Outcome(a, s, confined=confined) for a in names for s in (students or students_of(root, a))}
    ready = []
    for key, o in outcomes.items():
        try:
            o.changes = stage(root, *key)
            ready.append(key)
        except Unreadable as exc:
            o.problem = str(exc)
    # Rows every worker would otherwise race to create.
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy "not in session" notices
        for a, s in ready:
            gb.update_or_create_student(s)
            gb.update_or_create_submission(a, s)

    if workers > 1 and len(ready) > 1:
        # Forked workers inherit the imports already paid for here (nbformat alone takes ~1.5 s); nothing
        # that must not be forked exists yet: no kernel, no zmq context, the gradebook's engine is disposed,
        # and the progress bar (a monitor thread) is created after the workers.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(min(workers, len(ready)), mp_context=multiprocessing.get_context(method),
                                 initializer=_init_worker, initargs=(str(root), timeout, memory_cap, rules)) as pool:
            futures = {pool.submit(_grade_one, *key): key for key in ready}
            bar = tqdm(total=len(ready), desc=f"grading {', '.join(names)}", unit="notebook",
                       disable=not progress)
            for fut in as_completed(futures):
                try:
                    ok, why = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died takes only its submissions
                    ok, why = False, f"the grading worker failed: {type(exc).__name__}: {exc}"
                outcomes[futures[fut]].problem = "" if ok else f"nbgrader failed: {why}"
                bar.update()
    else:
        bar = tqdm(total=len(ready), desc=f"grading {', '.join(names)}", unit="notebook", disable=not progress)
        cwd = os.getcwd()
        try:
            _init_worker(str(root), timeout, memory_cap, rules)
            for key in ready:
                ok, why = _grade_one(*key)
                outcomes[key].problem = "" if ok else f"nbgrader failed: {why}"
                bar.update()
        finally:
            os.chdir(cwd)
    bar.close()

    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy "not in session" notices
        for (a, s), o in outcomes.items():
            if o.problem:
                continue
            sub = gb.find_submission(a, s)
            o.score, o.max_score = sub.score, sub.max_score
            for nb in sub.notebooks:
                o.cells.update({g.name: (g.score, g.max_score) for g in nb.grades if g.max_score})
        if judge_log.exists():
            for line in judge_log.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                o = outcomes.get((row["assignment"], row["student"]))
                if o is not None:
                    o.overruled.append(row["cell"])
        if export:
            from nbgrader.plugins.export import CsvExportPlugin
            CsvExportPlugin(to=str(root / export)).export(gb)
    return list(outcomes.values())


def summary(outcomes: list[Outcome], export: str | None = "grades.csv") -> str:
    graded = [o for o in outcomes if not o.problem]
    failed = [o for o in outcomes if o.problem]
    lines = [f"graded {len(graded)} of {len(outcomes)} submissions"]
    lines += [f"  {o.assignment} {o.student}: {o.score:g}/{o.max_score:g}"
              + (f"  ({'; '.join(o.changes)})" if o.changes else "")
              + (f"  [passed in the kernel but not on replay: {', '.join(o.overruled)}; see the feedback]"
                 if o.overruled else "") for o in graded]
    if failed:
        lines.append(f"could not grade {len(failed)}:")
        lines += [f"  {o.assignment} {o.student}: {o.problem}" for o in failed]
        if any(o.confined == "yes" and "nbgrader failed" in o.problem for o in failed):
            lines.append("  (if a kernel could not start, build/grading/kernels.log says why; --no-confine "
                         "grades without confining kernels)")
    kinds = {o.confined for o in outcomes if o.confined}
    for kind in sorted(kinds):
        lines.append("kernels confined to their own folder (no course files, no other submissions): " + kind)
    if export:
        lines.append(f"grades of every assignment written to {export} (`nbgrader export` writes the same file)")
    return "\n".join(lines)
