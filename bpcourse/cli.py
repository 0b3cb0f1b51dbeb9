"""The ``bpcourse`` command. Its commands (release, grade, export-student) are the instructor's: they live in
``bpcourse_instructor``, which only the instructor's repository has. Here they say so in one line."""

from __future__ import annotations

import importlib.util
import sys

from .i18n import tr

NEEDS = ("bpcourse_instructor", "nbgrader", "nbclient")


def main(argv: list[str] | None = None) -> int:
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        print(tr("bpcourse: the instructor tools are not installed here (no {missing}); students don't need them. "
                 "Instructors: in the course repository run  pip install -e \".[instructor]\"",
                 missing=", ".join(missing)), file=sys.stderr)
        return 2
    from bpcourse_instructor.cli import main as instructor_main

    return instructor_main(argv)


if __name__ == "__main__":
    sys.exit(main())
