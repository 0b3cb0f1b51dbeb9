"""Grading on a Dask cluster: ``bpcourse grade ASSIGNMENT... --cluster ADDRESS``.

The coordinating process does all it does in a local run: it stages the hand-ins, runs nbgrader's Autograde
(restoring the test cells, scoring, writing the gradebook: SQLite has one writer, and it is this process), and
writes the summary and ``grades.csv``. Only running each notebook moves: :class:`OnCluster` takes the place of
the executor, the judge and the inert-output filter in nbgrader's chain and sends the notebook, with the plain
files of its folder, to :func:`execute_notebook` on a worker. That task is a pure function of plain data: on
the worker it runs the very preprocessors a local worker runs, in a confined kernel, and returns the notebook.

A notebook whose worker dies is run again on another worker by the scheduler, up to the scheduler's
``distributed.scheduler.allowed-failures`` times (README: start it with 1), then reported as not graded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from nbconvert.preprocessors import Preprocessor

_LOCK = threading.Lock()  # one notebook at a time per worker process: the leftovers sweep kills all below it
_ADOPTED: list[bool] = []
TASK_PREFIX = "bpcourse-task-"


def grader_tests_version() -> str:
    """A digest of the hidden tests' sources: a worker must grade with the same ones as the coordinator."""
    import grader_tests

    digest = hashlib.sha256()
    for path in sorted(Path(grader_tests.__path__[0]).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def check_worker(needs_mnist: bool, confine: bool = True) -> dict:
    """Run on every worker before grading (``Client.run``): its grader_tests version, whether it has what the
    notebooks need (it fetches MNIST into its cache if a notebook loads it), and how its kernels are confined."""
    try:
        version = grader_tests_version()
        from . import preparation
        confined = preparation.confinement(Path(tempfile.gettempdir()) / "bpcourse-check")[1] if confine \
            else "off (--no-confine)"
    except Exception as exc:  # noqa: BLE001 - reported as what the worker lacks
        return {"version": "", "problem": f"cannot grade ({type(exc).__name__}: {exc})", "confined": ""}
    problem = ""
    if needs_mnist:
        from bpcourse.data import DataUnavailableError, fetch_mnist
        try:
            fetch_mnist()
        except DataUnavailableError as exc:
            problem = f"has no MNIST and cannot fetch it ({exc}); set BPCOURSE_DATA_DIR for the worker"
    return {"version": version, "problem": problem, "confined": confined}


def execute_notebook(task: dict) -> dict:
    """Run one notebook as a local grading worker would: confined kernel, judge, inert outputs.

    ``task``: ``nb`` (the notebook as JSON text, test cells already restored), ``files`` ({relative path:
    bytes} of the rest of its folder), ``execute`` (the Execute settings), ``limits`` (memory cap, notebook
    time budget, confine, fork), ``nbgrader`` (assignment, student, notebook: for the judge), ``version``.
    Returns ``nb`` (JSON text) and ``overruled`` ([grade_id, message] of cells the judge overruled)."""
    import nbformat
    from traitlets.config import Config

    from . import preparation
    from .execute import RobustExecute
    from .inert import InertOutputs
    from .judge import JudgeHiddenTests
    from .kernel import CappedKernelManager
    from .leftovers import adopt_orphans, after_notebook

    if task["version"] != grader_tests_version():
        raise RuntimeError("this worker's grader_tests differ from the coordinator's: install the same version")
    with _LOCK:
        if not _ADOPTED:
            _ADOPTED.append(adopt_orphans())
        preparation.load_grader_tests()
        root = Path(tempfile.mkdtemp(prefix=TASK_PREFIX))
        saved = os.environ.get("NBGRADER_EXECUTION")
        try:
            folder = root / "notebook"
            for rel, data in task["files"].items():
                path = (folder / rel).resolve()
                if folder.resolve() not in path.parents:
                    continue  # never outside the folder, whatever the name says
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            folder.mkdir(exist_ok=True)
            limits = task["limits"]
            rules, _ = preparation.confinement(root) if limits["confine"] else ("", "")
            CappedKernelManager.memory_cap = limits["memory_cap"]
            CappedKernelManager.confinement = rules
            CappedKernelManager.fork = limits["fork"]
            CappedKernelManager.stderr_log = str(root / "kernels.log")
            RobustExecute.notebook_timeout = limits["notebook_timeout"]
            RobustExecute.work_base = str(root / "work")
            os.environ["NBGRADER_EXECUTION"] = "autograde"  # as nbgrader sets it while grading
            nb = nbformat.reads(task["nb"], as_version=4)
            resources = {"metadata": {"path": str(folder)}, "nbgrader": task["nbgrader"]}
            judge = JudgeHiddenTests(log=False)
            for step in (RobustExecute(config=Config(task["execute"])), judge, InertOutputs()):
                nb, resources = step.preprocess(nb, resources)
            return {"nb": nbformat.writes(nb), "overruled": [list(row) for row in judge.overruled]}
        finally:
            after_notebook()
            RobustExecute.work_base = ""
            if saved is None:
                os.environ.pop("NBGRADER_EXECUTION", None)
            else:
                os.environ["NBGRADER_EXECUTION"] = saved
            shutil.rmtree(root, ignore_errors=True)


def _plain_files(folder: Path, skip: str) -> dict[str, bytes]:
    out = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name != skip:
            out[str(path.relative_to(folder))] = path.read_bytes()
    return out


class OnCluster(Preprocessor):
    """In nbgrader's autograde chain, instead of the executor, the judge and the inert-output filter: run them
    on a Dask worker (:func:`execute_notebook`) and carry on with what comes back."""

    enabled = True
    client = None       # a distributed.Client, set by the coordinator
    limits: dict = {}  # noqa: RUF012 - set once per run by the coordinator, read by every thread
    version = ""
    wait = 3600         # seconds to wait for one notebook, queueing included

    def preprocess(self, nb, resources):
        import nbformat
        from distributed import KilledWorker

        from .judge import log_overruled

        info = resources.get("nbgrader", {})
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        name = info.get("notebook", "")
        task = {"nb": nbformat.writes(nb), "files": _plain_files(folder, f"{name}.ipynb"),
                "execute": {k: _plain(dict(self.config.get(k, {}))) for k in ("ExecutePreprocessor", "Execute")},
                "limits": self.limits, "version": self.version,
                "nbgrader": {k: info.get(k) for k in ("assignment", "student", "notebook")}}
        future = self.client.submit(execute_notebook, task, pure=False,
                                    key=f"grade-{info.get('assignment')}-{info.get('student')}-{os.urandom(4).hex()}")
        try:
            result = future.result(timeout=self.wait)
        except KilledWorker as exc:
            raise RuntimeError(f"the Dask workers grading it died each time it ran ({exc})") from None
        except TimeoutError:
            future.cancel()
            raise RuntimeError(f"no Dask worker finished it within {self.wait} s") from None
        log_overruled(info, result["overruled"])
        return nbformat.reads(result["nb"], as_version=4), resources


def _plain(values: dict) -> dict:
    """The settings that travel to a worker as plain data (numbers, strings, lists of them)."""
    return {k: v for k, v in values.items() if isinstance(v, (bool, int, float, str, list, tuple, type(None)))}


# ---------------------------------------------------------------- in the coordinating process

def connect(address: str, needs_mnist: bool, confine: bool):
    """A Client of the scheduler at ``address`` whose workers can grade; (client, what confinement the workers
    report). Raises Unreadable with the reason and what to do otherwise."""
    from .staging import Unreadable

    try:
        from distributed import Client
    except ImportError:
        raise Unreadable("--cluster needs dask.distributed: pip install -e \".[instructor]\"") from None
    try:
        client = Client(address, timeout="5s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise Unreadable(f"could not reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); "
                         "start it with `dask scheduler` and check the address") from None
    try:
        reports = client.run(check_worker, needs_mnist, confine)
        if not reports:
            raise Unreadable(f"the Dask scheduler at {address} has no workers: start some with "
                             f"`dask worker {address} --nthreads 1`")
        mine = grader_tests_version()
        wrong = [f"{w}: {r['problem'] or 'grader_tests differ from this repository'}" for w, r in reports.items()
                 if r["problem"] or r["version"] != mine]
        if wrong:
            raise Unreadable("these Dask workers cannot grade this course: " + "; ".join(wrong)
                             + " (install the course repository at the same version on every worker)")
    except BaseException:
        client.close()
        raise
    kinds = sorted({r["confined"] for r in reports.values()})
    return client, kinds[0] if len(kinds) == 1 else "; ".join(kinds)


