"""An untouched exercise says which function to write, in every released notebook."""

import re

import nbformat
import pytest
from conftest import REPO
from nbformat.v4 import new_code_cell, new_notebook

from bpcourse.i18n import translate
from bpcourse_instructor.stubs import STUB as STUB_TEXT
from bpcourse_instructor.stubs import YOUR_CODE, NamedStubs, owner


def stub_pattern(language: str) -> re.Pattern:
    """The stub's raise in ``language`` (the Korean edition's stubs say it in Korean)."""
    tail = translate(STUB_TEXT, language).split("{name}")[1]
    return re.compile(r'raise NotImplementedError\("(?P<name>[\w.]+)' + re.escape(tail) + r'"\)')


STUB = stub_pattern("en")
RELEASED = sorted((REPO / "course").glob("*/*.ipynb"))


def test_owner_names_the_enclosing_method_or_function():
    lines = ["class MulLayer:", "    def backward(self, dout):", "        ### BEGIN SOLUTION", "",
             "def softmax(x):", "    ### BEGIN SOLUTION", "### BEGIN SOLUTION"]
    assert owner(lines, 2) == "MulLayer.backward"
    assert owner(lines, 5) == "softmax"
    assert owner(lines, 6) == ""


def _release(source: str) -> str:
    cell = new_code_cell(source, metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "ex1",
                                                        "locked": False, "schema_version": 3}})
    nb = new_notebook(cells=[cell], metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                       "display_name": "Python 3"}})
    stubs = NamedStubs(code_stub={"python": "# YOUR CODE HERE\nraise NotImplementedError()"})
    nb, _ = stubs.preprocess(nb, {})
    return nb.cells[0].source


def test_each_stub_in_a_cell_gets_its_own_name():
    source = _release("class Relu:\n    def forward(self, x):\n        ### BEGIN SOLUTION\n        return x\n"
                      "        ### END SOLUTION\n\n    def backward(self, dout):\n        ### BEGIN SOLUTION\n"
                      "        return dout\n        ### END SOLUTION\n")
    assert [m["name"] for m in STUB.finditer(source)] == ["Relu.forward", "Relu.backward"], source
    assert "return x" not in source and "return dout" not in source
    namespace = {}
    exec(source, namespace)
    with pytest.raises(NotImplementedError, match="Relu.backward is not written yet"):
        namespace["Relu"]().backward(1.0)


def test_a_region_outside_any_function_names_the_exercise():
    source = _release("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\n")
    assert "the exercise 'ex1' is not written yet" in source, source


def test_a_planted_region_releases_its_given_code_instead_of_a_stub():
    source = _release("class Affine:\n    def __init__(self, W):\n        ### BEGIN SOLUTION\n"
                      "        # planted: self.W = W.copy()\n        # planted: if W.ndim != 2:\n"
                      "        # planted:     raise ValueError(W.shape)\n        self.W = W\n"
                      "        ### END SOLUTION\n\n    def forward(self, x):\n        ### BEGIN SOLUTION\n"
                      "        return x @ self.W\n        ### END SOLUTION\n")
    assert source.startswith("class Affine:\n    def __init__(self, W):\n        self.W = W.copy()\n"
                             "        if W.ndim != 2:\n            raise ValueError(W.shape)\n\n"), source
    assert "planted" not in source and "self.W = W\n" not in source and "YOUR CODE HERE" in source
    assert [m["name"] for m in STUB.finditer(source)] == ["Affine.forward"], source


@pytest.mark.parametrize("path", RELEASED, ids=[p.stem for p in RELEASED])
def test_every_released_stub_names_its_function(path):
    """course/ is nbgrader's release of solutions/ (checked elsewhere); here: no bare stub is left in it."""
    stubs, language = 0, "ko" if path.stem.endswith("_ko") else "en"
    pattern = stub_pattern(language)
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.split("\n")
        assert "raise NotImplementedError()" not in cell.source, cell.source
        for i, line in enumerate(lines):
            match = pattern.search(line)
            if match:
                stubs += 1
                assert match["name"] == owner(lines, i), (match["name"], owner(lines, i))
    assert stubs, f"{path.name} has no exercise stubs in its edition's language"
    if language == "ko":  # the comment above each stub too
        assert translate(YOUR_CODE, "ko") in path.read_text(encoding="utf-8") and YOUR_CODE not in path.read_text()
