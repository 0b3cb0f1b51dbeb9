"""Run a notebook with nbclient and classify its cells (shared by the notebook tests)."""

import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 120):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def is_graded_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _regions(source: str, begin: str, end: str) -> list[str]:
    out, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def solution_regions(source: str) -> list[str]:
    """The lines between ### BEGIN SOLUTION and ### END SOLUTION."""
    return _regions(source, "### BEGIN SOLUTION", "### END SOLUTION")


def hidden_regions(source: str) -> list[str]:
    """The lines between ### BEGIN HIDDEN TESTS and ### END HIDDEN TESTS."""
    return _regions(source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


# Lines too generic to be an answer (a bare keyword such as `continue` or `else:`, or lone punctuation).
_GENERIC = re.compile(r"^([A-Za-z_]+:?|[()\[\]{},:;.]*)$")


def secret_lines(notebooks) -> set[str]:
    """Lines of solution regions and hidden tests that the solution notebooks don't also show openly."""
    secret, public = set(), set()
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            hidden = {line.strip() for line in solution_regions(cell.source) + hidden_regions(cell.source)}
            secret |= hidden
            public |= {line.strip() for line in cell.source.splitlines()} - hidden
    return {s for s in secret - public if s and not s.startswith("#") and not _GENERIC.match(s)}


def tree_lines(root: Path) -> dict[Path, set[str]]:
    """Every stripped line of every file under root (notebooks: their cell sources)."""
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            text = path.read_text(errors="replace")
            if path.suffix == ".ipynb":
                text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
            out[path] = {line.strip() for line in text.splitlines()}
    return out
