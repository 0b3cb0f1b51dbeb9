"""Grading that deserves trust, tried the way a determined student or a careless instructor would.

One `bpcourse grade` run over notebooks 03, 04 and 06 grades, beside untouched correct and blank hand-ins, a
student per case below:
- answers that steer the numerical reference (a forward that answers differently near the checked point) with a
  wrong backward; correct code in float32 and longdouble, wrong code in float32, float16; a softmax that
  overflows on large scores;
- hand-ins that are not plain files: links, pipes and link folders must never bring anything into the grading (a
  link to `solutions/` used to hand the kernel the instructor's notebook), and one odd file must not stop the run;
- edited nbgrader metadata, which must not cost the student the notebook: the release decides what is graded;
- leftovers: daemons, huge outputs and writes outside the notebook's folder (asserted in tests/test_leftovers.py).
Every repair or refusal says what happened in the summary and, for graded students, in nbgrader's feedback.
"""

import json
import os
import re
import sys

import nbformat
import pytest
from conftest import copy_course
from test_autograde import _DOUBLE_BACKWARD, _submission

NAME = "03_add_mul_nodes"
NB = f"{NAME}.ipynb"
NB04, NB06 = "04_activation_layers", "06_softmax_with_loss"
FULL = {"test_mul_layer": 2.0, "test_add_layer": 2.0, "test_max_layer": 2.0}
POINTS = {NAME: FULL, NB04: {"test_relu": 2.0, "test_sigmoid": 3.0},
          NB06: {"test_softmax": 2.0, "test_cross_entropy_error": 2.0, "test_softmax_with_loss": 3.0}}
NONE = set(FULL)
# Modules whose trial_cases(root) add students to the one graded run, in the same form as _cases below.
CASE_MODULES = ["test_leftovers", "test_isolation"]

# Answers that steer the numerical reference (right at every point first seen, different at a nudged copy or
# when a differentiation routine is on the stack) with a backward that is wrong exactly where they steer.
STEERING_MUL = """
class MulLayer:
    seen = []

    def __init__(self):
        self.x = self.y = None

    def forward(self, x, y):
        self.x, self.y = x, y
        if np.ndim(x) == 0:
            return x * y
        for px, py, out in MulLayer.seen:
            if np.shape(px) == np.shape(x) and 0 < np.abs(x - px).max() + np.abs(y - py).max() < 1e-3:
                return out  # a nudged copy of a point seen before: answer as at that point
        out = x * y
        MulLayer.seen.append((np.array(x, dtype=float), np.array(y, dtype=float), out))
        return out

    def backward(self, dout):
        if np.ndim(dout) == 0:
            return dout * self.y, dout * self.x
        return np.zeros(np.shape(dout)), np.zeros(np.shape(dout))
"""
STEERING_RELU = """
import inspect

class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        if any(word in f.function for f in inspect.stack()[1:6] for word in ("num", "vjp", "grad")):
            return np.zeros(np.shape(x))  # flat while being differentiated
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        if np.shape(dout) == (3, 4):
            return np.zeros(np.shape(dout))
        return np.where(self.mask, 0.0, dout)
"""
# Points that a kernel's own output would decide: a result emitted before every cell (nbgrader reads a number
# there as partial credit), and checks replaced by functions returning a string (a result read as full marks).
RESULT_HOOK = """
_ip = get_ipython()
_ip.events.register("pre_run_cell", lambda *args: _ip.displayhook(2))
raise NotImplementedError()
"""
STRING_CHECKS = """
import grader_tests.nb03
for _name in ("check_mul_layer", "check_add_layer", "check_max_layer"):
    setattr(grader_tests.nb03, _name, lambda *args: "all hidden tests passed")
"""
# A kernel leaves links in the folder it runs in, for the unconfined grader to follow afterwards: the graded
# notebook's own name pointing at a file of the instructor's (written and chmod-ed by nbgrader), and links to
# solutions/ and a classmate's hand-in (copied into feedback).
PLANT_LINKS = """
import os
for _name, _target in {links!r}.items():
    try:
        if os.path.lexists(_name):
            os.remove(_name)
        os.symlink(_target, _name)
    except OSError as exc:
        print("could not plant", _name, exc)
"""
# Scripts and event handlers in outputs and in a Markdown cell, for whoever opens the graded notebook.
SCRIPTS = """
from IPython.display import HTML, Javascript, display
display(HTML("<b>bold</b><script>window.EVIL_SCRIPT = 1</script><img src=x onerror='window.EVIL_IMG = 1'>"))
display(Javascript("window.EVIL_JS = 1"))
"""
# Sleeps in every exercise and hangs in the last: without a budget for the whole notebook the restart's replay
# of the sleeping cells would hold its worker far beyond the time any cell is allowed.
SLEEPS = "\nimport time\ntime.sleep(5)\n"
HANGS = """
while True:
    try:
        time.sleep(100)
    except KeyboardInterrupt:
        pass
"""
BUDGET = 30  # seconds per notebook in this trial: the slowest honest notebook here needs about 10
# Correct code in other precisions, and a right answer in float32 with the classic mistake.
FLOAT32_MUL = """
class MulLayer:
    def __init__(self):
        self.x = self.y = None

    def forward(self, x, y):
        self.x, self.y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
        return self.x * self.y

    def backward(self, dout):
        dout = np.asarray(dout, dtype=np.float32)
        return dout * self.{a}, dout * self.{b}
"""
LONGDOUBLE_SIGMOID = """
class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = np.exp(-np.logaddexp(0, -np.asarray(x, dtype=np.longdouble)))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)
"""
FLOAT16_RELU = """
class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = np.asarray(x) <= 0
        return np.where(self.mask, 0, x).astype(np.float16)

    def backward(self, dout):
        return np.where(self.mask, 0, dout).astype(np.float16)
"""
# Exponentiates the scores as they are: right for small scores, inf / inf = nan for large ones.
NAIVE_SOFTMAX_WITH_LOSS = """
class SoftmaxWithLoss:
    def __init__(self):
        self.loss = self.y = self.t = None

    def forward(self, x, t):
        self.t = np.asarray(t)
        e = np.exp(x)
        self.y = e / np.sum(e, axis=-1, keepdims=True)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        n = self.y.shape[0]
        dx = self.y.copy()
        if self.t.size == self.y.size:
            dx -= self.t
        else:
            dx[np.arange(n), self.t] -= 1.0
        return dx * dout / n
"""

