"""Grades that say what happened: every exercise has a name (bpcourse_instructor.exercises), which nbgrader's
feedback shows instead of "Test cell", the summary of `bpcourse grade` uses for the points lost, and the
per-exercise CSV written beside grades.csv carries."""

import csv
import os
import re
import subprocess
import sys
from html import escape

import nbformat
import pytest
from conftest import REPO, assignment_names, copy_course
from test_autograde import _DOUBLE_BACKWARD, _submission

from bpcourse_instructor.exercises import exercise_names, names_for

NAMES = assignment_names()
NAME = "03_add_mul_nodes"
EXERCISES = {"test_mul_layer": "Exercise 1 — MulLayer", "test_add_layer": "Exercise 2 — AddLayer",
             "test_max_layer": "Exercise 3 — MaxLayer"}


def _graded_ids(nb):
    return [c.metadata.nbgrader["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") or c.metadata.get("nbgrader", {}).get("task")]


@pytest.mark.parametrize("name", NAMES)
def test_every_graded_cell_has_a_distinct_name(name):
    nb = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
    names = exercise_names(nb)
    graded = _graded_ids(nb)
    assert graded and list(names) == graded, f"{name}: named {list(names)}, graded cells are {graded}"
    assert all(n.strip() for n in names.values()), f"{name}: an empty name in {names}"
    assert len(set(names.values())) == len(names), f"{name}: names repeat: {names}"
    assert not any(mark in n for n in names.values() for mark in ("#", "`", "**")), names
    # The release (what students get) names its exercises the same way.
    release = nbformat.read(REPO / "course" / name / f"{name}.ipynb", as_version=4)
    assert exercise_names(release) == names


def test_names_are_section_headings():
    assert names_for(REPO, NAME) == EXERCISES
    assert names_for(REPO, "02_chain_rule") == {
        "test_numerical_diff": "Exercise 1 (1 point): numerical_diff",
        "test_chain_rule": "Exercise 2 (1 point): dz_dx and dz_dy",
        "test_circuit": "Exercise 3 (2 points): circuit_forward_backward",
        "test_sigmoid_gate": "Exercise 4 (2 points): sigmoid_gate",
        "test_swish_gate": "Exercise 5 (1 point): the planted bug in swish_gate"}
    assert names_for(REPO, "05_affine_layer") == {
        "test_vectorized_example": "Check: cs231n's example, q = Wx and f = sum of q² (2 points)",
        "test_affine_forward": "Check: Affine forward, shapes and parameters held by reference (2 points)",
        "test_affine_backward": "Check: Affine backward (2 points)",
        "test_linear": "Check: the planted bug in Linear, found and fixed (2 points)"}
    assert names_for(REPO, "07_two_layer_net") == {
        "test_two_layer_net": "Exercise · TwoLayerNet", "test_gradient": "2. Gradient check",
        "test_sgd_step": "Exercise · sgd_step", "test_train": "Exercise · train",
        "test_safe_affine": "Exercise · fix SafeAffine", "test_spiral": "Exercise · the spiral target"}


def test_08_names_its_two_network_checks_apart():
    names = names_for(REPO, "08_deep_networks")
    assert list(names) == ["test_multi_layer_net", "test_multi_layer_net_gradient", "test_value"], names
    assert names["test_multi_layer_net"].startswith("Exercise 1 · MultiLayerNet")
    assert names["test_multi_layer_net_gradient"] == "Gradient check, with and without weight decay"
    assert names["test_value"] == "Exercise 2 · Value"


def _cell(kind, source, **nbgrader):
    cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


