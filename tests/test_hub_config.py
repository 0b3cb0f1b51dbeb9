"""`bpcourse` reads nbgrader's configuration the way nbgrader does: the Jupyter config folders (system,
environment, user), then the course's nbgrader_config.py, then --Section.name=value options. A hub-wide file
outside the repository moves the gradebook and sets a late penalty; `bpcourse release` and `bpcourse grade`
honour both, and the summary and the per-exercise CSV say how late each hand-in was and what it cost."""

import csv
import datetime
import os
import subprocess
import sys

import nbformat
import pytest
from conftest import copy_course
from test_autograde import _submission

from bpcourse_instructor.course import coursedir, nbgrader_config

NAME = "03_add_mul_nodes"
DUE = datetime.datetime(2026, 1, 5, 12, 0, 0)

# A hub-wide nbgrader_config.py: the gradebook elsewhere, and one point off per started hour late.
HUB_CONFIG = '''
import math
from nbgrader.plugins import LateSubmissionPlugin

class PerHour(LateSubmissionPlugin):
    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return min(score, math.ceil(total_seconds_late / 3600))

c = get_config()
c.CourseDirectory.db_url = "sqlite:///{db}"
c.AssignLatePenalties.plugin_class = PerHour
c.Execute.timeout = 17
'''


def _hub(folder, db):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(HUB_CONFIG.format(db=db), encoding="utf-8")
    return folder


def test_the_jupyter_config_folders_are_read_below_the_course_file_and_the_command_line(tmp_path, monkeypatch):
    root = copy_course(tmp_path / "course", with_course=False)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(_hub(tmp_path / "hub", tmp_path / "elsewhere.db")))
    config = nbgrader_config(root)
    assert coursedir(root).db_url == f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert config.AssignLatePenalties.plugin_class.__name__ == "PerHour"
    # The course's own file wins over the hub's (it sets Execute.timeout too); the command line wins over both.
    assert config.Execute.timeout == 30
    assert int(nbgrader_config(root, ["--Execute.timeout=5"]).Execute.timeout) == 5  # as nbgrader parses it
    assert coursedir(root, [f"--CourseDirectory.db_url=sqlite:///{tmp_path / 'cli.db'}"]).db_url.endswith("cli.db")
    # Without the hub's file the gradebook is the course's own.
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "empty"))
    assert coursedir(root).db_url == f"sqlite:///{root / 'gradebook.db'}"


def test_the_command_line_takes_nbgrader_options_and_refuses_others(capsys):
    from bpcourse_instructor.cli import main

    with pytest.raises(SystemExit):
        main(["grade", NAME, "--Execute"])
    assert "unrecognized arguments: --Execute" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export-student", "somewhere", "--Execute.timeout=3"])
    assert "unrecognized arguments" in capsys.readouterr().err


def _hand_in(root, student: str, when: datetime.datetime, nb) -> None:
    folder = root / "submitted" / student / NAME
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{NAME}.ipynb")
    (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), encoding="utf-8")


@pytest.fixture(scope="module")
def hub_class(tmp_path_factory):
    """A course whose gradebook and late penalty come from a hub-wide file; alice on time, bob 2 h 30 min late."""
    from nbgrader.api import Gradebook

    from bpcourse_instructor.course import release
    from bpcourse_instructor.grading import grade, summary

    base = tmp_path_factory.mktemp("hub")
    root = copy_course(base / "course", with_course=False)
    db = base / "elsewhere" / "gradebook.db"
    db.parent.mkdir()
    hub = _hub(base / "hub", db)
    env = {k: os.environ.get(k) for k in ("JUPYTER_CONFIG_DIR",)}
    os.environ["JUPYTER_CONFIG_DIR"] = str(hub)
    try:
        release(root, [NAME])
        with Gradebook(f"sqlite:///{db}") as gb:
            gb.update_or_create_assignment(NAME, duedate=DUE)
        _hand_in(root, "alice", DUE - datetime.timedelta(hours=1), _submission(NAME))
        _hand_in(root, "bob", DUE + datetime.timedelta(hours=2, minutes=30), _submission(NAME))
        outcomes = grade(root, NAME, workers=2, progress=False)
        stock = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", NAME, "--force",
                                "--Autograde.create_student=True"], cwd=root, capture_output=True, text=True,
                               env={**os.environ}, timeout=600)
        with Gradebook(f"sqlite:///{db}") as gb:
            stock_scores = {s: (gb.find_submission(NAME, s).score, gb.find_submission(NAME, s).late_submission_penalty)
                            for s in ("alice", "bob")}
    finally:
        for k, v in env.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return root, db, {o.student: o for o in outcomes}, summary(outcomes), stock, stock_scores


