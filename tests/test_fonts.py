"""Hangul in the course's figures (bpcourse.fonts): real glyphs, no warning; and a clean fallback without a font."""

import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bpcourse import fonts  # noqa: E402

WORD = "역전파 계산 그래프"


def _draw(text: str) -> np.ndarray:
    fig = plt.figure(figsize=(3, 1), dpi=80)
    fig.text(0.05, 0.4, text, fontsize=18)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()
    plt.close(fig)
    return pixels


@pytest.fixture
def rc():
    with matplotlib.rc_context():
        yield


def test_the_packaged_font_covers_hangul():
    path = fonts._packaged_font()
    assert path is not None, "koreanize-matplotlib's NanumGothic.ttf is not installed (it is in the course extra)"
    assert fonts._covers_hangul(str(path))
    assert fonts.hangul_font() == "NanumGothic"


def test_hangul_is_drawn_with_real_glyphs_and_no_warning(rc):
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
    with pytest.warns(UserWarning, match="missing from font"):  # what a student would otherwise get
        boxes = _draw(WORD)
    assert fonts.use_hangul() == "NanumGothic"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawn = _draw(WORD)
        latin = _draw("backprop -1.5")  # Latin, digits and the minus stay DejaVu Sans, as in the English edition
    assert (drawn != boxes).mean() > 0.02, "the Hangul looks like the missing-glyph boxes"
    # each missing glyph is the same box: its columns repeat; real syllables differ from each other
    assert len({tuple(col) for col in drawn.T}) > len({tuple(col) for col in boxes.T})
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
    assert np.array_equal(latin, _draw("backprop -1.5"))


def test_without_a_hangul_font_it_says_so_once_and_bpcourse_figures_fall_back_to_english(rc, monkeypatch, capsys):
    from bpcourse import i18n

    monkeypatch.setattr(fonts, "hangul_font", lambda: None)
    monkeypatch.setattr(fonts, "_told", [])
    with i18n.using("ko"):
        assert fonts.use_hangul() is None
        assert fonts.use_hangul() is None
        assert fonts.figure_language(i18n.language()) == "en"
        assert i18n.tr_figure("no parameters") == "no parameters"  # bpcourse's own figure text stays English
    said = capsys.readouterr().out
    assert said.count("그림에 한글을 그릴 글꼴이 없습니다") == 1 and fonts.INSTALL in said