def test_without_a_heading_the_name_is_what_the_cell_checks():
    nb = nbformat.v4.new_notebook(cells=[
        _cell("md", "# The notebook's title\n\nNo section yet."),
        _cell("code", "class Adder:\n    pass", solution=True, grade=False, grade_id="adder"),
        _cell("code", "assert Adder()", grade=True, grade_id="test_adder", points=1),
        _cell("code", "assert Adder() and scale", grade=True, grade_id="test_adder_again", points=1),
        _cell("md", "## Section\n```\n# not a heading: inside a code block\n```"),
        _cell("code", "def scale(x):\n    return x", solution=True, grade=False, grade_id="scale"),
        _cell("code", "assert scale(1) == 1", grade=True, grade_id="test_scale", points=1),
        _cell("code", "assert scale(2) == 2", grade=True, grade_id="test_scale_2", points=1),
        _cell("md", "### `Scale` **again** [docs](https://example.org)"),
        _cell("code", "assert scale(3) == 3", grade=True, grade_id="test_scale_3", points=1),
    ])
    assert exercise_names(nb) == {
        "test_adder": "Adder (test_adder)",  # the title names nothing; repeated names are told apart
        "test_adder_again": "Adder (test_adder_again)",
        "test_scale": "Section (test_scale)",  # the heading, not the '#' line of the code block
        "test_scale_2": "Section (test_scale_2)",
        "test_scale_3": "Scale again docs",
    }
    nb = nbformat.v4.new_notebook(cells=[
        _cell("md", "## Two layers"),
        _cell("code", "class Left:\n    pass", solution=True, grade=False, grade_id="left"),
        _cell("code", "assert Left()", grade=True, grade_id="test_left", points=1),
        _cell("code", "class Right:\n    pass", solution=True, grade=False, grade_id="right"),
        _cell("code", "assert Right()", grade=True, grade_id="test_right", points=1),
    ])
    assert exercise_names(nb) == {"test_left": "Two layers (Left)", "test_right": "Two layers (Right)"}


