"""Stubs that say which exercise to complete.

nbgrader replaces every ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region with one fixed stub,
``raise NotImplementedError()``. A student who runs a check before finishing then reads a bare
``NotImplementedError:`` under a long traceback. :class:`NamedStubs` is nbgrader's ClearSolutions with one
change: each stub's ``raise`` names the function or method it stands in, and says what to do, e.g.

    raise NotImplementedError("MulLayer.backward is not written yet: replace this line with your code")

A "find the planted bug" exercise releases given code with a mistake in it instead of a stub: the solution
region opens with the released lines, each written as a ``# planted:`` comment, then holds the fixed code::

    ### BEGIN SOLUTION
    # planted: self.W = W.copy()
    self.W = W
    ### END SOLUTION

releases as ``self.W = W.copy()`` at the region's indentation, without the ``# YOUR CODE HERE`` line
(stock ClearSolutions would release a stub).

Configured in ``nbgrader_config.py`` in ClearSolutions' place, so ``bpcourse release`` and stock
``nbgrader generate_assignment`` write the same release.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import ClearSolutions

from bpcourse.i18n import N_

PLANTED = "# planted:"
_DEF = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+([A-Za-z_]\w*)")


def owner(lines: list[str], index: int) -> str:
    """``Class.method`` or ``function`` that encloses line ``index`` ("" at the top level of a cell)."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    names = []
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < indent:
            names.append(match.group(3))
            indent = len(match.group(1))
            if indent == 0:
                break
    return ".".join(reversed(names))


def planted(lines: list[str], begin: str, end: str) -> list[list[str]]:
    """For each solution region in order, the ``# planted:`` lines it opens with (without the prefix)."""
    regions, current = [], None
    for line in lines:
        if begin in line:
            current = []
        elif end in line:
            regions.append(current or [])
            current = None
        elif current is not None and line.strip().startswith(PLANTED):
            current.append(line.strip()[len(PLANTED):].removeprefix(" "))
    return regions


STUB = N_("{name} is not written yet: replace this line with your code")
YOUR_CODE = N_("# YOUR CODE HERE")


class NamedStubs(ClearSolutions):
    """ClearSolutions whose Python stubs name the function they stand in, in the notebook's edition's language
    (``bpcourse.i18n``: the Korean edition's stubs say so in Korean)."""

    edition = "en"

    def preprocess(self, nb, resources):
        from .editions import language_of_notebook

        self.edition = language_of_notebook(nb)
        return super().preprocess(nb, resources)

    def _replace_solution_region(self, cell, language: str) -> bool:
        from bpcourse.i18n import translate

        lines = cell.source.split("\n")
        owners = [owner(lines, i) for i, line in enumerate(lines) if self.begin_solution_delimeter in line]
        given = iter(planted(lines, self.begin_solution_delimeter, self.end_solution_delimeter))
        replaced = super()._replace_solution_region(cell, language)
        if not (replaced and cell.cell_type == "code" and language == "python"):
            return replaced
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        plain = "raise NotImplementedError()"
        out, names = [], iter(owners)
        for line in cell.source.split("\n"):
            if line.strip() == plain:
                code = next(given, [])
                if code:
                    next(names, "")
                    if out and out[-1].strip() in (YOUR_CODE, translate(YOUR_CODE, self.edition)):
                        out.pop()
                    indent = line[: len(line) - len(line.lstrip())]
                    out.extend(indent + c if c else "" for c in code)
                    continue
                name = next(names, "") or translate("the exercise {grade_id!r}", self.edition, grade_id=grade_id)
                line = line.replace(plain, f'raise NotImplementedError("{translate(STUB, self.edition, name=name)}")')
            elif line.strip() == YOUR_CODE:
                line = line.replace(YOUR_CODE, translate(YOUR_CODE, self.edition))
            out.append(line)
        cell.source = "\n".join(out)
        return replaced
