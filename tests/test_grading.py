"""`bpcourse grade` on a class where each student hands in one hazard, graded in one run.

Every submission starts from a correct answer to notebook 03 (three exercises, 2 points each) and is then
altered the way students actually alter notebooks. Each must get what it deserves, and nobody else may be
affected; a second run must give the same scores.
"""

import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
from conftest import copy_course, gradebook_verdicts
from test_autograde import _DOUBLE_BACKWARD, TEXTBOOK_STYLE, _submission

from bpcourse_instructor.traces import NOT_GRADED

NAME = "03_add_mul_nodes"
FULL = {"test_mul_layer": 2.0, "test_add_layer": 2.0, "test_max_layer": 2.0}
# Notebook 04, graded in the same run: the textbook Sigmoid, whose exp overflows (a NumPy RuntimeWarning on
# stderr) on the hidden test's large inputs while its values stay right.
NB04 = "04_activation_layers"
FULL04 = {"test_relu": 2.0, "test_sigmoid": 3.0}
NOT_GRADED_START = NOT_GRADED.split("{")[0]  # what a not-graded hand-in's page says first
TIMEOUT = 5  # seconds per cell for this class: enough for every cell of notebook 03, short for the hang


def _append(nb, grade_id, code):
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source += "\n" + code
    return nb


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _hazards04():
    textbook = TEXTBOOK_STYLE[NB04]
    wrong = _DOUBLE_BACKWARD.format(cls="Sigmoid")
    return {"s01_overflow": (_submission(NB04, styled=textbook), set()),
            "s01_overflow_wrong": (_submission(NB04, ("sigmoid", wrong), styled=textbook), {"test_sigmoid"})}


def _hazards():
    """student -> (notebook or raw text, the test cells that must lose their points, or None if unreadable)."""
    wrong_mul = _DOUBLE_BACKWARD.format(cls="MulLayer")
    s = {"full": (_submission(NAME), set())}

    warns = """
import sys, warnings
_quiet_backward = MulLayer.backward
def _noisy(self, dout):
    warnings.warn("a warning from correct code", RuntimeWarning)
    print("and a line on stderr", file=sys.stderr)
    return _quiet_backward(self, dout)
MulLayer.backward = _noisy
"""
    s["s01_warning"] = (_append(_submission(NAME), "mul_layer", warns), set())
    s["s01_warning_wrong"] = (_append(_submission(NAME, ("mul_layer", wrong_mul)), "mul_layer", warns),
                              {"test_mul_layer"})

    nb = _submission(NAME, ("mul_layer", wrong_mul))  # wrong, and the test cell that would catch it edited away
    nb.cells[_index(nb, "test_mul_layer")].source = "print('all good')"
    s["s02_edited_test"] = (nb, {"test_mul_layer"})

    nb = _submission(NAME, ("mul_layer", wrong_mul))  # wrong, its test cell and the locked imports deleted
    del nb.cells[_index(nb, "test_mul_layer")]
    del nb.cells[_index(nb, "setup")]
    s["s03_deleted_cells"] = (nb, {"test_mul_layer"})

    nb = _submission(NAME)  # copy-pasted solution cell (nbgrader #1083)
    i = _index(nb, "mul_layer")
    nb.cells.insert(i + 1, nbformat.from_dict(json.loads(json.dumps(nb.cells[i]))))
    nb.cells[i + 1].id = "pasted-copy"
    s["s04_duplicated_cell"] = (nb, set())

    flood = 'print("0123456789" * 2_000_000)  # 20 MB on one line: nbgrader\'s own limit counts lines\n'
    s["s05_flood"] = (_append(_submission(NAME), "max_layer", flood), set())
    # Never returns on a batch of one, which only the hidden test tries (so one cell, not five, times out),
    # and swallows the interrupt the timeout sends: only a fresh kernel lets the next cells run.
    s["s06_hang"] = (_append(_submission(NAME), "mul_layer", """
_finite_backward = MulLayer.backward
def _forever(self, dout):
    while np.shape(dout)[:1] == (1,):
        try:
            while True:
                pass
        except KeyboardInterrupt:
            pass
    return _finite_backward(self, dout)
MulLayer.backward = _forever
"""), {"test_mul_layer"})
    s["s07_kernel_exit"] = (_append(_submission(NAME), "add_layer", """
import os
AddLayer.backward = lambda self, dout: os._exit(1)
"""), {"test_add_layer"})
    # Address space only (np.empty touches no page, so the machine is safe either way): under the 2 GB cap it
    # stops after a block or two of 800 MB; without a cap only after tens of terabytes. It says which.
    s["s08_memory"] = (_append(_submission(NAME), "max_layer", """
def _hoard(self, dout):
    kept = []
    try:
        while True:
            kept.append(np.empty(10 ** 8))
    except MemoryError:
        raise MemoryError(f"stopped after {len(kept)} blocks") from None
MaxLayer.backward = _hoard
"""), {"test_max_layer"})
    s |= _tampering(wrong_mul)
    plant = f"print('SEARCH FOUND', json.dumps(search({_answers()!r}, plant=True)))\n"
    s["s11_searches_the_disk"] = (_append(_submission(NAME), "max_layer", SEARCH + plant), set())
    s["s09_truncated"] = (nbformat.writes(_submission(NAME))[:5000], None)
    s["s09_missing"] = (None, None)
    return s


