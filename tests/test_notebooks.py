"""The course pipeline: solutions validate, the release is nbgrader's output, and it leaks nothing."""

import json
import socket

import nbformat
import pytest
from conftest import REPO, assignment_names, skip_without_mnist
from nbrun import errors, execute, is_graded_test, secret_lines, tree_lines

from bpcourse_instructor.editions import english_name

NAMES = assignment_names()


def notebook(kind: str, name: str):
    return REPO / kind / name / f"{name}.ipynb"


def test_every_assignment_has_a_release():
    assert NAMES, "no assignments under solutions/"
    assert sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_course_equals_what_nbgrader_generates(generated, name):
    committed = nbformat.read(notebook("course", name), as_version=4)
    fresh = nbformat.read(generated / "course" / name / f"{name}.ipynb", as_version=4)
    assert len(committed.cells) == len(fresh.cells), f"course/{name}: regenerate it (see README)"
    for i, (a, b) in enumerate(zip(committed.cells, fresh.cells)):
        assert (a.cell_type, a.source, a.metadata.get("nbgrader")) == \
               (b.cell_type, b.source, b.metadata.get("nbgrader")), \
               f"course/{name} cell {i} differs from nbgrader's output: regenerate course/ (see README)"


@pytest.mark.parametrize("kind", ["solutions", "course"])
def test_notebooks_are_committed_without_outputs(kind):
    for path in sorted((REPO / kind).glob("*/*.ipynb")):
        nb = json.loads(path.read_text())
        dirty = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path.relative_to(REPO)} has outputs in cells {dirty}"


# Notebook 07 hands out working layers from 04-06 in a locked cell, by design (README: release 07 after
# 04-06 are due), and 08 the very same cell (tests/test_grader_nb08.py compares the two). Those answers may
# appear there and nowhere else.
HANDED_OUT_IN = {"07_two_layer_net": {"04_activation_layers", "05_affine_layer", "06_softmax_with_loss"},
                 "08_deep_networks": {"04_activation_layers", "05_affine_layer", "06_softmax_with_loss"}}


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_or_hidden_test_line_in_course(name):
    secret = secret_lines([notebook("solutions", name)])
    assert secret, f"{name}: no solution or hidden-test lines found (markers missing?)"
    for path, lines in tree_lines(REPO / "course").items():
        # either edition of 07 or 08 hands out the same lines as either edition of 04-06
        if english_name(name) in HANDED_OUT_IN.get(english_name(path.parent.name), ()):
            continue
        leaked = sorted(secret & lines)
        assert not leaked, f"{path.relative_to(REPO)} contains answer lines of {name}: {leaked[:5]}"
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "grader_tests"):
            assert not any(marker in line for line in lines), f"{path.relative_to(REPO)} contains {marker!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if english_name(n) == n])
def test_solution_passes_nbgrader_validation(name):
    """Each English solution notebook. Each Korean one, whose code is its twin's token by token, passes harder
    tests instead: stock `nbgrader autograde` gives it full marks (tests/test_autograde.py), and it runs without an
    error in JupyterLab (tests/test_browser.py), both in the path nbgrader validate takes."""
    from nbgrader.validator import Validator
    results = Validator().validate(str(notebook("solutions", name)))
    assert results == {}, f"{name}: nbgrader validate failed:\n" + "\n".join(
        r.get("raw_error", r.get("source", "")) for r in results.get("failed", results.get("changed", [])))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_release_fails_every_graded_test_and_runs_the_rest(name):
    skip_without_mnist(name)
    nb = execute(notebook("course", name))
    graded = [c for c in nb.cells if is_graded_test(c)]
    assert graded, f"{name} has no graded test cells"
    for cell in nb.cells:
        if is_graded_test(cell):
            assert errors(cell), f"{name}: graded cell {cell.metadata.nbgrader['grade_id']} passes on the stub"
        else:
            assert not errors(cell), (f"{name}: a non-test cell fails in the release:\n{cell.source[:300]}\n"
                                      f"{errors(cell)[0]['ename']}: {errors(cell)[0]['evalue']}")


@pytest.mark.slow
def test_07_without_network_or_data_stops_at_loading_with_a_clear_message(tmp_path, monkeypatch):
    name = "07_two_layer_net"
    if name not in NAMES:
        pytest.skip("no notebook 07")
    monkeypatch.delenv("BPCOURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # an empty per-user cache
    with socket.socket() as s:  # a port nobody listens on: the "mirror" is dead, as with no network
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    monkeypatch.setenv("BPCOURSE_MNIST_URL", f"http://127.0.0.1:{dead}/")
    nb = execute(notebook("solutions", name))
    first = next(c for c in nb.cells if errors(c))
    assert "load_mnist" in first.source, f"the first failing cell is not the loading cell:\n{first.source[:300]}"
    text = " ".join(e["evalue"] + "".join(e["traceback"]) for e in errors(first))
    assert "BPCOURSE_DATA_DIR" in text and "MNIST" in text
    assert "urllib" not in text and "requests" not in text and "site-packages" not in text
