"""nbgrader configuration for the backpropagation course (read by every nbgrader command run from this folder)."""

c = get_config()  # noqa: F821 - injected by nbgrader

c.CourseDirectory.course_id = "backprop"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# nbgrader's release steps, with NamedStubs in ClearSolutions' place: each stub's raise names the function it
# stands in ("MulLayer.backward is not written yet: ..."). Same list and order as nbgrader 0.9's default.
from nbgrader import preprocessors as _pp  # noqa: E402

from bpcourse_instructor.stubs import NamedStubs  # noqa: E402

c.GenerateAssignment.preprocessors = [
    _pp.IncludeHeaderFooter, _pp.InstantiateTests, _pp.LockCells, NamedStubs, _pp.ClearOutput,
    _pp.CheckCellMetadata, _pp.ComputeChecksums, _pp.SaveCells, _pp.ClearHiddenTests, _pp.ClearMarkScheme,
    _pp.ComputeChecksums, _pp.CheckCellMetadata,
]

# nbgrader's own ways to autograde (`nbgrader autograde`, the formgrader's button, NbGraderAPI.autograde) grade
# the way `bpcourse grade` does: staged copies, repairs, confined kernels, the replay judge
# (bpcourse_instructor.hub). c.CourseAutograde.workers sets how many notebooks they grade at once.
from bpcourse_instructor.hub import install as _install_course_autograde  # noqa: E402

_install_course_autograde()

# A backward that never returns must not hang the grading run.
c.ExecutePreprocessor.timeout = 30
c.Execute.timeout = 30

# Feedback shows students what failed and why (the error message), never the hidden test source.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from bpcourse_instructor.feedback import (  # noqa: E402
    FEEDBACK_TEMPLATE,
    FORMGRADE_TEMPLATE,
    ClearHiddenTests,
    ErrorMessagesOnly,
    ExerciseNames,
)

# ClearHiddenTests is nbgrader's, declaring display_data_priority configurable: the HTML exporter sets it for
# every preprocessor, and nbgrader's own class answered with a "not recognized" warning.
c.GenerateFeedback.preprocessors = [GetGrades, ExerciseNames, ClearHiddenTests, ErrorMessagesOnly,
                                    CSSHTMLHeaderPreprocessor]
# Each graded cell is called by its exercise's name (its section heading in solutions/), not "Test cell": nbgrader's
# feedback template, extended. Only the feedback's exporter reads it (the formgrader keeps its own template).
c.GenerateFeedback.HTMLExporter.template_file = FEEDBACK_TEMPLATE
# The formgrader's exporter (no parent section of its own) gets nbgrader's formgrade page with wrapping messages.
c.HTMLExporter.template_file = FORMGRADE_TEMPLATE

# Pages made from students' notebooks (feedback HTML, the formgrader's view) show their Markdown and outputs as
# inert content: nbconvert's sanitiser removes scripts and event handlers. (bpcourse grade also keeps only text
# and pictures in graded outputs: bpcourse_instructor.inert.)
c.HTMLExporter.sanitize_html = True