# What a student who wants the points without the answer can do from a solution cell: make every comparison
# in the kernel pass. The visible checks use np.isclose, np.allclose and check_gradient; the hidden ones
# grader_tests' own code. Stock nbgrader gives such a submission full marks.
_FOOL_THE_KERNEL = """
import numpy as np, numpy.testing
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
class _Passed:
    ok = True
    def __bool__(self): return True
    def __str__(self): return "ok"
    def report(self): return "ok"
check_gradient = lambda *args, **kwargs: _Passed()
"""
# Scenario 10: the ways to go further, each on top of the above (the last: a right answer, tampering or not).
# The last two tamper with every hidden test that runs after them, so the right exercises below lose too.
TAMPERING = {
    "s10_patched_numpy": "",
    "s10_replaced_check": "import grader_tests.nb03\ngrader_tests.nb03.check_mul_layer = lambda *args: None\n",
    "s10_replaced_core": ("import grader_tests._core as _core\n"
                          "_core.expect_close = _core.expect_true = lambda *args, **kwargs: None\n"),
    "s10_no_transcript": "import os\nos.environ['BPCOURSE_TRANSCRIPT'] = ''\n",
    "s10_forged_transcript": ("import grader_tests._replay as _replay\n_emit = _replay._emit\n"
                              "_replay._emit = lambda name, entries: _emit(name, [])\n"),
}


EVERY_CELL_LOSES = {"s10_no_transcript", "s10_forged_transcript"}


def _tampering(wrong_mul):
    s = {student: (_append(_submission(NAME, ("mul_layer", wrong_mul)), "mul_layer", _FOOL_THE_KERNEL + extra),
                   set(FULL) if student in EVERY_CELL_LOSES else {"test_mul_layer"})
         for student, extra in TAMPERING.items()}
    s["s10_tampering_but_right"] = (_append(_submission(NAME), "mul_layer", _FOOL_THE_KERNEL), set())
    return s


# Scenario 11: while it is graded, a submission looks through every folder above its own (five levels, the
# course root among them) for files holding an answer to notebook 03: the instructor's solutions, the
# gradebook, another student's submission. It also tries to leave a file in each of those folders.
PLANTED = "s11_planted.txt"
SEARCH = """
import json, os
def search(answers, start=".", plant=False):
    here, found = os.path.realpath(start), []
    tops = [here]
    while os.path.dirname(tops[-1]) != tops[-1] and len(tops) < 6:
        tops.append(os.path.dirname(tops[-1]))
    for top in tops[1:]:
        if plant:
            try:
                with open(os.path.join(top, "s11_planted.txt"), "w") as f:
                    f.write("written by a submission")
            except OSError:
                pass
        for folder, subfolders, files in os.walk(top):
            if folder.startswith(here) or folder[len(top):].count(os.sep) >= 5:
                subfolders[:] = []
                continue
            subfolders[:] = [d for d in subfolders if d not in (".git", ".venv", "venv", "site-packages")]
            for name in files:
                path = os.path.join(folder, name)
                if not name.endswith((".ipynb", ".py", ".db", ".json")) or path in found:
                    continue
                try:
                    with open(path, "rb") as f:
                        text = f.read(5_000_000).decode("utf-8", "replace")
                except OSError:
                    continue
                if any(answer in text for answer in answers):
                    found.append(path)
    return found
"""


