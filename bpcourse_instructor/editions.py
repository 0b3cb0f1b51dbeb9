"""The course's two editions: each English notebook in ``solutions/`` and its Korean twin.

The Korean edition of ``solutions/03_add_mul_nodes`` is the assignment ``solutions/03_add_mul_nodes_ko``. Its
notebook says so in its metadata (``"bpcourse": {"language": "ko", "edition_of": "03_add_mul_nodes"}``) and
its locked set-up cell calls ``bpcourse.set_language("ko")``, so its checks and hidden tests answer in Korean.

The twins cannot drift apart: :func:`differences` (run by ``tests/test_editions.py`` on every pair) demands the
same cells in the same order with the same ids and nbgrader metadata (grade_id, points, locks), and code that is
identical token by token apart from comments and string literals. nbgrader's markers and ``# planted:`` lines,
which are code to nbgrader, must match exactly, and so must the ``$...$`` math of each Markdown cell. A
maintainer who changes an exercise in one edition gets a failing test naming the cell to change in the other.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

SUFFIX = {"ko": "_ko"}
LANGUAGES = ("en", "ko")
_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS",
            "# planted:")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.S)  # inline math may wrap across lines
_NBGRADER_KEYS = ("grade", "grade_id", "locked", "points", "solution", "task")


def english_name(assignment: str) -> str:
    """The English assignment an assignment is an edition of (itself, for an English one)."""
    for suffix in SUFFIX.values():
        if assignment.endswith(suffix):
            return assignment[: -len(suffix)]
    return assignment


def edition_name(assignment: str, language: str) -> str:
    """The assignment that is ``language``'s edition of ``assignment``."""
    english = english_name(assignment)
    return english if language == "en" else english + SUFFIX[language]


def language_of_notebook(nb) -> str:
    """The edition a notebook (a dict or nbformat node) belongs to, from its metadata."""
    language = (nb.get("metadata", {}).get("bpcourse") or {}).get("language", "en")
    return language if language in LANGUAGES else "en"


def language_of(root: Path, assignment: str) -> str:
    """The language of an assignment's source notebook in ``solutions/`` (English if it has none)."""
    folder = Path(root) / "solutions" / assignment
    for path in sorted(folder.glob("*.ipynb")):
        return language_of_notebook(json.loads(path.read_text(encoding="utf-8")))
    return "ko" if assignment.endswith(SUFFIX["ko"]) else "en"


def pairs(root: Path) -> list[tuple[str, str]]:
    """(English, Korean) assignment names of every Korean edition in ``solutions/``."""
    source = Path(root) / "solutions"
    return [(p.name, p.name + SUFFIX["ko"]) for p in sorted(source.iterdir())
            if p.is_dir() and (source / (p.name + SUFFIX["ko"])).is_dir()]


def _strip_magics(source: str) -> tuple[list[str], str]:
    """IPython magics and shell lines (kept, compared as text) and the Python that remains."""
    magics, python = [], []
    for line in source.split("\n"):
        if line.lstrip().startswith(("%", "!")):
            magics.append(line.strip())
            python.append("")
        else:
            python.append(line)
    return magics, "\n".join(python)


def code_tokens(source: str) -> list[str]:
    """The tokens of a code cell that both editions must share: comments and string literals become
    placeholders (an f-string is one string, whatever Python version tokenises it), nbgrader's markers and
    ``# planted:`` lines stay as they are, layout tokens go."""
    magics, python = _strip_magics(source)
    out = [f"MAGIC {m}" for m in magics]
    depth = 0
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    fstring = [getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)]
    for tok in tokenize.generate_tokens(io.StringIO(python).readline):
        if fstring and tok.type == fstring[0]:
            depth += 1
            if depth == 1:
                out.append("STRING")
            continue
        if fstring and tok.type == fstring[2]:
            depth -= 1
            continue
        if depth or tok.type in skip:
            continue
        if tok.type == tokenize.COMMENT:
            text = tok.string.strip()
            if text.startswith(_MARKERS):
                out.append(text)
            continue
        out.append("STRING" if tok.type == tokenize.STRING else tok.string)
    return out