# A blank notebook whose first exercise cell takes every solution from a file beside it, as it would
# if a link to the instructor's solutions/ came into the grading folder.
_READ_BESIDE = """
import json, pathlib
for _c in json.loads(pathlib.Path({path!r}).read_text())["cells"]:
    if _c["metadata"].get("nbgrader", {{}}).get("solution"):
        exec("".join(_c["source"]))
"""


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _blank():
    return nbformat.read(os.path.join(os.path.dirname(__file__), "..", "course", NAME, NB), as_version=4)


def _reads_beside(path):
    nb = _blank()
    cell = _cell(nb, "mul_layer")
    cell.source = _READ_BESIDE.format(path=path)
    return nb


def _cases(root):
    """student -> (how to lay out the hand-in, cells that lose their points or None if refused, words)."""
    solutions = root / "solutions" / NAME
    wrong_mul = _DOUBLE_BACKWARD.format(cls="MulLayer")

    def marked(grade_id, **changes):
        nb = _submission(NAME)
        _cell(nb, grade_id).metadata.nbgrader.update(changes)
        return nb

    new_cell = nbformat.v4.new_code_cell("bonus = 1")
    new_cell.metadata["nbgrader"] = {"grade": True, "grade_id": "my_bonus", "points": 10, "solution": False,
                                     "locked": False, "schema_version": 3}
    with_new = _submission(NAME)
    with_new.cells.append(new_cell)

    remarked_wrong = _submission(NAME, ("mul_layer", wrong_mul))
    test = _cell(remarked_wrong, "test_mul_layer")
    test.source = "print('all good')"
    test.metadata.nbgrader.update(solution=True, locked=False)

    as_markdown = _submission(NAME)
    i = as_markdown.cells.index(_cell(as_markdown, "test_add_layer"))
    old = as_markdown.cells[i]
    as_markdown.cells[i] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata, id=old.id)

    garbage = _submission(NAME)
    garbage.cells[0].metadata["nbgrader"] = "not a dict"

    def styled(name, grade_id, source):
        return {f"{name}.ipynb": _submission(name, styled={grade_id: source})}

    from test_grading import _FOOL_THE_KERNEL

    wrong = _submission(NAME, ("mul_layer", _DOUBLE_BACKWARD.format(cls="MulLayer")))
    for gid, cls in (("add_layer", "AddLayer"), ("max_layer", "MaxLayer")):
        _cell(wrong, gid).source += "\n" + _DOUBLE_BACKWARD.format(cls=cls)
    _cell(wrong, "max_layer").source += _FOOL_THE_KERNEL + STRING_CHECKS
    hooked = _blank()
    _cell(hooked, "mul_layer").source = RESULT_HOOK
    planted = _submission(NAME)
    _cell(planted, "max_layer").source += PLANT_LINKS.format(links={
        NB: str(root / "victim.txt"), "answers": str(root / "solutions"),
        "classmate": str(root / "submitted" / "full")})
    scripted = _submission(NAME)
    _cell(scripted, "add_layer").source += SCRIPTS
    scripted.cells.insert(1, nbformat.v4.new_markdown_cell(
        "<script>window.EVIL_MARKDOWN = 1</script><img src=x onerror='window.EVIL_MARKDOWN = 2'>"))
    slow = _submission(NAME)
    for gid in ("mul_layer", "add_layer"):
        _cell(slow, gid).source += SLEEPS
    _cell(slow, "max_layer").source += SLEEPS + HANGS
    others = {
        # Nothing the grader does after a kernel ran follows a path the kernel made
        (NAME, "plants_links"): ({NB: planted}, set(), ""),
        # Only inert content reaches whoever opens the graded notebook
        (NAME, "scripts"): ({NB: scripted}, set(), ""),
        # A budget for the whole notebook
        (NAME, "time_hog"): ({NB: slow}, {"test_max_layer"}, ""),
        # Graded now, then handed in again unreadable (after this run, in the fixture)
        (NAME, "resubmits"): ({NB: _submission(NAME)}, set(), ""),
        # Points follow the judge's verdict alone, never a result the kernel emits
        (NAME, "result_hook"): ({NB: hooked}, NONE, ""),
        (NAME, "checks_return_strings"): ({NB: wrong}, NONE, ""),
        (NB04, "full"): ({f"{NB04}.ipynb": _submission(NB04)}, set(), ""),
        (NB06, "full"): ({f"{NB06}.ipynb": _submission(NB06)}, set(), ""),
        # The reference is the notebook's formula, not the student's forward
        (NAME, "steering_forward"): (styled(NAME, "mul_layer", STEERING_MUL), {"test_mul_layer"}, ""),
        (NB04, "steering_stack"): (styled(NB04, "relu", STEERING_RELU), {"test_relu"}, ""),
        # Any precision
        (NAME, "float32"): (styled(NAME, "mul_layer", FLOAT32_MUL.format(a="y", b="x")), set(), ""),
        (NAME, "float32_swapped"): (styled(NAME, "mul_layer", FLOAT32_MUL.format(a="x", b="y")),
                                    {"test_mul_layer"}, ""),
        (NB04, "longdouble"): (styled(NB04, "sigmoid", LONGDOUBLE_SIGMOID), set(), ""),
        (NB04, "float16"): (styled(NB04, "relu", FLOAT16_RELU), {"test_relu"}, ""),
        (NB06, "naive_exp"): (styled(NB06, "softmax_with_loss", NAIVE_SOFTMAX_WITH_LOSS),
                              {"test_softmax_with_loss"}, ""),
    }
    return others | _contributed(root) | {(NAME, student): case for student, case in {
        "full": ({NB: _submission(NAME)}, set(), ""),
        "blank": ({NB: _blank()}, NONE, ""),
        # Not plain files
        "link_to_solutions": ({NB: _reads_beside("answers/" + NB), "answers": ("link", solutions)}, NONE,
                              "left out answers: a symbolic link"),
        "file_link_to_solutions": ({NB: _reads_beside("answers.json"), "answers.json": ("link", solutions / NB)},
                                   NONE, "left out answers.json: a symbolic link"),
        "notebook_is_a_link": ({NB: ("link", solutions / NB)}, None, "is a symbolic link"),
        "folder_is_a_link": (("link", solutions), None, "is a symbolic link, not a folder"),
        "dangling_link": ({NB: _submission(NAME), "data.npy": ("link", root / "no" / "such" / "file")}, set(),
                          "left out data.npy: a symbolic link"),
        "named_pipe": ({NB: _submission(NAME), "pipe": ("fifo",)}, set(), "left out pipe: a named pipe"),
        "nested_link": ({NB: _reads_beside("more/answers/" + NB), "more/answers": ("link", solutions)}, NONE,
                        "left out more/answers: a symbolic link"),
        # Edited metadata: the release decides
        "new_grade_id": ({NB: with_new}, set(), "'my_bonus' carried grading marks the release does not have"),
        "test_marked_solution": ({NB: marked("test_mul_layer", solution=True, locked=False)}, set(),
                                 "'test_mul_layer' had edited grading metadata"),
        "remarked_and_wrong": ({NB: remarked_wrong}, {"test_mul_layer"}, "'test_mul_layer' had edited"),
        "points_changed": ({NB: marked("test_max_layer", points=50)}, set(), "points: 50 -> 2"),
        "solution_marked_test": ({NB: marked("add_layer", grade=True, solution=False, points=5)}, set(),
                                 "'add_layer' had edited grading metadata"),
        "test_as_markdown": ({NB: as_markdown}, set(), "cell type: markdown -> code"),
        "garbage_metadata": ({NB: garbage}, set(), "carried grading marks the release does not have"),
    }.items()}