def run_on(client, keys: list, make_api, grade, on_done, limits: dict, root: Path) -> None:
    """Grade every (assignment, student) in ``keys`` with nbgrader here, each notebook run on the cluster:
    as many at once as the cluster has worker threads. ``grade(api, *key)`` returns (ok, why)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    slots = max(1, sum(client.nthreads().values()))
    OnCluster.client, OnCluster.limits, OnCluster.version = client, limits, grader_tests_version()
    local = threading.local()

    def one(key):
        if not hasattr(local, "api"):
            local.api = make_api()  # nbgrader's API objects are not shared between threads
        try:
            return grade(local.api, *key)
        except Exception as exc:  # noqa: BLE001 - this notebook only
            return False, f"the grading process failed: {type(exc).__name__}: {exc}"

    import contextlib

    from nbgrader import utils

    @contextlib.contextmanager
    def same_for_all(**values):
        os.environ.update(values)
        yield

    here, saved, setenv = os.getcwd(), os.environ.get("NBGRADER_EXECUTION"), utils.setenv
    os.chdir(root)  # nbgrader changes into the course root and back; from there, in every thread, a no-op
    # nbgrader sets NBGRADER_EXECUTION around each notebook, then deletes it: threads would delete it under each
    # other (a KeyError). Every thread sets the same value; it is put back as it was after the run.
    utils.setenv = same_for_all
    try:
        with ThreadPoolExecutor(max_workers=min(slots, len(keys))) as pool:
            futures = {pool.submit(one, key): key for key in keys}
            for future in as_completed(futures):
                on_done(futures[future], *future.result())
    finally:
        os.chdir(here)
        utils.setenv = setenv
        if saved is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = saved
        OnCluster.client = None
