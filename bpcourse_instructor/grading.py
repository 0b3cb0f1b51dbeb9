"""``bpcourse grade``: nbgrader's autograder, made to hold up against what students hand in.

Grading itself stays nbgrader's: its ``Autograde`` converter (through ``NbGraderAPI``) restores the test
cells, runs the notebook, scores the graded cells and writes the gradebook, so ``nbgrader generate_feedback``
and ``nbgrader export`` work on the result as usual. Around it, only for this command:

* :mod:`bpcourse_instructor.staging` grades a sanitised copy of each submission (``submitted/`` is never modified);
* :mod:`bpcourse_instructor.execute` runs it with a sturdier executor in a capped, confined kernel;
* :mod:`bpcourse_instructor.judge` decides each graded test cell outside the kernel;
* this module runs several submissions at once, with a progress bar and a summary.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import warnings
from pathlib import Path

from . import preparation, traces
from .course import coursedir, nbgrader_api, nbgrader_config
from .editions import language_of
from .execute import RobustExecute
from .judge import LOG as JUDGE_LOG
from .kernel import MEMORY_CAP, CappedKernelManager
from .leftovers import adopt_orphans, after_notebook
from .outcome import Outcome, by_exercise, name_exercises, summary, write_by_exercise
from .preparation import students_of
from .staging import STAGED, Unreadable, stage

__all__ = ["grade", "summary", "Outcome", "Unreadable", "TIMEOUT", "NOTEBOOK_TIMEOUT", "WORKERS"]

# True while this process runs bpcourse grade, and in its workers: nbgrader's autograde converter then does
# nbgrader's own work on the staged notebook it is given (bpcourse_instructor.hub).
GRADING = {"active": False}

# Defaults (each can be changed on the command line: see `bpcourse grade --help`).
TIMEOUT = 30                 # seconds per cell: every course cell runs in well under 10 s
NOTEBOOK_TIMEOUT = 120       # seconds per notebook, restarts and replays included: notebook 07 needs about 10
# Two workers per core, and one more: a worker spends about a third of each notebook waiting (kernel replies,
# the gradebook), and measured on 2 cores, 5 workers grade a class about a quarter faster than 3.
WORKERS = min(2 * (os.cpu_count() or 1) + 1, 17)

# ---------------------------------------------------------------- running nbgrader

def _db_url(root: Path, argv=()) -> str:
    """The gradebook nbgrader is configured with; a SQLite one waits for a lock instead of failing at once
    (workers write to the same file)."""
    url = coursedir(root, argv).db_url
    return url + "?timeout=120" if url.startswith("sqlite:") and "?" not in url else url


def _api(root: Path, timeout: int, memory_cap: int, confinement: str = "", notebook_timeout: int = 0,
         fork: bool = True, remote: bool = False, argv: tuple = ()):
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from .inert import InertOutputs
    from .judge import JudgeHiddenTests

    RobustExecute.notebook_timeout = notebook_timeout
    CappedKernelManager.memory_cap = memory_cap
    CappedKernelManager.confinement = confinement
    CappedKernelManager.fork = fork
    CappedKernelManager.stderr_log = str(Path(root).resolve() / "build" / "grading" / "kernels.log")
    if remote:  # run, judge and make inert on a Dask worker (bpcourse_instructor.cluster), the rest here
        from .cluster import OnCluster
        running = [OnCluster]
    else:
        running = [RobustExecute, JudgeHiddenTests, InertOutputs]
    return nbgrader_api(root, argv, CourseDirectory={
        "submitted_directory": STAGED, "db_url": _db_url(root, argv),
    }, Execute={"timeout": timeout}, Autograde={"autograde_preprocessors": [
        *running, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties,
        CheckCellMetadata]})


_WORKER_API = None


def _init_worker(root: str, timeout: int, memory_cap: int, confinement: str, notebook_timeout: int,
                 fork: bool = True, argv: tuple = ()) -> None:
    """Set up a grading process: a process of its own, which adopts whatever its kernels leave behind."""
    global _WORKER_API
    GRADING["active"] = True  # nbgrader's API grades as nbgrader does in here (bpcourse_instructor.hub)
    os.chdir(root)
    adopt_orphans()
    preparation.load_grader_tests()  # already in memory when forked from grade(); not when started by a fork server
    _WORKER_API = _api(Path(root), timeout, memory_cap, confinement, notebook_timeout, fork, argv=argv)


def _grade_one(assignment: str, student: str) -> tuple[bool, str]:
    try:
        return _autograde(_WORKER_API, assignment, student)
    finally:
        after_notebook()  # nothing the notebook started runs on, nothing it wrote outside its folder stays


def _autograde(api, assignment: str, student: str) -> tuple[bool, str]:
    for attempt in range(3):
        result = api.autograde(assignment, student, force=True, create=True)
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
    return False, "nbgrader failed: " + (causes[-1][:200] if causes else "no message (see its log)")


def grade(root: Path, assignment: str | list[str], students: list[str] | None = None, *,
          workers: int = WORKERS, timeout: int | None = None, memory_cap: int = MEMORY_CAP, progress: bool = True,
          notebook_timeout: int = NOTEBOOK_TIMEOUT,
          export: str | None = "grades.csv", confine: bool = True, fork: bool = True,
          cluster: str | None = None, config: list[str] | tuple = (), start_method: str | None = None
          ) -> list[Outcome]:
    """Grade one assignment (or several, sharing the workers) for ``students`` (default: everyone who handed
    it in); returns one Outcome per assignment and student, in that order. ``cluster``: the address of a Dask
    scheduler whose workers run the notebooks (bpcourse_instructor.cluster); else local worker processes.
    nbgrader's configuration is read as nbgrader reads it (course.nbgrader_config), with ``config``
    (``--Section.name=value`` options) on top: the gradebook, late penalties and, unless ``timeout`` is given,
    ``Execute.timeout`` come from there. ``start_method``: how worker processes start (workers.run)."""
    active, GRADING["active"] = GRADING["active"], True
    try:
        return _grade(root, assignment, students, workers=workers, timeout=timeout, memory_cap=memory_cap,
                      progress=progress, notebook_timeout=notebook_timeout, export=export, confine=confine,
                      fork=fork, cluster=cluster, config=config, start_method=start_method)
    finally:
        GRADING["active"] = active


def _grade(root, assignment, students, *, workers, timeout, memory_cap, progress, notebook_timeout, export,
           confine, fork, cluster, config, start_method) -> list[Outcome]:
    from nbgrader.api import Gradebook, MissingEntry
    from tqdm import tqdm

    # nbgrader's Gradebook runs `alembic` from PATH: make it the one installed beside this Python.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    root = Path(root).resolve()
    preparation.load_grader_tests()
    rules, confined = preparation.confinement(root) if confine else ("", "off (--no-confine)")
    judge_log = root / JUDGE_LOG
    if judge_log.exists():
        judge_log.unlink()
    kernels_log = root / "build" / "grading" / "kernels.log"  # kept across runs; kernel.py caps its size
    if kernels_log.exists() and kernels_log.stat().st_size > 10 * 1024 ** 2:
        kernels_log.replace(kernels_log.with_suffix(".log.1"))
    names = [assignment] if isinstance(assignment, str) else list(assignment)
    config = tuple(config)
    if timeout is None:
        configured = nbgrader_config(root, config).Execute
        timeout = int(configured.timeout) if "timeout" in configured else TIMEOUT
    db_url = _db_url(root, config)
    with Gradebook(db_url) as gb:
        for a in names:
            try:
                gb.find_assignment(a)
            except MissingEntry:
                raise Unreadable(f"{a} is not in the gradebook at {db_url.split('?')[0]} (nbgrader's "
                                 "CourseDirectory.db_url): run `bpcourse release {a}` (or nbgrader "
                                 "generate_assignment) with the same configuration first") from None
    needs_mnist = preparation.fetch_data(root, names)
    client = None
    if cluster:  # before anything is staged: an unreachable or unfit cluster stops the run with the reason
        from .cluster import connect
        client, confined = connect(cluster, needs_mnist, confine)
    languages = {a: language_of(root, a) for a in names}  # each student's summary line is in their edition's
    outcomes = {(a, s): Outcome(a, s, confined=confined, language=languages[a])
                for a in names for s in (students or students_of(root, a))}
    ready = []
    for key, o in outcomes.items():
        try:
            o.changes = [r.summary for r in stage(root, *key)]
            ready.append(key)
        except Unreadable as exc:
            o.problem = str(exc)
        except OSError as exc:  # anything else about the files: this student only, never the run
            o.problem = f"could not be copied for grading: {type(exc).__name__}: {exc}"
    # Rows every worker would otherwise race to create.
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy "not in session" notices
        for a, s in ready:
            gb.update_or_create_student(s)
            gb.update_or_create_submission(a, s)

    if ready and client is not None:
        from .cluster import run_on

        tqdm.monitor_interval = 0
        bar = tqdm(total=len(ready), desc=f"grading {', '.join(names)} on {cluster}", unit="notebook",
                   disable=not progress)

        def finished(key, ok, why):
            outcomes[key].problem = "" if ok else why
            bar.update()

        try:
            run_on(client, ready, functools.partial(_api, root, timeout, memory_cap, "", notebook_timeout, fork,
                                                    remote=True, argv=config), _autograde, finished,
                   {"memory_cap": memory_cap, "notebook_timeout": notebook_timeout, "confine": confine,
                    "fork": fork}, root)
        finally:
            bar.close()
            client.close()
    elif ready:
        # Notebooks are graded in worker processes (bpcourse_instructor.workers): after each notebook a worker
        # kills every process below it (leftovers.adopt_orphans), which must never touch the caller's own
        # children, and a worker that dies costs only its notebook. Workers are forked, so they inherit the imports
        # already paid for here (nbformat alone takes ~1.5 s); nothing that must not be forked exists yet: no
        # kernel, no zmq context, the gradebook's engine is disposed, and the progress bar has no monitor thread.
        from .workers import run

        tqdm.monitor_interval = 0
        bar = tqdm(total=len(ready), desc=f"grading {', '.join(names)}", unit="notebook", disable=not progress)

        def done(key, ok, why):
            outcomes[key].problem = "" if ok else why
            bar.update()

        run(ready, _grade_one, setup=functools.partial(_init_worker, str(root), timeout, memory_cap, rules,
                                                       notebook_timeout, fork, config),
            workers=min(workers, len(ready)), on_done=done, start_method=start_method)
        bar.close()

    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy "not in session" notices
        for (a, s), o in outcomes.items():
            if o.problem:
                reason = o.problem
                o.problem += preparation.forget(gb, root, a, s)
                traces.placeholder(gb, root, o, reason)  # a page in the formgrader and the feedback, at 0
                continue
            sub = gb.find_submission(a, s)
            o.seconds_late, o.late_penalty = float(sub.total_seconds_late or 0), float(sub.late_submission_penalty or 0)
            o.score, o.max_score = max(0.0, sub.score - o.late_penalty), sub.max_score  # as grades.csv has it
            for nb in sub.notebooks:
                o.cells.update({g.name: (g.score, g.max_score) for g in nb.grades if g.max_score})
        if judge_log.exists():
            for line in judge_log.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                o = outcomes.get((row["assignment"], row["student"]))
                if o is not None:
                    o.overruled.append(row["cell"])
        for o in outcomes.values():  # repairs, restarts, time limits, overruled cells: where the formgrader looks
            if not o.problem:
                traces.write(gb, root, o)
        name_exercises(outcomes.values(), root)  # the summary names the exercises that lost points
        if export:
            from nbgrader.plugins.export import CsvExportPlugin
            CsvExportPlugin(to=str(root / export)).export(gb)
            write_by_exercise(gb, root, root / by_exercise(export))  # one row per graded cell, from the gradebook
    return list(outcomes.values())