def _contributed(root) -> dict:
    """The cases other test modules add to this one run (they assert on them, reading the `trial` fixture)."""
    import importlib

    contributed = {}
    for module in CASE_MODULES:
        contributed |= importlib.import_module(module).trial_cases(root)
    return contributed


def _lay_out(folder, layout):
    if isinstance(layout, tuple):  # the assignment folder itself is a link
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(layout[1], folder)
        return
    folder.mkdir(parents=True)
    for name, what in layout.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(what, nbformat.NotebookNode):
            path.write_text(json.dumps(what))  # as it was handed in, unvalidated
        elif what[0] == "link":
            os.symlink(what[1], path)
        elif what[0] == "fifo":
            os.mkfifo(path)


def _handed_in(root, names=tuple(POINTS), keep=None):
    """A scratch class with the trial's cases of ``names`` handed in (if ``keep`` is given: only its students and
    the contributed ones), and the instructor's file beside it."""
    from bpcourse_instructor.course import release

    copy_course(root)
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    release(root, list(names))
    kept = None if keep is None else set(_contributed(root)) | {(name, s) for name in names for s in keep}
    cases = {key: case for key, case in _cases(root).items() if key[0] in names and (kept is None or key in kept)}
    for (name, student), (layout, _, _) in cases.items():
        _lay_out(root / "submitted" / student / name, layout)
    victim = root / "victim.txt"
    victim.write_text("the instructor's file")
    victim.chmod(0o600)
    return root, cases


