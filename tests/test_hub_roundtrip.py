"""A course on a JupyterHub, end to end with nbgrader's stock commands and a local exchange folder: the
instructor releases, two students (each with a home folder of their own) fetch and submit, the instructor
collects, grades with `bpcourse grade`, generates and releases feedback, and each student fetches only their
own feedback."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import copy_course
from test_autograde import _DOUBLE_BACKWARD, _submission

NAME = "03_add_mul_nodes"
HUB_CONFIG = '''c = get_config()
c.Exchange.root = "{exchange}"
c.CourseDirectory.course_id = "backprop"
'''


def _run(args, cwd, home, hub):
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(hub)}
    env.pop("JUPYTER_DATA_DIR", None)  # nbgrader's submission cache lives in each user's home
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(map(str, args))}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_the_round_trip_gives_each_student_their_own_feedback(tmp_path):
    from bpcourse_instructor.course import release

    nbgrader = [sys.executable, "-m", "nbgrader"]
    exchange, hub, homes = tmp_path / "exchange", tmp_path / "etc", tmp_path / "home"
    exchange.mkdir(mode=0o777)
    hub.mkdir()
    (hub / "nbgrader_config.py").write_text(HUB_CONFIG.format(exchange=exchange), encoding="utf-8")
    root = copy_course(tmp_path / "instructor" / "course", with_course=False)
    instructor = root.parent
    os.environ["JUPYTER_CONFIG_DIR"], saved = str(hub), os.environ.get("JUPYTER_CONFIG_DIR")
    try:
        release(root, [NAME])
    finally:
        os.environ.pop("JUPYTER_CONFIG_DIR") if saved is None else os.environ.__setitem__("JUPYTER_CONFIG_DIR", saved)
    _run([*nbgrader, "release_assignment", NAME], root, instructor, hub)

    answers = {"alice": _submission(NAME),
               "bob": _submission(NAME, ("max_layer", _DOUBLE_BACKWARD.format(cls="MaxLayer")))}
    for student, solved in answers.items():
        home = homes / student
        home.mkdir(parents=True)
        _run([*nbgrader, "fetch_assignment", NAME, f"--student={student}"], home, home, hub)
        fetched = home / NAME / f"{NAME}.ipynb"
        assert fetched.is_file()
        nbformat.write(solved, fetched)  # the student's work, saved over the fetched notebook
        _run([*nbgrader, "submit", NAME, f"--student={student}"], home, home, hub)

    _run([*nbgrader, "collect", NAME], root, instructor, hub)
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["alice", "bob"]
    graded = _run([str(Path(sys.executable).parent / "bpcourse"), "grade", NAME], root, instructor, hub)
    assert "alice: 6/6" in graded.stdout and "bob: 4/6" in graded.stdout, graded.stdout
    _run([*nbgrader, "generate_feedback", NAME], root, instructor, hub)
    _run([*nbgrader, "release_feedback", NAME], root, instructor, hub)

    pages = {}
    for student in answers:
        home = homes / student
        _run([*nbgrader, "fetch_feedback", NAME, f"--student={student}"], home, home, hub)
        files = sorted(p for p in (home / NAME / "feedback").rglob("*") if p.is_file())
        assert [p.name for p in files] == [f"{NAME}.html"], files  # only their own notebook's page
        pages[student] = files[0].read_text(encoding="utf-8")
        assert pages[student] == (root / "feedback" / student / NAME / f"{NAME}.html").read_text(encoding="utf-8")
    assert "Score: 6.0 / 6.0" in pages["alice"] and "Score: 4.0 / 6.0" in pages["bob"]
