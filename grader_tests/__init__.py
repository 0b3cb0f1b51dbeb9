"""Hidden tests for the backpropagation course (instructor only; never released to students).

Each notebook's hidden test cells call one module here, e.g. ``nb03.check_mul_layer(MulLayer)``. Their messages
are English templates passed through ``bpcourse.i18n.tr``; ``locale/ko/*.json`` holds the Korean, so the hidden
tests of a Korean notebook fail in Korean.
"""

from pathlib import Path

from bpcourse.i18n import add_catalogue

add_catalogue(Path(__file__).parent / "locale")
