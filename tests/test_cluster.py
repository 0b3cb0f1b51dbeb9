"""`bpcourse grade --cluster`: the same grades from notebooks run on Dask workers as from a local run.

The hostile and broken hand-ins of tests/test_grading.py are graded both ways there (its regrade runs on the
cluster); here a plain class through the command line, a scheduler that cannot be reached, and a worker
killed while it grades.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, copy_course
from test_autograde import _submission

pytest.importorskip("distributed")

NAMES = ["01_computational_graphs", "03_add_mul_nodes"]


def _class(root, names, students):
    from bpcourse_instructor.course import release

    copy_course(root)
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    release(root, names)
    for name in names:
        for student, nb in students(name).items():
            folder = root / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")
    return root


def _hand_ins(name):
    blank = nbformat.read(REPO / "course" / name / f"{name}.ipynb", as_version=4)
    return {"ana": _submission(name), "ben": blank}


def _cells(outcomes):
    return {(o.assignment, o.student): (o.cells, o.problem) for o in outcomes}


def _task_folders() -> set:
    import tempfile

    from bpcourse_instructor.cluster import TASK_PREFIX
    return set(Path(tempfile.gettempdir()).glob(f"{TASK_PREFIX}*"))


def _cli(root, *args):
    return subprocess.run([sys.executable, "-m", "bpcourse.cli", "grade", *args], cwd=root, capture_output=True,
                          text=True, timeout=600, check=False)


@pytest.mark.slow
def test_a_class_graded_on_the_cluster_scores_as_a_local_run(tmp_path, dask_cluster):
    from bpcourse_instructor.grading import grade

    local = _class(tmp_path / "local", NAMES, _hand_ins)
    remote = tmp_path / "remote"
    shutil.copytree(local, remote)
    here = _cells(grade(local, NAMES, progress=False))
    assert all(not problem for _, problem in here.values()), here

    before = _task_folders()
    result = _cli(remote, *NAMES, "--cluster", dask_cluster.address)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"on {dask_cluster.address}" in result.stderr  # the progress bar says where
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{remote / 'gradebook.db'}") as gb:
        there = {(a, s): {g.name: (g.score, g.max_score) for nb in gb.find_submission(a, s).notebooks
                          for g in nb.grades if g.max_score}
                 for a in NAMES for s in ("ana", "ben")}
    assert there == {key: cells for key, (cells, _) in here.items()}
    assert any(score for cells in there.values() for score, _ in cells.values())  # not all zeros
    assert (remote / "grades.csv").read_text() == (local / "grades.csv").read_text()
    # One gradebook, the coordinator's: the workers wrote none, and hold nothing of the run afterwards.
    assert list(remote.rglob("gradebook.db")) == [remote / "gradebook.db"]
    assert not list(dask_cluster.folder.rglob("gradebook.db"))
    assert _task_folders() == before  # where workers ran the notebooks: all removed


def test_an_unreachable_scheduler_stops_the_run_before_anything_is_staged(tmp_path):
    root = _class(tmp_path / "class", NAMES[:1], lambda name: {"ana": _submission(name)})
    result = _cli(root, NAMES[0], "--cluster", "tcp://127.0.0.1:9")
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "could not reach the Dask scheduler at tcp://127.0.0.1:9" in message[0], message
    assert not (root / "build" / "grading").exists() and not (root / "autograded").exists()


def _sleeper(name):
    nb = _submission(name)
    nb.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(5)"))
    return {"sleeper": nb, **{f"s{i}": _submission(name) for i in range(2)}}


@pytest.mark.slow
def test_a_worker_killed_while_it_grades_costs_at_most_that_notebook(tmp_path):
    from daskrun import LocalCluster
    from distributed import Client

    from bpcourse_instructor.grading import grade

    root = _class(tmp_path / "class", NAMES[1:], _sleeper)
    cluster = LocalCluster(tmp_path / "dask")
    try:
        got, killed = {}, []

        def run():
            got["outcomes"] = grade(root, NAMES[1], progress=False, cluster=cluster.address)

        grading = threading.Thread(target=run)
        grading.start()
        with Client(cluster.address, timeout="30s") as client:
            end = time.monotonic() + 120
            while not killed and time.monotonic() < end and grading.is_alive():
                for worker, keys in client.processing().items():
                    if any("sleeper" in str(k) for k in keys):
                        time.sleep(2)  # its kernel is running the sleeping cell now
                        os.kill(cluster.pids[worker], 9)
                        killed.append(worker)
                        break
                time.sleep(0.1)
        grading.join(timeout=300)
        assert killed, "the sleeper's notebook was never seen running"
        outcomes = {o.student: o for o in got["outcomes"]}
        for student in ("s0", "s1"):  # everyone else graded, full marks
            assert not outcomes[student].problem and outcomes[student].score == outcomes[student].max_score
        sleeper = outcomes["sleeper"]  # retried on the other worker, or reported with the reason
        assert (not sleeper.problem and sleeper.score == sleeper.max_score) or "died" in sleeper.problem, sleeper
    finally:
        cluster.stop()
