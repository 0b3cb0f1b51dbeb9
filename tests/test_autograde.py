"""End to end with the stock nbgrader commands, as an instructor would run them.

Three students per assignment: one hands in the solutions, one the untouched release, one the
solutions with a single backward made wrong. The gradebook must give full marks, zero, and
"everything but that exercise". Each Korean edition gets the solutions (full marks through stock nbgrader);
its blank and spoiled hand-ins are graded beside the English ones in tests/test_editions_grading.py.
"""

import csv
import os
import subprocess
import sys
from html import escape as html_escape

import nbformat
import pytest
from conftest import NEEDS_MNIST, REPO, assignment_names, copy_course, skip_without_mnist

NAMES = assignment_names()
ENGLISH = [n for n in NAMES if not n.endswith("_ko")]
KOREAN_BY_NBGRADER = "03_add_mul_nodes_ko"  # a Korean edition through nbgrader's own command line

# For each assignment: the solution cell to spoil, code appended to it that breaks its backward
# (the gradients come out doubled), and the test cells that must lose their points.
_DOUBLE_BACKWARD = """
_right_backward = {cls}.backward
def _doubled(self, *args):
    grads = _right_backward(self, *args)
    return type(grads)(2 * g for g in grads) if isinstance(grads, (tuple, list)) else 2 * grads
{cls}.backward = _doubled
"""
WRONG = {
    "01_computational_graphs": ("backward", """
_right_backward = backward
def backward(nodes, values):
    return {k: 2 * v for k, v in _right_backward(nodes, values).items()}
""", {"test_backward"}),
    "03_add_mul_nodes": ("mul_layer", _DOUBLE_BACKWARD.format(cls="MulLayer"), {"test_mul_layer"}),
    "04_activation_layers": ("relu", _DOUBLE_BACKWARD.format(cls="Relu"), {"test_relu"}),
    "02_chain_rule": ("sigmoid_gate", """
_right_gate = sigmoid_gate
def sigmoid_gate(w, x):
    f, dw, dx = _right_gate(w, x)
    return f, [2 * g for g in dw], [2 * g for g in dx]
""", {"test_sigmoid_gate"}),
    "05_affine_layer": ("affine", _DOUBLE_BACKWARD.format(cls="Affine"), {"test_affine_backward"}),
    "07_two_layer_net": ("two_layer_net", """
_right_gradient = TwoLayerNet.gradient
TwoLayerNet.gradient = lambda self, x, t: {k: 2 * v for k, v in _right_gradient(self, x, t).items()}
""", {"test_gradient"}),
    "06_softmax_with_loss": ("softmax_with_loss", _DOUBLE_BACKWARD.format(cls="SoftmaxWithLoss"),
                             {"test_softmax_with_loss"}),
    "08_deep_networks": ("multi_layer_net", """
_right_gradient = MultiLayerNet.gradient
MultiLayerNet.gradient = lambda self, x, t: {k: 2 * v for k, v in _right_gradient(self, x, t).items()}
""", {"test_multi_layer_net_gradient"}),
}


# Correct answers written the way the textbook writes them, each with a habit stock nbgrader punishes or a
# strict checker might: ReLU backward writing into dout, a Sigmoid whose exp overflows (NumPy prints a
# RuntimeWarning on stderr) while its values stay right, a loss backward that ignores dout. Full marks.
TEXTBOOK_STYLE = {
    "04_activation_layers": {
        "relu": """
class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        y = np.array(x, dtype=float, copy=True)
        y[self.mask] = 0.0
        return y

    def backward(self, dout):
        dout[self.mask] = 0.0  # in place, and handed back
        return dout
""",
        "sigmoid": """
class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))  # exp overflows for x < -709: a warning, yet the value is right
        return self.out

    def backward(self, dout):
        return dout * self.out * (1.0 - self.out)
""",
    },
    "06_softmax_with_loss": {
        "softmax_with_loss": """
class SoftmaxWithLoss:
    def __init__(self):
        self.y = self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        return cross_entropy_error(self.y, t)

    def backward(self, dout=1):  # dout is always 1 here, so it is ignored
        n = self.y.shape[0]
        if np.ndim(self.t) == np.ndim(self.y):
            return (self.y - self.t) / n
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n
""",
    },
}


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def _submission(name: str, wrong: tuple | None = None, styled: dict | None = None):
    """The released notebook with its solution cells filled in from solutions/ as a student would."""
    course = nbformat.read(REPO / "course" / name / f"{name}.ipynb", as_version=4)
    solved = {c.metadata.nbgrader["grade_id"]: c.source
              for c in nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4).cells
              if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in course.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = _strip_markers(solved[meta["grade_id"]])
            if styled and meta["grade_id"] in styled:
                cell.source = styled[meta["grade_id"]]
            if wrong and meta["grade_id"] == wrong[0]:
                cell.source += "\n" + wrong[1]
    return course