def _answers() -> list[str]:
    """Lines of notebook 03's solutions that the released notebook does not show."""
    from conftest import REPO
    from nbrun import solution_regions

    nb = nbformat.read(REPO / "solutions" / NAME / f"{NAME}.ipynb", as_version=4)
    hidden = {line.strip() for c in nb.cells for line in solution_regions(c.source)}
    shown = {line.strip() for c in nb.cells for line in c.source.splitlines()} - hidden
    return sorted(line for line in hidden - shown if len(line) > 12 and not line.startswith("#"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory, dask_cluster):
    from bpcourse_instructor.course import release
    from bpcourse_instructor.grading import grade

    root = copy_course(tmp_path_factory.mktemp("class"))
    # nbgrader runs alembic (gradebook migrations) from PATH: make it the one beside this Python.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    release(root, [NAME, NB04])
    hazards = {(NAME, s): h for s, h in _hazards().items()} | {(NB04, s): h for s, h in _hazards04().items()}
    _hand_in_all(root, hazards)
    before = {p: p.read_bytes() for p in (root / "submitted").rglob("*.ipynb")}
    cwd = os.getcwd()
    try:
        os.chdir(root)
        # Graded twice: locally, then again with every notebook run on a Dask cluster (bpcourse grade --cluster).
        first, again = ({(o.assignment, o.student): o
                         for o in grade(root, [NAME, NB04], workers=2, timeout=TIMEOUT, progress=False,
                                        cluster=address)}
                        for address in (None, dask_cluster.address))
    finally:
        os.chdir(cwd)
    after = {p: p.read_bytes() for p in (root / "submitted").rglob("*.ipynb")}
    return root, hazards, first, again, before == after, _graded_by_nbgrader(tmp_path_factory, hazards)


def _hand_in_all(root, hazards) -> None:
    for (name, student), (nb, _) in hazards.items():
        folder = root / "submitted" / student / name
        folder.mkdir(parents=True)
        if isinstance(nb, str):
            (folder / f"{name}.ipynb").write_text(nb)
        elif nb is not None:
            nbformat.write(nb, folder / f"{name}.ipynb")
        else:
            (folder / f"{name} (1).ipynb").write_text("{}")  # handed in under another name


def _graded_by_nbgrader(tmp_path_factory, hazards):
    """The same hand-ins in a class of their own, graded by nbgrader's own entry points: notebook 03 by
    `nbgrader autograde` in one batch, notebook 04 by NbGraderAPI.autograde one student at a time (what the
    formgrader's Autograde button calls). Returns {(assignment, student): {cell: score}, or None if the
    gradebook has no graded submission}, and the command's exit code."""
    from bpcourse_instructor.course import nbgrader_api, release

    root = copy_course(tmp_path_factory.mktemp("nbgrader_paths"))
    release(root, [NAME, NB04])
    _hand_in_all(root, hazards)
    cli = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", NAME, "--force",
                          f"--Execute.timeout={TIMEOUT}"], cwd=root, capture_output=True, text=True, timeout=900)
    api = nbgrader_api(root, [f"--Execute.timeout={TIMEOUT}"])
    button = {s: api.autograde(NB04, s)["success"] for (name, s) in hazards if name == NB04}
    return gradebook_verdicts(root, hazards), cli, button


