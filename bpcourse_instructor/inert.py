"""Student output reaches the instructor and other students only as inert content.

A graded notebook is opened by people who did not write it: the instructor in the formgrader (in their own
Jupyter origin, where a script can act as them) and, through the feedback HTML, the student. So the graded
notebook keeps of each output only text and pictures (PNG, JPEG, GIF); HTML, JavaScript, SVG, Markdown, LaTeX
and widget views are replaced by a line saying so, and widget state is dropped from the notebook's metadata.
Markdown and raw cells a student wrote are made inert when the hand-in is staged (:func:`bpcourse_instructor.staging.
inert_cells`), since nbgrader's feedback and formgrader templates render Markdown unsanitised; and
``nbgrader_config.py`` turns on nbconvert's own HTML sanitiser too. Text meant for a terminal is cleaned by
:func:`printable`.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor

SAFE = ("text/plain", "image/png", "image/jpeg", "image/gif")
REMOVED = "[{kinds} output removed by the grader: graded notebooks keep only text and pictures]"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without terminal control characters (escape sequences, bells, carriage returns)."""
    return _CONTROL.sub("?", str(text))


class InertOutputs(Preprocessor):
    """After execution: only text and pictures stay in outputs; no widget state stays in the notebook."""

    enabled = True

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            unsafe = sorted(k for k in data if k not in SAFE)
            if not unsafe:
                continue
            kept = {k: v for k, v in data.items() if k in SAFE}
            if "text/plain" not in kept or set(unsafe) - {"application/vnd.jupyter.widget-view+json"}:
                note = REMOVED.format(kinds=", ".join(unsafe))
                kept["text/plain"] = (f"{kept['text/plain']}\n{note}" if isinstance(kept.get("text/plain"), str)
                                      else note)
            out["data"] = kept
            out["metadata"] = {k: v for k, v in (out.get("metadata") or {}).items() if k in SAFE}
        cell.get("metadata", {}).pop("widgets", None)
        return cell, resources