def run_trial(tmp_path_factory):
    """The one graded run: every case above, with the bystanders. It is the session fixture ``trial``
    (tests/conftest.py), which the modules in CASE_MODULES read too."""
    from bpcourse_instructor.grading import grade, summary

    root, cases = _handed_in(tmp_path_factory.mktemp("trust"))
    cwd = os.getcwd()
    try:
        os.chdir(root)
        outcomes = {(o.assignment, o.student): o for o in grade(
            root, list(POINTS), workers=2, timeout=10, notebook_timeout=BUDGET, progress=False)}
        # A resubmission that cannot be graded must not keep the earlier score.
        (root / "submitted" / "resubmits" / NAME / NB).write_text("{ not a notebook")
        regraded = grade(root, NAME, ["resubmits"], workers=1, progress=False, export="regraded.csv")
    finally:
        os.chdir(cwd)
    return root, cases, outcomes, summary(list(outcomes.values())), regraded


# Graded once more by nbgrader's own entry points: the hostile battery of notebook 03 (every student the isolation
# and leftovers modules add, and one case of each kind of the trial's own), by `nbgrader autograde` in one batch;
# then a few of them by NbGraderAPI.autograde, one student at a time (the formgrader's button; each call starts its
# own workers). tests/test_browser.py clicks the button itself for a correct, a tampering and a refused hand-in.
BATCH = ["full", "blank", "link_to_solutions", "notebook_is_a_link", "named_pipe", "new_grade_id", "plants_links",
         "steering_forward", "result_hook"]