@pytest.mark.slow
def test_the_gradebook_is_where_the_configuration_says(hub_class):
    root, db, outcomes, _, _, _ = hub_class
    assert db.is_file() and not (root / "gradebook.db").exists()
    assert {s: o.problem for s, o in outcomes.items()} == {"alice": "", "bob": ""}


@pytest.mark.slow
def test_the_hub_wide_late_penalty_is_applied_and_reported(hub_class):
    root, _, outcomes, text, _, _ = hub_class
    alice, bob = outcomes["alice"], outcomes["bob"]
    assert (alice.score, alice.late_penalty, alice.seconds_late) == (6, 0, 0)
    assert bob.seconds_late == 9000 and bob.late_penalty == 3 and bob.score == 3, bob
    line = next(line for line in text.splitlines() if " bob:" in line)
    assert "3/6" in line and "late by 2 h 30 min, -3 points" in line, text
    assert "late" not in next(line for line in text.splitlines() if " alice:" in line), text
    with open(root / "grades_by_exercise.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["student"], float(r["seconds_late"]), float(r["late_penalty"])) for r in rows} == {
        ("alice", 0.0, 0.0), ("bob", 9000.0, 3.0)}, rows


@pytest.mark.slow
def test_stock_autograde_with_the_same_configuration_agrees(hub_class):
    _, _, outcomes, _, stock, stock_scores = hub_class
    assert stock.returncode == 0, stock.stderr[-3000:]
    assert stock_scores == {"alice": (6, 0), "bob": (6, 3)}  # nbgrader keeps the raw score beside the penalty
    assert outcomes["bob"].score == stock_scores["bob"][0] - stock_scores["bob"][1]


@pytest.mark.slow
def test_manual_grades_and_comments_survive_a_regrade_and_reach_the_export(hub_class, monkeypatch):
    from nbgrader.api import Gradebook

    from bpcourse_instructor.grading import grade

    root, db, _, _, _, _ = hub_class
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(db.parent.parent / "hub"))
    with Gradebook(f"sqlite:///{db}") as gb:  # what an instructor does in the formgrader
        gb.find_grade("test_max_layer", NAME, NAME, "alice").manual_score = 1.0
        gb.find_comment("max_layer", NAME, NAME, "alice").manual_comment = "Good, but see the hint on ties."
        gb.db.commit()
    assert not grade(root, NAME, ["alice"], workers=1, progress=False)[0].problem
    with Gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_grade("test_max_layer", NAME, NAME, "alice").manual_score == 1.0
        assert gb.find_comment("max_layer", NAME, NAME, "alice").manual_comment == "Good, but see the hint on ties."
    subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to=exported.csv"], cwd=root, check=True,
                   capture_output=True, timeout=300)
    with open(root / "exported.csv", encoding="utf-8") as f:
        alice = next(r for r in csv.DictReader(f) if r["student_id"] == "alice")
    assert float(alice["score"]) == 5.0, alice  # 2 + 2 + the manual 1


def test_nbgrader_autograde_of_an_unreleased_assignment_says_so_in_one_line(tmp_path):
    root = copy_course(tmp_path / "course", with_course=False)
    nbformat.write(_submission(NAME), (root / "submitted" / "alice" / NAME).mkdir(parents=True) or
                   root / "submitted" / "alice" / NAME / f"{NAME}.ipynb")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", NAME], cwd=root, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "none")})
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"{NAME} is not in the gradebook" in result.stderr and "Traceback" not in result.stderr, result.stderr