def test_feedback_template_escapes_the_names():
    """The names reach the page escaped, in the table of contents and at the cell."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    app = GenerateFeedback(coursedir=CourseDirectory(root=str(REPO)), config=config)
    exporter = HTMLExporter(parent=app, config=app.config)  # as GenerateFeedback.start makes it
    nb = nbformat.v4.new_notebook(cells=[_cell("code", "assert True", grade=True, grade_id="test_x", points=2,
                                               score=1.0)])
    hostile = "<script>alert(1)</script> & co"
    html, _ = exporter.from_notebook_node(nb, resources={
        "nbgrader": {"notebook": "nb", "score": 1.0, "max_score": 2.0, "late_penalty": 0},
        "bpcourse_exercises": {"test_x": hostile}})
    assert hostile not in html and "<script>alert" not in html
    assert html.count(escape(hostile, quote=False)) == 2, "the name is not in the contents and at the cell"


# ------------------------------------------------------------------ a tiny class, end to end

def _nbgrader(root, *args):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def named_class(tmp_path_factory):
    """alice hands in notebook 03 solved; bob with a wrong MaxLayer, and the heading above its test cell
    rewritten to claim full marks. Graded in two runs of `bpcourse grade` (alice, then bob), then nbgrader's
    feedback for both."""
    from bpcourse_instructor.course import release
    from bpcourse_instructor.grading import grade, summary

    root = copy_course(tmp_path_factory.mktemp("named"))
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    release(root, [NAME])
    bob = _submission(NAME, ("max_layer", _DOUBLE_BACKWARD.format(cls="MaxLayer")))
    heading = next(c for c in bob.cells if c.cell_type == "markdown" and "Exercise 3" in c.source)
    heading.source = heading.source.replace("### Exercise 3 — `MaxLayer`", "### Full marks here")
    for student, nb in {"alice": _submission(NAME), "bob": bob}.items():
        (root / "submitted" / student / NAME).mkdir(parents=True)
        nbformat.write(nb, root / "submitted" / student / NAME / f"{NAME}.ipynb")
    cwd = os.getcwd()
    try:
        os.chdir(root)
        texts = {s: summary(grade(root, NAME, [s], workers=1, timeout=10, progress=False)) for s in ("alice", "bob")}
    finally:
        os.chdir(cwd)
    _nbgrader(root, "generate_feedback", NAME)
    return root, texts


def _toc(html):
    return re.search(r'<div id="toc">(.*?)</div>', html, re.S).group(1)


@pytest.mark.slow
def test_the_summary_names_the_exercises_that_lost_points(named_class):
    _, texts = named_class
    bob = next(line for line in texts["bob"].splitlines() if f"{NAME} bob:" in line)
    assert bob.strip() == f"{NAME} bob: 4/6  lost: Exercise 3 — MaxLayer (0/2)", texts["bob"]
    alice = next(line for line in texts["alice"].splitlines() if f"{NAME} alice:" in line)
    assert alice.strip() == f"{NAME} alice: 6/6", texts["alice"]
    assert "per exercise to grades_by_exercise.csv" in texts["bob"]


@pytest.mark.slow
def test_the_csv_has_every_graded_exercise_of_every_student_so_far(named_class):
    root, _ = named_class
    with open(root / "grades_by_exercise.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    got = [(r["assignment"], r["student"], r["notebook"], r["grade_id"], r["exercise"], float(r["score"]),
            float(r["max_score"])) for r in rows]
    expected = [(NAME, student, NAME, cell, name, 0.0 if (student, cell) == ("bob", "test_max_layer") else 2.0, 2.0)
                for student in ("alice", "bob") for cell, name in EXERCISES.items()]
    assert got == expected  # alice was graded in an earlier run: the CSV is written from the gradebook


@pytest.mark.slow
def test_the_feedback_calls_each_exercise_by_its_name(named_class):
    from bpcourse_instructor.course import nbgrader_api

    root, _ = named_class
    for student in ("alice", "bob"):
        html = (root / "feedback" / student / NAME / f"{NAME}.html").read_text(encoding="utf-8")
        toc = _toc(html)
        assert "Test cell" not in toc and "Full marks here" not in toc, toc
        for cell, name in EXERCISES.items():
            score = "0.0" if (student, cell) == ("bob", "test_max_layer") else "2.0"
            assert f'<a href="#{cell}">{escape(name)}</a> (Score: {score} / 2.0)' in toc, f"{student}: {toc}"
            # ... and at the cell: its panel is headed by the name
            assert re.search(rf'<a name="{cell}"></a>\s*<div class="panel-heading">\s*'
                             rf'<span class="nbgrader-label">{re.escape(escape(name))} <code>{cell}</code>', html), \
                f"{student}: the panel of {cell} is not headed {name!r}"
        assert "Grade cell:" not in html
    # The same through nbgrader's API (the formgrader's "generate feedback"), which resets the template name.
    result = nbgrader_api(root).generate_feedback(NAME, "bob", force=True)
    assert result["success"], result.get("error")
    html = (root / "feedback" / "bob" / NAME / f"{NAME}.html").read_text(encoding="utf-8")
    assert f'<a href="#test_max_layer">{escape(EXERCISES["test_max_layer"])}</a> (Score: 0.0 / 2.0)' in _toc(html)


@pytest.mark.slow
def test_a_roster_fills_the_export_and_a_missing_hand_in_scores_zero(named_class):
    """What the README tells instructors: `nbgrader db student import roster.csv`, then `nbgrader export`."""
    root, _ = named_class
    (root / "roster.csv").write_text("id,first_name,last_name,email\nalice,Alice,Kim,alice@example.org\n"
                                     "bob,Bob,Lee,bob@example.org\ncarol,Carol,Park,carol@example.org\n")
    _nbgrader(root, "db", "student", "import", "roster.csv")
    _nbgrader(root, "export")
    with open(root / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == NAME}
    assert (rows["alice"]["first_name"], rows["alice"]["last_name"], rows["alice"]["email"]) == \
        ("Alice", "Kim", "alice@example.org")
    assert {s: float(r["score"]) for s, r in rows.items()} == {"alice": 6.0, "bob": 4.0, "carol": 0.0}