ONE_BY_ONE = ["named_pipe", "daemon"]


@pytest.fixture(scope="module")
def by_nbgrader(tmp_path_factory):
    """The hostile battery in a class of its own, graded by nbgrader's own entry points, which nbgrader_config.py
    points at bpcourse's pipeline (bpcourse_instructor.hub): BATCH and the contributed students by `nbgrader
    autograde` in one batch, then ONE_BY_ONE by NbGraderAPI.autograde. Returns the cases, the verdicts after the
    batch and after the one-by-one regrade, the command's result and the API's answers."""
    import subprocess

    from conftest import gradebook_verdicts

    from bpcourse_instructor.course import nbgrader_api

    root, cases = _handed_in(tmp_path_factory.mktemp("trust_by_nbgrader"), [NAME], BATCH)
    options = ["--Execute.timeout=10", f"--CourseAutograde.notebook_timeout={BUDGET}"]
    commands = {NAME: subprocess.run([sys.executable, "-m", "nbgrader", "autograde", NAME, "--force", *options],
                                     cwd=root, capture_output=True, text=True, timeout=900)}
    batch = gradebook_verdicts(root, cases)
    sample = ONE_BY_ONE
    api = nbgrader_api(root, options)
    cwd = os.getcwd()
    try:
        os.chdir(root)
        buttons = {s: api.autograde(NAME, s)["success"] for s in sample}
    finally:
        os.chdir(cwd)
    return cases, batch, gradebook_verdicts(root, [(NAME, s) for s in sample]), commands, buttons


@pytest.mark.slow
def test_nbgrader_autograde_and_the_formgrader_path_agree_with_bpcourse_grade(by_nbgrader):
    """Issue: on the hostile battery stock autograde in one batch got 0 of 11 right. Through nbgrader's own command
    and the formgrader's API call, every hand-in gets what it deserves, the verdict test_each_case_scores_what_it_
    deserves demands of bpcourse grade (compared with the expectation, so this class is graded on its own and never
    waits for the trial)."""
    cases, batch, one_by_one, commands, buttons = by_nbgrader
    deserved = {key: None if loses is None else {cell: 0.0 if cell in loses else top for cell, top in FULL.items()}
                for key, (_, loses, _) in cases.items()}
    differ = [f"{'/'.join(key)}: deserves {deserved[key]}, nbgrader autograde gave {batch[key]}"
              for key in cases if deserved[key] != batch[key]]
    differ += [f"{'/'.join(key)}: deserves {deserved[key]}, NbGraderAPI.autograde gave {got}"
               for key, got in one_by_one.items() if deserved[key] != got]
    assert not differ, "\n".join(differ)
    refused = {s for (name, s), (_, loses, _) in cases.items() if name == NAME and loses is None}
    assert refused and commands[NAME].returncode == 1, commands[NAME].stderr[-2000:]  # after grading the rest
    assert len(cases) >= 15 and {s for s, ok in buttons.items() if not ok} == refused & set(buttons), buttons


