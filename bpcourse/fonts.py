"""Hangul in matplotlib figures, without a tofu box or a missing-glyph warning.

matplotlib's own font (DejaVu Sans) has no Hangul. The course draws Latin letters, digits and the minus sign
with DejaVu Sans as in the English edition, and falls back glyph by glyph (matplotlib >= 3.6) to the first of:

1. NanumGothic from the ``koreanize-matplotlib`` package (``pip install koreanize-matplotlib``, in the
   ``course`` extra, Binder's image and Colab's set-up cell). Only its font file is used: importing that
   package would change matplotlib's settings and needs ``distutils``, which Python 3.12 no longer has.
2. A Hangul font the system has (Noto Sans CJK KR, Malgun Gothic, Apple SD Gothic Neo, ...), if it covers
   Hangul syllables.

With neither, :func:`use_hangul` says so once, in Korean, with the command that fixes it, and returns None.
Keep Hangul and ``$...$`` math in separate strings: mathtext draws with its own fonts, which have no Hangul.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

# Hangul syllables a font must have to count (가, 한, 힣: the first, a common and the last syllable).
_PROBE = (0xAC00, 0xD55C, 0xD7A3)
_SYSTEM = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", "Apple SD Gothic Neo",
           "AppleGothic", "UnDotum", "Noto Serif CJK KR")
INSTALL = "pip install koreanize-matplotlib"


def _covers_hangul(path: str) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        charmap = FT2Font(path).get_charmap()
    except (OSError, RuntimeError):
        return False
    return all(code in charmap for code in _PROBE)


def _packaged_font() -> Path | None:
    """NanumGothic.ttf inside koreanize-matplotlib, found without importing that package."""
    try:
        spec = importlib.util.find_spec("koreanize_matplotlib")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / "NanumGothic.ttf"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def hangul_font() -> str | None:
    """The family name of a font with Hangul that matplotlib can use, or None."""
    from matplotlib import font_manager

    packaged = _packaged_font()
    if packaged is not None and _covers_hangul(str(packaged)):
        for weight in sorted(packaged.parent.glob("NanumGothic*.ttf")):  # bold too: titles use weight="bold"
            font_manager.fontManager.addfont(str(weight))
        return font_manager.FontProperties(fname=str(packaged)).get_name()
    for entry in font_manager.fontManager.ttflist:
        if entry.name in _SYSTEM and _covers_hangul(entry.fname):
            return entry.name
    return None


_told: list[bool] = []


def use_hangul() -> str | None:
    """Let every figure draw Hangul: DejaVu Sans first, then a Hangul font. Returns that font's name, or None."""
    import matplotlib

    name = hangul_font()
    if name is None:
        if not _told:
            _told.append(True)
            print("그림에 한글을 그릴 글꼴이 없습니다. bpcourse가 그리는 그림은 영어로 표시하고, 노트북에서 그리는 "
                  f"그림의 한글은 네모(□)로 보일 수 있습니다. `{INSTALL}`를 실행한 뒤 커널을 다시 시작하세요.")
        return None
    families = [f for f in matplotlib.rcParams["font.family"] if f not in ("sans-serif", name)]
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *[f for f in families if f != "DejaVu Sans"], name]
    return name


def figure_language(language: str) -> str:
    """The language bpcourse's own figures use when ``language`` is in use: Korean only where a Hangul font can
    draw it."""
    if language != "ko":
        return language
    return "ko" if use_hangul() else "en"
