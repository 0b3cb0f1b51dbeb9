"""Helpers for the backpropagation course: gradient checking, graph drawing, widgets and data.

Import the module you need, e.g. ``from bpcourse.gradcheck import check_gradient``; importing
``bpcourse`` itself loads nothing heavy.
"""

__version__ = "0.1.0"
