"""Feedback for students: what failed and why, never the test cell's source.

A failing check's traceback shows the lines around the failing one, which in a graded cell
include the hidden test calls. Feedback keeps each error's message and drops the traceback.
"""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


class ErrorMessagesOnly(Preprocessor):
    """Replace every error output's traceback with its one-line message (``ename: evalue``)."""

    enabled = Bool(True, help="nbconvert preprocessors are off unless enabled").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