def _math(markdown: str) -> list[str]:
    """The ``$...$`` and ``$$...$$`` formulas of a Markdown cell, whitespace collapsed (a line may break inside)."""
    return sorted(" ".join(m.split()) for m in _MATH.findall(markdown))


def _where(index: int, cell: dict) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    name = meta.get("grade_id") or cell.get("id", "?")
    first = "".join(cell.get("source", "")).strip().split("\n")[0][:60]
    return f"cell {index} ({name}: {first!r})"


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return {k: meta[k] for k in _NBGRADER_KEYS if k in meta}


def differences(english: dict, korean: dict) -> list[str]:
    """Why two editions of a notebook are not twins (empty if they are); each line names the cell."""
    found = []
    if language_of_notebook(korean) != "ko":
        found.append('the Korean notebook\'s metadata lacks "bpcourse": {"language": "ko", ...}')
    a, b = english["cells"], korean["cells"]
    if [c.get("id") for c in a] != [c.get("id") for c in b]:
        found.append(f"the cells differ: {len(a)} English, {len(b)} Korean, or not the same ids in the same "
                     "order (a cell was added, removed or moved in one edition only)")
        return found
    for index, (x, y) in enumerate(zip(a, b)):
        where = _where(index, x)
        if x["cell_type"] != y["cell_type"]:
            found.append(f"{where}: {x['cell_type']} in English, {y['cell_type']} in Korean")
            continue
        if _nbgrader(x) != _nbgrader(y):
            found.append(f"{where}: nbgrader metadata differs: {_nbgrader(x)} vs {_nbgrader(y)}")
        sx, sy = "".join(x["source"]), "".join(y["source"])
        if x["cell_type"] == "code":
            try:
                tx, ty = code_tokens(sx), code_tokens(sy)
            except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
                found.append(f"{where}: cannot be tokenised ({exc})")
                continue
            if tx != ty:
                at = next((i for i, (p, q) in enumerate(zip(tx, ty)) if p != q), min(len(tx), len(ty)))
                found.append(f"{where}: the code differs at token {at}: English {' '.join(tx[at:at + 6])!r}, "
                             f"Korean {' '.join(ty[at:at + 6])!r}")
        elif x["cell_type"] == "markdown" and _math(sx) != _math(sy):
            missing = sorted(set(_math(sx)) ^ set(_math(sy)))
            found.append(f"{where}: the math differs: {missing[:3]}")
    return found


def expand(names: list[str], available: list[str], edition: str = "both") -> list[str]:
    """``names`` (either edition's, or all of ``available`` if empty) as the assignments of ``edition`` ("en",
    "ko" or "both") that exist in ``available``, in course order; an English name and its Korean twin sit
    side by side."""
    wanted = ("en", "ko") if edition == "both" else (edition,)
    bases = dict.fromkeys(english_name(n) for n in (names or available))
    out = [edition_name(b, lang) for b in bases for lang in wanted]
    return [n for n in out if n in available]


_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_LATIN = re.compile(r"[A-Za-z]")
_NOT_PROSE = re.compile(r"```.*?```|`[^`\n]*`|\$\$.+?\$\$|\$[^$\n]+\$|<[^>\n]+>|https?://\S+|\[[^\]]*\]\([^)]*\)", re.S)


def readable_text(nb: dict) -> str:
    """What a student reads in a notebook apart from code: Markdown without code spans, math, tags and links,
    and the comments and string literals of code cells without identifier-like strings ("apple_price")."""
    parts = []
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(_NOT_PROSE.sub(" ", source))
            continue
        _, python = _strip_magics(source)
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(python).readline))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
        for tok in tokens:
            text = tok.string
            if tok.type == tokenize.COMMENT and not text.lstrip("# ").startswith(_MARKERS[0][4:]):
                parts.append(_NOT_PROSE.sub(" ", text))
            elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
                if not re.fullmatch(r"[rbfuRBFU]*(['\"]{1,3})[\w.:%-]*\1", text):  # not an identifier-like string
                    parts.append(re.sub(r"\{[^{}]*\}", " ", text))
    return "\n".join(parts)


def hangul_share(text: str) -> tuple[int, int]:
    """(Hangul letters, Latin letters) in ``text``: one Hangul syllable counts as one letter."""
    return len(_HANGUL.findall(text)), len(_LATIN.findall(text))
