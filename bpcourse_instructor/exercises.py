"""A human name for each exercise (graded cell), for the feedback and the grading summary and CSV.

An exercise is called by its section heading: the nearest Markdown heading above its graded cell ("Exercise 3 —
MaxLayer"), with Markdown markup removed. Without one, it is called by the class or function it checks: what the
nearest solution cell above it defines ("MaxLayer"), else a name of those the cell itself uses; else its grade_id.
Names are unique within a notebook (a repeated heading is told apart by what it checks, then by grade_id).

Names are computed from the instructor's notebooks (``solutions/``, else the release in ``course/``), never from
a student's copy, so nothing a student does to their Markdown changes what an exercise is called.
"""

from __future__ import annotations

import re
from pathlib import Path

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_DEFINES = re.compile(r"^(?:async[ \t]+)?(?:class|def)[ \t]+([A-Za-z_]\w*)", re.MULTILINE)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_graded(cell) -> bool:
    """A cell that scores points: a test cell, or a graded answer or task."""
    meta = _meta(cell)
    return bool(meta.get("grade") or meta.get("task")) and bool(meta.get("grade_id"))


def plain(markdown: str) -> str:
    """A heading's text without Markdown markup: links keep their text, code and emphasis marks go."""
    text = _TAG.sub("", _LINK.sub(r"\1", markdown))
    return " ".join(_EMPHASIS.sub("", text).split())


def headings(source: str) -> list[tuple[int, str]]:
    """The ATX headings (level, plain text) of a Markdown cell, outside fenced code blocks."""
    found, fence = [], None
    for line in source.splitlines():
        opened = _FENCE.match(line)
        if opened and (fence is None or opened.group(1)[0] == fence):
            fence = None if fence else opened.group(1)[0]
            continue
        match = None if fence else _HEADING.match(line)
        if match and plain(match.group(2)):
            found.append((len(match.group(1)), plain(match.group(2))))
    return found


def defined(source: str) -> list[str]:
    """Top-level classes and functions a code cell defines, in order."""
    return _DEFINES.findall(source)


def exercise_names(nb) -> dict[str, str]:
    """grade_id -> human name for every graded cell of ``nb`` (an nbformat notebook), in notebook order.

    A level-1 heading that opens the notebook is its title, not a section, and names nothing."""
    solutions = {name for c in nb.cells if _meta(c).get("solution") for name in defined(c.source)}
    heading, checked, seen_heading = "", [], False
    names, code_names = {}, {}
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            checked = defined(cell.source) or checked
        if is_graded(cell):
            grade_id = meta["grade_id"]
            used = [n for n in dict.fromkeys(_IDENTIFIER.findall(cell.source)) if n in solutions]
            code_names[grade_id] = ", ".join(checked or used) or grade_id
            names[grade_id] = heading or code_names[grade_id]
        if cell.cell_type == "markdown":
            for level, text in headings(cell.source):
                if level > 1 or seen_heading:
                    heading = text
                seen_heading = True
    return _distinct(names, code_names)


def _distinct(names: dict[str, str], code_names: dict[str, str]) -> dict[str, str]:
    """Cells that share a name are told apart by what each checks if that differs for all of them, else by
    their grade_ids."""
    out = dict(names)
    for name in set(names.values()):
        group = [k for k, v in names.items() if v == name]
        if len(group) < 2:
            continue
        checks = [code_names[k] for k in group]
        by_check = len(set(checks)) == len(checks) and name not in checks
        out.update({k: f"{name} ({code_names[k] if by_check else k})" for k in group})
    values = list(out.values())
    return {k: f"{names[k]} ({k})" if values.count(v) > 1 else v for k, v in out.items()}  # grade_ids are unique


def notebook_path(root: Path, assignment: str, notebook: str,
                  folders: tuple[str, ...] = ("solutions", "course")) -> Path | None:
    """The instructor's copy of a notebook: the source (solutions/) if it is there, else the release."""
    for folder in folders:
        path = Path(root) / folder / assignment / f"{notebook}.ipynb"
        if path.is_file():
            return path
    return None


def names_for(root: Path, assignment: str, notebook: str | None = None,
              folders: tuple[str, ...] = ("solutions", "course")) -> dict[str, str]:
    """grade_id -> name for a notebook of an assignment (default: every notebook of it) from the instructor's
    copies; {} where there is none (callers then show the grade_id)."""
    import nbformat

    if notebook is None:
        stems = sorted({p.stem for folder in folders for p in (Path(root) / folder / assignment).glob("*.ipynb")})
        return {k: v for stem in stems for k, v in names_for(root, assignment, stem, folders).items()}
    path = notebook_path(root, assignment, notebook, folders)
    if path is None:
        return {}
    try:
        return exercise_names(nbformat.read(path, as_version=4))
    except (OSError, ValueError):  # an instructor's notebook that does not read: names fall back to grade_ids
        return {}
