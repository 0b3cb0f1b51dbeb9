"""Which solution cell each grading event is written on (bpcourse_instructor.traces), and the formgrader's page
with wrapping check messages."""

import nbformat
from conftest import REPO
from nbformat.v4 import new_code_cell, new_notebook, new_output

from bpcourse_instructor import traces


def _cell(source, gid, solution=False, grade=False, outputs=()):
    cell = new_code_cell(source, metadata={"nbgrader": {"grade_id": gid, "solution": solution, "grade": grade,
                                                        "locked": not solution, "schema_version": 3}})
    cell.outputs = list(outputs)
    return cell


def _error(ename, evalue):
    return new_output("error", ename=ename, evalue=evalue, traceback=[])


def test_events_go_to_the_solution_cell_of_their_exercise():
    nb = new_notebook(cells=[
        _cell("class A: ...", "a", solution=True),
        _cell("check(A)", "test_a", grade=True, outputs=[_error("KernelDied", "the kernel died")]),
        _cell("class B: ...", "b", solution=True, outputs=[_error("TimeBudget", "not run")]),
        _cell("check(B)", "test_b", grade=True, outputs=[_error("AssertionError", "an ordinary failure")]),
    ])
    got = traces.notes(nb, overruled=["test_b"], changes=["cell 'test_a' was deleted; restored"])
    assert got == {
        "a": [traces.REPAIRED.format(changes="cell 'test_a' was deleted; restored"),
              "The check test_a: KernelDied: the kernel died"],
        "b": ["TimeBudget: not run", f"The check test_b: {traces.OVERRULED}"],
    }
    assert traces.notes(nb, [], []) == {"a": ["The check test_a: KernelDied: the kernel died"],
                                        "b": ["TimeBudget: not run"]}


def test_the_formgrader_page_keeps_its_template_and_wraps_long_messages():
    """The formgrader renders with nbgrader's own exporter set-up (FormgradeExtension) and the course's config."""
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    from bpcourse_instructor.course import nbgrader_config

    config = nbgrader_config(REPO)
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    nb = nbformat.read(REPO / "course" / "03_add_mul_nodes" / "03_add_mul_nodes.ipynb", as_version=4)
    resources = {"assignment_id": "03_add_mul_nodes", "notebook_id": "03_add_mul_nodes", "submission_id": "x",
                 "index": 0, "total": 1, "base_url": "", "student": "alice", "last_name": "", "first_name": "",
                 "notebook_path": "/x"}
    html, _ = HTMLExporter(config=config).from_notebook_node(nb, resources=resources)
    assert "formgrader/static/css/formgrade.css" in html  # nbgrader's formgrade page
    assert "white-space: pre-wrap" in html and html.index("white-space: pre-wrap") < html.index("</head>")


def test_a_not_graded_page_is_written_only_under_plain_names(tmp_path):
    """A student id given on the command line is not checked by a folder listing: `../x` is refused at staging,
    and its page (bpcourse_instructor.traces.placeholder) must not be written outside autograded/ either."""
    from types import SimpleNamespace

    root = tmp_path / "class"
    (root / "course" / "a1").mkdir(parents=True)
    nbformat.write(new_notebook(cells=[_cell("class A: ...", "a", solution=True)]), root / "course" / "a1" / "a1.ipynb")
    for student in ("../outside", ".hidden", ""):
        traces.placeholder(None, root, SimpleNamespace(assignment="a1", student=student), "refused")  # no gradebook
    assert not (tmp_path / "outside").exists() and not (root / "autograded").exists()
