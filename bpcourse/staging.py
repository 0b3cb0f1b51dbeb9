"""Staging: a sanitised copy of each submission for ``bpcourse grade`` (``submitted/`` is never modified)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from nbformat import NotebookNode

from .instructor import RELEASE

STAGED = "build/grading/submitted"  # nbgrader's "submitted" step for this command

class Unreadable(Exception):
    """The submission cannot be graded; the message says why, for the instructor."""


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _restorable(cell) -> bool:
    """Cells nbgrader owns and a student cannot usefully change: graded tests and locked given code."""
    m = _meta(cell)
    return bool(m.get("grade_id")) and not m.get("solution") and (m.get("grade") or m.get("locked"))


def sanitise(nb: NotebookNode, released: NotebookNode) -> list[str]:
    """Repair ``nb`` in place so nbgrader can grade it; returns what was changed, one line each.

    Duplicated ``grade_id``: of a solution cell the *last* copy stays graded (it is the definition in force
    when the notebook runs top to bottom, so the manual grader sees the code the tests saw); of a test or locked
    cell the *first* (nbgrader overwrites its contents anyway). The other copies lose their nbgrader metadata
    and still run as plain cells. Deleted test and locked cells are re-inserted from the release after the
    nearest preceding nbgrader cell; deleted solution cells are not (the student may have moved the code).
    """
    changes = []
    seen: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        gid = _meta(cell).get("grade_id")
        if gid:
            seen.setdefault(gid, []).append(i)
    for gid, where in seen.items():
        if len(where) > 1:
            keep = where[-1] if _meta(nb.cells[where[-1]]).get("solution") else where[0]
            for i in where:
                if i != keep:
                    nb.cells[i].metadata.pop("nbgrader", None)
            changes.append(f"cell {gid!r} appeared {len(where)} times; kept copy {where.index(keep) + 1} graded")

    present = {_meta(c).get("grade_id"): c for c in nb.cells if _meta(c).get("grade_id")}
    anchor = None  # grade_id of the last release cell found in the submission
    for cell in released.cells:
        gid = _meta(cell).get("grade_id")
        if not gid:
            continue
        if gid not in present and _restorable(cell):
            ids = [_meta(c).get("grade_id") for c in nb.cells]
            at = ids.index(anchor) + 1 if anchor in ids else 0
            restored = copy.deepcopy(cell)
            if restored.cell_type == "code":
                restored.outputs, restored.execution_count = [], None
            nb.cells.insert(at, restored)
            present[gid] = restored
            changes.append(f"cell {gid!r} was deleted; restored from the release")
        if gid in present:
            anchor = gid
    return changes


def stage(root: Path, assignment: str, student: str) -> list[str]:
    """Copy one submission to the staging area, sanitised; raises Unreadable with the reason."""
    import nbformat

    src = root / "submitted" / student / assignment
    dest = root / STAGED / student / assignment
    if dest.exists():
        shutil.rmtree(dest)
    notebook = f"{assignment}.ipynb"
    if not (src / notebook).is_file():
        found = sorted(p.name for p in src.glob("*.ipynb")) if src.is_dir() else []
        raise Unreadable(f"no {notebook} in submitted/{student}/{assignment}/"
                         + (f" (found {', '.join(found)})" if found else ""))
    try:
        nb = nbformat.read(src / notebook, as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as exc:
        raise Unreadable(f"{notebook} is not valid notebook JSON ({str(exc).splitlines()[0][:120]})") from None
    except Exception as exc:  # noqa: BLE001 - any other complaint of nbformat about the file
        raise Unreadable(f"{notebook} could not be read: {type(exc).__name__}: {str(exc)[:120]}") from None
    if not isinstance(nb.get("cells"), list):
        raise Unreadable(f"{notebook} has no list of cells")
    released = nbformat.read(root / RELEASE / assignment / notebook, as_version=4)
    changes = sanitise(nb, released)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    nbformat.write(nb, dest / notebook)
    return changes