@pytest.mark.slow
def test_each_case_scores_what_it_deserves(trial):
    _, cases, outcomes, *_ = trial
    wrong = []
    for key, (_, loses, _) in cases.items():
        o, student = outcomes[key], "/".join(key)
        if loses is None:
            if not o.problem:
                wrong.append(f"{student}: graded {o.score}, should have been refused")
            continue
        if o.problem:
            wrong.append(f"{student}: not graded: {o.problem}")
            continue
        expected = {cell: 0.0 if cell in loses else top for cell, top in POINTS[key[0]].items()}
        got = {cell: score for cell, (score, _) in o.cells.items()}
        if got != expected:
            wrong.append(f"{student}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.slow
def test_the_summary_says_what_happened_to_each(trial):
    _, cases, outcomes, text, _ = trial
    for key, (_, _, words) in cases.items():
        student = "/".join(key)
        if words:
            said = outcomes[key].problem or "; ".join(outcomes[key].changes)
            assert words in said, f"{student}: {said!r}"
            assert words in text, f"{student}: the summary does not say {words!r}"


@pytest.mark.slow
def test_nothing_of_the_instructors_reaches_the_grading_folders(trial):
    root = trial[0]
    marker = "### BEGIN SOLUTION"
    for top in ("build/grading/submitted", "autograded"):
        for path in (root / top).rglob("*"):
            assert not path.is_symlink(), f"{path} is a link"
            if path.is_file():
                assert marker not in path.read_text(errors="replace"), f"{path} holds the instructor's solutions"


@pytest.mark.slow
def test_graded_students_are_told_in_their_feedback(trial):
    from bpcourse_instructor.course import nbgrader_api

    root, cases, outcomes, *_ = trial
    api = nbgrader_api(root)
    for student in ("dangling_link", "test_marked_solution", "new_grade_id", "link_to_solutions"):
        result = api.generate_feedback(NAME, student, force=True)
        assert result["success"], result.get("error")
        html = (root / "feedback" / student / NAME / f"{NAME}.html").read_text()
        assert "Note from the grader" in html, student
        assert "BEGIN HIDDEN TESTS" not in html and "check_mul_layer(MulLayer)" not in html
    # ... and nobody is told about repairs that were not made.
    untouched = nbformat.read(root / "autograded" / "full" / NAME / NB, as_version=4)
    assert not any("Note from the grader" in c.source for c in untouched.cells)


@pytest.mark.slow
def test_the_handed_in_files_are_left_as_they_were(trial):
    root = trial[0]
    assert os.path.islink(root / "submitted" / "dangling_link" / NAME / "data.npy")
    assert (root / "solutions" / NAME / NB).is_file()


def test_a_notebook_that_loads_mnist_is_not_graded_without_it(tmp_path, monkeypatch):
    """Confined kernels cannot download MNIST, so the grader fetches it first, and says so when it cannot:
    before anything is staged, not as a failed training cell in every student's notebook."""
    from conftest import REPO

    from bpcourse_instructor.preparation import Unreadable
    from bpcourse_instructor.preparation import fetch_data as _fetch_data

    name = "07_two_layer_net"
    (tmp_path / "course" / name).mkdir(parents=True)
    (tmp_path / "course" / name / f"{name}.ipynb").write_bytes((REPO / "course" / name / f"{name}.ipynb").read_bytes())
    monkeypatch.setenv("BPCOURSE_DATA_DIR", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(Unreadable, match="07_two_layer_net loads MNIST.*BPCOURSE_DATA_DIR"):
        _fetch_data(tmp_path, [name, NAME])
    _fetch_data(tmp_path, [NAME])  # notebooks that do not load it need nothing


@pytest.mark.slow
def test_points_follow_the_judge_alone(trial):
    """Results a kernel emits (a hook's number before every cell, a replaced check's string) count for nothing:
    nbgrader scores a cell by its first error or result, so no result may stay in a graded test cell."""
    root = trial[0]
    for student in ("result_hook", "checks_return_strings"):
        nb = nbformat.read(root / "autograded" / student / NAME / NB, as_version=4)
        for grade_id in FULL:
            kinds = [o.output_type for o in _cell(nb, grade_id).outputs]
            assert "execute_result" not in kinds and "error" in kinds, (student, grade_id, kinds)


@pytest.mark.slow
def test_the_grader_follows_no_path_a_kernel_made(trial):
    from bpcourse_instructor.course import nbgrader_api

    root = trial[0]
    victim = root / "victim.txt"
    assert victim.read_text() == "the instructor's file" and victim.stat().st_mode & 0o777 == 0o600
    graded = root / "autograded" / "plants_links" / NAME
    assert not [p for p in graded.rglob("*") if p.is_symlink()], list(graded.rglob("*"))
    assert nbgrader_api(root).generate_feedback(NAME, "plants_links", force=True)["success"]
    feedback = root / "feedback" / "plants_links" / NAME
    assert sorted(p.name for p in feedback.rglob("*")) == [f"{NAME}.html"], list(feedback.rglob("*"))
    work = root / "build" / "grading" / "work"
    assert not work.exists() or not any(work.iterdir()), list(work.iterdir())


@pytest.mark.slow
def test_scripts_reach_nobody(trial):
    from bpcourse_instructor.course import nbgrader_api

    root = trial[0]
    nb = nbformat.read(root / "autograded" / "scripts" / NAME / NB, as_version=4)
    kinds = {k for c in nb.cells for o in c.get("outputs", []) for k in o.get("data", {})}
    assert kinds <= {"text/plain", "image/png", "image/jpeg", "image/gif"}, kinds
    assert "output removed by the grader" in json.dumps(nb.cells[_index_of(nb, "add_layer")].outputs)
    assert nbgrader_api(root).generate_feedback(NAME, "scripts", force=True)["success"]
    html = (root / "feedback" / "scripts" / NAME / f"{NAME}.html").read_text()
    assert not re.search(r"<script[^>]*>[^<]*EVIL", html) and not re.search(r"<img[^>]*onerror", html)
    assert "EVIL_MARKDOWN" in html  # the student's Markdown is shown, as text


def _index_of(nb, grade_id):
    return nb.cells.index(_cell(nb, grade_id))


@pytest.mark.slow
def test_a_notebook_has_a_time_budget(trial):
    root = trial[0]
    nb = nbformat.read(root / "autograded" / "time_hog" / NAME / NB, as_version=4)
    names = [o.get("ename") for o in _cell(nb, "test_max_layer").outputs]
    assert "TimeBudget" in names, names


@pytest.mark.slow
def test_an_ungradable_resubmission_keeps_no_earlier_score(trial):
    import csv

    root, _, outcomes, _, regraded = trial
    assert outcomes[NAME, "resubmits"].score == sum(FULL.values())
    (again,) = regraded
    assert "not valid notebook JSON" in again.problem and "removed from the gradebook" in again.problem
    with open(root / "regraded.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["student_id"] == "resubmits" and r["assignment"] == NAME]
    assert [float(r["score"]) for r in rows] == [0.0], rows
    # What the formgrader and the feedback show now: the release with a note, none of the earlier graded notebook.
    page = nbformat.read(root / "autograded" / "resubmits" / NAME / NB, as_version=4)
    released = nbformat.read(root / "course" / NAME / NB, as_version=4)
    assert "could not be graded (" in page.cells[0].source and "not valid notebook JSON" in page.cells[0].source
    assert [c.source for c in page.cells[1:]] == [c.source for c in released.cells]


KILLS_ITS_GRADER = """
import os, signal
os.kill(os.getppid(), signal.SIGKILL)  # the process grading this notebook (a confined kernel cannot do this)
os._exit(0)
"""


@pytest.mark.slow
def test_a_grading_process_that_dies_costs_only_its_notebook(tmp_path):
    """Unconfined, a kernel can kill the process grading it: that notebook is tried once more, then reported,
    and the classmates graded at the same time are not affected."""
    from bpcourse_instructor.course import release
    from bpcourse_instructor.grading import grade

    root = copy_course(tmp_path / "class")
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    release(root, [NAME])
    killer = _submission(NAME)
    _cell(killer, "add_layer").source += KILLS_ITS_GRADER
    # graded first, beside the blank one: with a shared pool of workers both used to be lost
    for student, nb in {"full": _submission(NAME), "blank": _blank(), "a_kills_its_grader": killer}.items():
        _lay_out(root / "submitted" / student / NAME, {NB: nb})
    outcomes = {o.student: o for o in grade(root, NAME, workers=2, timeout=10, progress=False, confine=False)}
    assert "died 2 times while grading it (killed by SIGKILL)" in outcomes["a_kills_its_grader"].problem
    assert outcomes["full"].score == sum(FULL.values()) and outcomes["blank"].score == 0