def _nbgrader(root, *args):
    # nbgrader runs alembic (gradebook migrations) from PATH: make it the one beside this Python.
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True,
                            text=True, timeout=900, env=env)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from bpcourse_instructor.course import release

    root = copy_course(tmp_path_factory.mktemp("class"))
    # nbgrader's own command releases the first; the rest are released in this process by the same nbgrader code
    # (bpcourse release), which saves a start-up per notebook; tests/test_notebooks.py compares every release.
    _nbgrader(root, "generate_assignment", NAMES[0], "--force")
    release(root, NAMES[1:])
    for name in NAMES:
        students = {"full": _submission(name)}
        if name in ENGLISH:
            students["blank"] = nbformat.read(REPO / "course" / name / f"{name}.ipynb", as_version=4)
        if name in WRONG:
            students["onewrong"] = _submission(name, WRONG[name])
        if name in TEXTBOOK_STYLE:
            students["textbook"] = _submission(name, styled=TEXTBOOK_STYLE[name])
        for student, nb in students.items():
            path = root / "submitted" / student / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
        if name in NEEDS_MNIST and not os.environ.get("BPCOURSE_DATA_DIR"):
            continue  # the grader must have MNIST before grading 07 (bpcourse_instructor.preparation.fetch_data)
        if name in ENGLISH or name == KOREAN_BY_NBGRADER:
            _nbgrader(root, "autograde", name)
    # The other Korean editions in one `bpcourse grade` run: the same grading as nbgrader's command (nbgrader_config.py
    # installs it there), one start-up instead of seven.
    rest = [n for n in _graded_names() if n not in ENGLISH and n != KOREAN_BY_NBGRADER]
    result = subprocess.run([sys.executable, "-m", "bpcourse_instructor.cli", "grade", *rest, "--edition", "ko",
                             "--workers", "2"], cwd=root, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def _graded_names() -> set:
    """The assignments the fixture graded: 07 only where MNIST is at hand."""
    return {n for n in NAMES if n not in NEEDS_MNIST or os.environ.get("BPCOURSE_DATA_DIR")}


def _scores(root, name, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(name, name, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades if g.max_score}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_solutions_get_full_marks_and_the_release_gets_zero(graded, name):
    skip_without_mnist(name)
    full = _scores(graded, name, "full")
    assert full and all(score == top for score, top in full.values()), f"{name}: {full}"
    if name not in ENGLISH:
        return
    blank = _scores(graded, name, "blank")
    assert all(score == 0 for score, _ in blank.values()), f"{name}: {blank}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(TEXTBOOK_STYLE) & set(NAMES)))
def test_textbook_style_answers_get_full_marks(graded, name):
    skip_without_mnist(name)
    scores = _scores(graded, name, "textbook")
    assert scores and all(score == top for score, top in scores.values()), f"{name}: {scores}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(WRONG) & set(NAMES)))
def test_one_wrong_backward_costs_only_its_exercise(graded, name):
    skip_without_mnist(name)
    scores = _scores(graded, name, "onewrong")
    lost = {cell for cell, (score, top) in scores.items() if score < top}
    expected = WRONG[name][2]
    assert lost, f"{name}: a doubled backward in {WRONG[name][0]} lost no points: {scores}"
    assert lost == expected, f"{name}: lost points in {lost}, expected only {expected}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(WRONG) & set(NAMES)))
def test_feedback_explains_failures_without_hidden_test_source(graded, name):
    skip_without_mnist(name)
    result = _nbgrader(graded, "generate_feedback", name, "--student", "onewrong")
    assert "display_data_priority" not in result.stdout + result.stderr  # no configuration noise
    html = (graded / "feedback" / "onewrong" / name / f"{name}.html").read_text()
    assert "grader_tests" not in html and "BEGIN HIDDEN TESTS" not in html
    # What the student needs does reach them: each failing check's message.
    autograded = nbformat.read(graded / "autograded" / "onewrong" / name / f"{name}.ipynb", as_version=4)
    messages = [o.evalue.splitlines()[0] for c in autograded.cells for o in c.get("outputs", [])
                if o.output_type == "error" and o.evalue.strip()]
    assert messages, f"{name}: no failing check in the spoiled submission"
    for message in messages:
        assert html_escape(message, quote=False) in html, f"{name}: feedback lacks {message!r}"


@pytest.mark.slow
def test_export_writes_grades_for_every_student(graded):
    _nbgrader(graded, "export")
    with open(graded / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    full = {r["assignment"]: float(r["score"]) for r in rows if r["student_id"] == "full"}
    blank = {r["assignment"]: float(r["score"]) for r in rows if r["student_id"] == "blank"}
    # Every released assignment has a row; one not graded here (07 without MNIST) shows 0, as a missing hand-in.
    assert set(full) == set(NAMES) and all((v > 0) == (a in _graded_names()) for a, v in full.items()), full
    assert all(v == 0 for v in blank.values())
