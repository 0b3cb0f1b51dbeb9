"""Two editions, one set of messages: the English text is the key, a catalogue gives the Korean.

Every message a student can see is written once, in English, in the code: ``tr("{name} is None", name=name)``.
``locale/ko/*.json`` beside each package that has messages (this one, ``grader_tests``, the instructor tools)
map each English template to its Korean one, gettext's model without its tool chain. A notebook's locked set-up
cell says which edition it is (``bpcourse.set_language("ko")``), so a student never chooses a language, and the
hidden tests of a Korean notebook answer in Korean because they run in that notebook's kernel.

A template without a Korean entry is shown in English (``tests/test_i18n.py`` fails on any such template).
Templates use ``str.format`` fields; ``tr`` formats only when fields are given, so a template without fields may
contain literal braces.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("en", "ko")
_chosen: list[str] = []  # set_language's choice; empty until a notebook makes one
_folders: list[Path] = [Path(__file__).parent / "locale"]


def set_language(language: str) -> None:
    """Choose the language of every message and of the figures (a notebook's set-up cell calls this)."""
    if language not in LANGUAGES:
        raise ValueError(f"set_language: language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    _chosen[:] = [language]
    if language == "ko":
        from . import fonts

        fonts.use_hangul()


def language() -> str:
    """The language in use: set_language's choice, else $BPCOURSE_LANGUAGE, else English."""
    if _chosen:
        return _chosen[0]
    chosen = os.environ.get("BPCOURSE_LANGUAGE", "en")
    return chosen if chosen in LANGUAGES else "en"


@contextmanager
def using(language: str):
    """Messages in ``language`` inside the block (the grader, replaying a Korean notebook's checks)."""
    saved = list(_chosen)
    _chosen[:] = [language if language in LANGUAGES else "en"]
    try:
        yield
    finally:
        _chosen[:] = saved


def add_catalogue(folder: Path) -> None:
    """Read ``folder/<language>/*.json`` too (a package outside bpcourse with messages of its own)."""
    folder = Path(folder)
    if folder not in _folders:
        _folders.append(folder)
        catalogue.cache_clear()


@lru_cache(maxsize=None)
def catalogue(language: str) -> dict[str, str]:
    """Every English template with its translation into ``language``, from all registered folders."""
    merged: dict[str, str] = {}
    if language == "en":
        return merged
    for folder in _folders:
        for path in sorted((folder / language).glob("*.json")):
            merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def translate(text: str, language: str, **fields) -> str:
    """``text`` (an English template) in ``language``, formatted with ``fields``."""
    template = catalogue(language).get(text, text) if language != "en" else text
    return template.format(**fields) if fields else template


def tr(text: str, /, **fields) -> str:
    """``text`` (an English template) in the language in use, formatted with ``fields``."""
    return translate(text, language(), **fields)


def tr_figure(text: str, /, **fields) -> str:
    """Like :func:`tr`, for text bpcourse draws in a figure: English when no font can draw Hangul."""
    from .fonts import figure_language

    return translate(text, figure_language(language()), **fields)


def N_(text: str) -> str:
    """Mark a template kept in a table for translation later (gettext's noop): the catalogue test finds it."""
    return text
