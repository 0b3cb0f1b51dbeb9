"""Helpers for the backpropagation course: gradient checking, graph drawing, widgets and data.

Import the module you need, e.g. ``from bpcourse.gradcheck import check_gradient``; importing
``bpcourse`` itself loads nothing heavy. ``bpcourse.set_language("ko")`` (the Korean edition's set-up cell)
makes every check, hint and figure speak Korean.
"""

from .i18n import set_language

__all__ = ["set_language"]
__version__ = "0.1.0"