@pytest.mark.slow
def test_every_hazard_gets_what_it_deserves(graded):
    _, hazards, first, _, _, _ = graded
    wrong = []
    for (name, student), (_, loses) in hazards.items():
        o = first[name, student]
        if loses is None:
            continue
        assert not o.problem, f"{student} was not graded: {o.problem}"
        full = FULL if name == NAME else FULL04
        expected = {cell: 0.0 if cell in loses else top for cell, top in full.items()}
        got = {cell: score for cell, (score, _) in o.cells.items()}
        if got != expected:
            wrong.append(f"{student}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.slow
def test_tampering_in_the_kernel_does_not_decide_the_grade(graded):
    """Scenario 10: each tampering student fooled the kernel (the cell passed there), and the grade came from
    the replay in the grading process; the summary tells the instructor which cells were overruled."""
    from bpcourse_instructor.grading import summary

    _, _, first, _, _, _ = graded
    for student in TAMPERING:
        o = first[NAME, student]
        lost = list(FULL) if student in EVERY_CELL_LOSES else ["test_mul_layer"]
        assert o.overruled == lost, f"{student}: overruled {o.overruled}"
        assert all(o.cells[cell][0] == 0.0 for cell in lost)
    assert first[NAME, "s10_tampering_but_right"].overruled == []
    assert "passed in the kernel but not on replay: test_mul_layer" in summary(list(first.values()))


@pytest.mark.slow
def test_feedback_for_overruled_cells_says_why(graded):
    from bpcourse_instructor.course import nbgrader_api

    root = graded[0]
    # Where only the comparisons were patched, the student learns what is actually wrong with the answer.
    wrong_dx = "MulLayer.backward: dx (checked against numerical gradients of out = x * y) is wrong"
    for student, words in [("s10_patched_numpy", wrong_dx), ("s10_replaced_core", wrong_dx),
                           ("s10_replaced_check", "left no record"), ("s10_forged_transcript", "does not fit")]:
        nb = nbformat.read(root / "autograded" / student / NAME / f"{NAME}.ipynb", as_version=4)
        outputs = nb.cells[_index(nb, "test_mul_layer")].outputs
        errors = [o.evalue for o in outputs if o.output_type == "error"]
        assert len(errors) == 1 and words in errors[0], f"{student}: {errors}"
        assert not any("vnd.bpcourse" in json.dumps(o.get("data", {})) for c in nb.cells
                       for o in c.get("outputs", [])), f"{student}: a transcript was left in the graded notebook"
        # What the student reads: nbgrader's own feedback, with the replay's message and no hidden source.
        result = nbgrader_api(root).generate_feedback(NAME, student, force=True)
        assert result["success"], result.get("error")
        html = (root / "feedback" / student / NAME / f"{NAME}.html").read_text()
        # (the student's own tampering code names grader_tests; the hidden test cell's call must not show)
        assert words in html and "BEGIN HIDDEN TESTS" not in html and "check_mul_layer(MulLayer)" not in html, \
            student


@pytest.mark.slow
def test_a_submission_searching_the_disk_finds_no_answer(graded):
    """Scenario 11: the grading kernel sees its own folder and what Python needs, nothing else. The same search
    run by the test itself, unconfined, from the same folder finds the instructor's solutions and the other
    students' answers: so the search works, and only the confinement stops it."""
    from bpcourse_instructor import confine

    root, _, first, _, _, _ = graded
    if confine.abi() < 1:
        pytest.skip("this system has no Landlock: bpcourse grade cannot confine kernels here")
    o = first[NAME, "s11_searches_the_disk"]
    assert o.confined == "yes" and o.score == sum(FULL.values())
    nb = nbformat.read(root / "autograded" / "s11_searches_the_disk" / NAME / f"{NAME}.ipynb", as_version=4)
    text = "".join(out.get("text", "") for out in nb.cells[_index(nb, "max_layer")].outputs)
    found = json.loads(re.search(r"SEARCH FOUND (\[.*\])", text).group(1))
    assert found == [], f"a grading kernel could read answers in {found}"
    planted = [str(p) for p in root.parent.rglob(PLANTED)]
    assert planted == [], f"a grading kernel could write outside its folder: {planted}"

    scope = {}
    exec(SEARCH, scope)
    staged = root / "build" / "grading" / "submitted" / "s11_searches_the_disk" / NAME
    unconfined = scope["search"](_answers(), str(staged))
    assert any("/solutions/" in p for p in unconfined) and any("/submitted/full/" in p for p in unconfined), \
        unconfined


@pytest.mark.slow
def test_the_gradebook_and_hidden_tests_hold_no_answer(graded):
    """What a kernel could read if it were not confined still gives nothing away: the gradebook holds the
    test cells (calls into grader_tests), and grader_tests holds no solution line."""
    from conftest import REPO

    root = graded[0]
    places = {"gradebook.db": (root / "gradebook.db").read_bytes().decode("utf-8", "replace")}
    places |= {p.name: p.read_text() for p in (REPO / "grader_tests").glob("*.py")}
    answers = _answers()
    assert len(answers) >= 5
    leaks = [(name, a) for name, text in places.items() for a in answers if a in text]
    assert not leaks, leaks


@pytest.mark.slow
def test_unreadable_submissions_are_reported_by_name(graded):
    _, _, first, _, _, _ = graded
    truncated, missing = first[NAME, "s09_truncated"], first[NAME, "s09_missing"]
    assert "not valid notebook JSON" in truncated.problem
    assert f"no {NAME}.ipynb" in missing.problem and "(1).ipynb" in missing.problem  # names what it found
    assert truncated.score is None and missing.score is None


@pytest.mark.slow
def test_a_hand_in_that_could_not_be_graded_has_a_page_at_zero(graded):
    """Where the formgrader looks (a submission at 0 points, the reason as the comment on the first solution
    cell) and where the student reads (a note at the top of the feedback): nothing of the hand-in is shown."""
    from nbgrader.api import Gradebook

    from bpcourse_instructor import traces
    from bpcourse_instructor.course import nbgrader_api

    root = graded[0]
    first_cell = traces._first_solution(nbformat.read(root / "course" / NAME / f"{NAME}.ipynb", as_version=4))
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student, why in [("s09_truncated", "not valid notebook JSON"), ("s09_missing", f"no {NAME}.ipynb")]:
            sub = gb.find_submission(NAME, student)
            assert (sub.score, sub.max_score) == (0, sum(FULL.values())), (student, sub.score, sub.max_score)
            comment = gb.find_comment(first_cell, NAME, NAME, student).auto_comment or ""
            assert comment.startswith(NOT_GRADED_START) and why in comment, (student, comment)
    assert nbgrader_api(root).generate_feedback(NAME, "s09_truncated", force=True)["success"]
    html = (root / "feedback" / "s09_truncated" / NAME / f"{NAME}.html").read_text()
    assert html.count("could not be graded (") >= 2 and "not valid notebook JSON" in html  # note and comment


@pytest.mark.slow
def test_repairs_are_reported_and_submissions_untouched(graded):
    root, _, first, _, untouched, _ = graded
    assert untouched, "grading modified a file in submitted/"
    assert any("'test_mul_layer' was deleted" in c for c in first[NAME, "s03_deleted_cells"].changes)
    assert any("'setup' was deleted" in c for c in first[NAME, "s03_deleted_cells"].changes)
    assert any("'mul_layer' appeared 2 times" in c for c in first[NAME, "s04_duplicated_cell"].changes)
    flooded = root / "autograded" / "s05_flood" / NAME / f"{NAME}.ipynb"
    assert flooded.stat().st_size < 1_000_000, f"the autograded notebook keeps {flooded.stat().st_size} bytes"


@pytest.mark.slow
def test_repairs_and_events_are_comments_in_the_gradebook_and_the_feedback(graded):
    """Where the formgrader shows them (nbgrader's comment on the exercise's solution cell) and where the student
    reads them (the feedback's "Comments:"): a restart, a time limit, an overruled check, a repair."""
    from nbgrader.api import Gradebook

    from bpcourse_instructor import traces
    from bpcourse_instructor.course import nbgrader_api

    root = graded[0]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        def comment(student, cell):
            return gb.find_comment(cell, NAME, NAME, student).auto_comment or ""

        assert "The check test_mul_layer: CellTimeoutError:" in comment("s06_hang", "mul_layer")
        assert "The check test_add_layer: KernelDied: the kernel died" in comment("s07_kernel_exit", "add_layer")
        assert f"The check test_mul_layer: {traces.OVERRULED}" in comment("s10_replaced_check", "mul_layer")
        repaired = comment("s03_deleted_cells", "mul_layer")
        assert repaired.startswith("The grader changed your hand-in") and "'test_mul_layer' was deleted" in repaired
        assert {comment("full", c) for c in ("mul_layer", "add_layer", "max_layer")} <= {"", "No response."}
    assert nbgrader_api(root).generate_feedback(NAME, "s07_kernel_exit", force=True)["success"]
    html = (root / "feedback" / "s07_kernel_exit" / NAME / f"{NAME}.html").read_text()
    assert "Comments:" in html and "KernelDied: the kernel died" in html
    assert "white-space: pre-wrap" in html  # long check messages wrap inside their output box


@pytest.mark.slow
def test_failures_name_their_cause_in_the_graded_notebook(graded):
    root = graded[0]
    for student, cell, text in [("s06_hang", "test_mul_layer", "CellTimeoutError"),
                                ("s07_kernel_exit", "test_add_layer", "KernelDied"),
                                ("s08_memory", "test_max_layer", "MemoryError")]:
        nb = nbformat.read(root / "autograded" / student / NAME / f"{NAME}.ipynb", as_version=4)
        outputs = nb.cells[_index(nb, cell)].outputs
        assert any(o.output_type == "error" and text in o.ename for o in outputs), \
            f"{student}: {cell} has no {text} error: {[o.get('ename') for o in outputs]}"
    # outputs are s08's (checked last): how far did it get before MemoryError?
    blocks = int(re.search(r"stopped after (\d+) blocks", str([o.evalue for o in outputs])).group(1))
    assert blocks <= 2, f"s08_memory got {blocks} blocks of 800 MB: the 2 GB address-space cap is not in force"


@pytest.mark.slow
def test_regrading_on_a_cluster_gives_the_same_outcomes(graded):
    _, _, first, again, _, _ = graded
    assert {s: o.cells for s, o in first.items()} == {s: o.cells for s, o in again.items()}
    assert {s: o.problem for s, o in first.items()} == {s: o.problem for s, o in again.items()}


@pytest.mark.slow
def test_nbgrader_autograde_and_the_formgrader_path_give_the_same_verdicts(graded):
    """Issue: stock autograde scored a tampering hand-in 6/6 that bpcourse grade scored 2/6. Through
    nbgrader's own command and API (bpcourse_instructor.hub) every hazard gets what bpcourse grade gave it."""
    _, hazards, first, _, _, (stock, cli, button) = graded
    ours = {key: None if o.problem else {cell: score for cell, (score, _) in o.cells.items()}
            for key, o in first.items()}
    differ = [f"{key}: bpcourse grade {ours[key]}, nbgrader {stock[key]}" for key in hazards if ours[key] != stock[key]]
    assert not differ, "\n".join(differ)
    # The unreadable hand-ins are not graded by either, and nbgrader's command says so by failing after the rest.
    assert any(v is None for v in ours.values()) and cli.returncode == 1, cli.stderr[-2000:]
    assert "could not grade" in cli.stderr and "as `bpcourse grade` does" in cli.stderr, cli.stderr[-2000:]
    assert all(button.values()), button


@pytest.mark.slow
def test_export_lists_the_graded_students(graded):
    import csv
    root = graded[0]
    with open(root / "grades.csv") as f:
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f) if r["assignment"] == NAME}
    assert rows["full"] == sum(FULL.values()) and rows["s07_kernel_exit"] == 4.0 and rows["s09_truncated"] == 0


def test_cli_reports_an_assignment_missing_from_the_gradebook(tmp_path, capsys):
    from bpcourse.cli import main
    root = copy_course(tmp_path / "class")
    assert main(["--root", str(root), "grade", NAME]) == 2
    assert NAME in capsys.readouterr().err


def test_confinement_rules_never_open_the_course_root(tmp_path, monkeypatch):
    """No folder a grading kernel may read or write contains the course root (run from inside it, as the
    instructor does, so a path resolved against the working folder would show up); a root that does lie inside
    one (here: inside the Python installation) is reported, not silently exposed."""
    from conftest import REPO

    from bpcourse_instructor import confine

    monkeypatch.chdir(REPO)
    read, write, exposed = confine.kernel_paths(str(REPO))
    assert exposed == []
    root = os.path.realpath(REPO)
    assert not [p for p in read + write if root.startswith(os.path.realpath(p).rstrip(os.sep) + os.sep)
                or os.path.realpath(p) == root]
    inside = os.path.join(sys.prefix, "course")
    assert confine.kernel_paths(inside)[2], "a course root inside the Python installation was not reported"
