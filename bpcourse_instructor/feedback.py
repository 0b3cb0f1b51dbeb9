"""Feedback for students: what failed and why, never the test cell's source.

A failing check's traceback shows the lines around the failing one, which in a graded cell
include the hidden test calls. Feedback keeps each error's message and drops the traceback.
"""

from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import ClearHiddenTests as _NbgraderClearHiddenTests
from traitlets import Bool, List


class ErrorMessagesOnly(Preprocessor):
    """Replace every error output's traceback with its one-line message (``ename: evalue``)."""

    enabled = Bool(True, help="nbconvert preprocessors are off unless enabled").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


class ClearHiddenTests(_NbgraderClearHiddenTests):
    """nbgrader's ClearHiddenTests, with ``display_data_priority`` configurable again.

    nbconvert's HTMLExporter configures ``NbConvertBase.display_data_priority``, a section every
    preprocessor reads. nbgrader's preprocessor base class redeclares that trait without
    ``config=True``, so traitlets warned "Config option `display_data_priority` not recognized by
    `ClearHiddenTests`" on every generate_feedback (nbgrader's GetGrades redeclares it configurable and
    is silent). Same trait and default, declared configurable; nothing else changes.
    """

    display_data_priority = List(
        _NbgraderClearHiddenTests.class_traits()["display_data_priority"].default(),
        help="Output types by preference (not used by this preprocessor)").tag(config=True)
