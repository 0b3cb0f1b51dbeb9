"""Instructor tools: release, student export and grading (``bpcourse release|export-student|grade``).

What a student can read in their feedback or in ``bpcourse grade``'s line about them is an English template
passed through ``bpcourse.i18n``, in the language of the edition they worked in; ``locale/ko/*.json`` holds
the Korean.
"""

from pathlib import Path

from bpcourse.i18n import add_catalogue

add_catalogue(Path(__file__).parent / "locale")
