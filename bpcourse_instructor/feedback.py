"""Feedback for students: what failed and why, never the test cell's source; each exercise by its name.

A failing check's traceback shows the lines around the failing one, which in a graded cell
include the hidden test calls. Feedback keeps each error's message and drops the traceback.

nbgrader's feedback page calls every graded cell "Test cell". :class:`ExerciseNames` looks up each exercise's
name (:mod:`bpcourse_instructor.exercises`, from the instructor's notebooks) and ``FEEDBACK_TEMPLATE``, a small
extension of nbgrader's own feedback template, shows it in the table of contents and at the cell.
"""

from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import ClearHiddenTests as _NbgraderClearHiddenTests
from traitlets import Bool, List

from bpcourse.i18n import N_, translate

from .editions import language_of_notebook

# An absolute path, as nbconvert's HTMLExporter.template_file accepts: nbconvert adds its folder to the template
# path, and the template extends nbgrader's "feedback" template (template_name stays "feedback", which
# nbgrader's API insists on).
FEEDBACK_TEMPLATE = str(Path(__file__).resolve().parent / "templates" / "feedback" / "exercises.html.j2")
# The formgrader's page, where long check messages wrap (nbgrader's "formgrade" template, extended).
FORMGRADE_TEMPLATE = str(Path(__file__).resolve().parent / "templates" / "formgrade" / "wrapping.html.j2")


# The page's own words, in the language of the notebook's edition (resources["bpcourse_words"]).
WORDS = [N_("Score"), N_("Test cell"), N_("Coding free-response"), N_("Written response"), N_("Task"), N_("Comment"),
         N_("Late submission penalty")]


class ExerciseNames(Preprocessor):
    """Put ``{grade_id: exercise name}`` in ``resources["bpcourse_exercises"]`` for FEEDBACK_TEMPLATE.

    The names come from the instructor's copy of the notebook (the course's source folder, else its release),
    found through the course directory nbgrader is configured with; never from the student's Markdown. A graded
    cell without a name there is shown as nbgrader shows it ("Test cell")."""

    enabled = Bool(True, help="nbconvert preprocessors are off unless enabled").tag(config=True)

    def preprocess(self, nb, resources):
        from nbgrader.coursedir import CourseDirectory

        from .exercises import names_for

        info = resources.get("nbgrader") or {}
        names = {}
        if info.get("assignment") and info.get("notebook"):
            coursedir = CourseDirectory(config=self.config)
            names = names_for(Path(coursedir.root), info["assignment"], info["notebook"],
                              (coursedir.source_directory, coursedir.release_directory))
        resources["bpcourse_exercises"] = names
        language = language_of_notebook(nb)
        resources["bpcourse_words"] = {word: translate(word, language) for word in WORDS}
        return nb, resources


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
