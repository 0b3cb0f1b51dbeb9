"""The verdict on each graded test cell, reached in the grading process rather than the student's kernel.

The kernel runs the test cell as usual, and each hidden check in it leaves a *transcript* of what the
student's code returned (see ``grader_tests._replay``). :class:`JudgeHiddenTests` replays every hidden
check of the cell on its transcript with the grader's own code: a cell that raised nothing in the kernel
still scores 0 if a replayed check fails, or if a check it calls left no transcript (the kernel never ran
it, or something in the kernel replaced it). The points of a graded cell follow that verdict alone: results the
kernel returned cannot count as points (see :func:`inert_results`). Transcripts are removed from the graded
notebook.
"""

from __future__ import annotations

import ast
import json
import os

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode

from bpcourse.i18n import LANGUAGES, N_, tr, using
from grader_tests import _replay

LOG = os.path.join("build", "grading", "judge.log")  # one JSON line per overruled cell, for the summary


def hidden_calls(source: str) -> list[tuple[str, int]]:
    """The grader_tests checks a test cell calls, in order: [("nb04.check_relu", number of arguments)]."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    modules, names = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "grader_tests":
            modules.update({a.asname or a.name: a.name for a in node.names})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("grader_tests."):
            mod = node.module.split(".", 1)[1]
            names.update({a.asname or a.name: f"{mod}.{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("grader_tests.") and a.asname:
                    modules[a.asname] = a.name.split(".", 1)[1]
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f, name = node.func, None
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in modules:
            name = f"{modules[f.value.id]}.{f.attr}"
        elif isinstance(f, ast.Name) and f.id in names:
            name = names[f.id]
        if name and name.split(".")[-1].startswith("check_"):
            calls.append((node.lineno, node.col_offset, name, len(node.args)))
    return [(name, nargs) for *_, name, nargs in sorted(calls)]


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output as the kernel would write it: nbgrader scores the cell 0, feedback shows the message."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


NO_RECORD = N_("the hidden test {name} left no record of your code's answers (did something in the notebook "
               "replace or skip it?), so this cell scores 0.")
UNREADABLE = N_("the record of the hidden test {name} is unreadable ({problem}), so this cell scores 0.")
OTHER_RECORD = N_("expected the record of the hidden test {name}, found one of {found!r}; this cell scores 0.")
TOO_MANY = N_("this cell produced more hidden-test records than it runs hidden tests, so it scores 0.")


def verdict(cell) -> str | None:
    """None if every hidden check of the cell passes on replay, else the first failure's message (in the language
    of the notebook's edition, see JudgeHiddenTests; each check is replayed in the language it was recorded in,
    since its calls into student code are keyed by their described names)."""
    pending = [p for p in map(_replay_payload, cell.get("outputs", [])) if p is not None]
    for name, nargs in hidden_calls(cell.source):
        if not pending:
            return tr(NO_RECORD, name=name)
        payload = pending.pop(0)
        try:
            got, entries = _replay.unpack(payload)
        except _replay.ReplayError as exc:
            return tr(UNREADABLE, name=name, problem=exc)
        if got != name:
            return tr(OTHER_RECORD, name=name, found=got[:60])
        recorded = payload.get("language") if isinstance(payload, dict) else None
        message = _replay.judge(name, entries, nargs, language=recorded if recorded in LANGUAGES else None)
        if message is not None:
            return message
    if pending:
        return tr(TOO_MANY)
    return None


def _replay_payload(output):
    if output.get("output_type") in ("display_data", "execute_result"):
        return output.get("data", {}).get(_replay.MIME)
    return None


class JudgeHiddenTests(Preprocessor):
    """After execution: replay each graded test cell's hidden checks; a failure adds an error output."""

    enabled = True

    def __init__(self, *args, log: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self._log, self.overruled = log, []  # overruled: (grade_id, message) of the last notebook

    def preprocess(self, nb, resources):
        from .editions import language_of_notebook

        self.overruled = []
        with using(language_of_notebook(nb)):  # the judge's own verdicts in the notebook's language
            nb, resources = super().preprocess(nb, resources)
        if self._log:
            log_overruled(resources.get("nbgrader", {}), self.overruled)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            message = verdict(cell)
            inert_results(cell)
            passed_in_kernel = not any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            if message is not None and passed_in_kernel:
                cell.outputs.insert(0, error_output("Failure", message))
                self.overruled.append((meta.get("grade_id", "?"), message))
        cell.outputs = [o for o in cell.get("outputs", []) if _replay_payload(o) is None]
        return cell, resources


def log_overruled(info: dict, rows) -> None:
    """Add the cells the judge overruled in one notebook to LOG (read for the summary)."""
    if not rows:
        return
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    with open(LOG, "a", encoding="utf-8") as log:
        for gid, message in rows:
            log.write(json.dumps({"assignment": info.get("assignment"), "student": info.get("student"),
                                  "cell": gid, "message": message[:300]}) + "\n")


def inert_results(cell) -> None:
    """Make a graded test cell's results count for nothing: nbgrader scores the cell by its first error or
    ``execute_result`` (a number is taken as partial credit, anything else as full marks), so a result a kernel
    emits, by a cell's last expression, a hook or a replaced check, could decide the points. As display_data it
    is still shown, and only an error (the kernel's own, or the judge's) can take points away."""
    for i, out in enumerate(cell.get("outputs", [])):
        if out.get("output_type") == "execute_result":
            cell.outputs[i] = NotebookNode(output_type="display_data", data=out.get("data", {}),
                                           metadata=out.get("metadata", {}))
