"""What happened to each submission (:class:`Outcome`), and the summary ``bpcourse grade`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from .inert import printable


@dataclass
class Outcome:
    """What happened to one submission: its score, or why it could not be graded, and what was repaired."""

    assignment: str
    student: str
    score: float | None = None
    max_score: float | None = None
    problem: str = ""                      # why it could not be graded (empty when graded)
    changes: list[str] = field(default_factory=list)
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade_id -> (score, max)
    overruled: list[str] = field(default_factory=list)  # test cells that passed in the kernel, not on replay
    confined: str = ""  # "yes", or why the kernel's view of the disk was not confined


def _coverage() -> str:
    """What Landlock confines on this system, in words: "disk, /proc, TCP, signals; not UDP"."""
    from . import confine

    got = confine.coverage()
    names = {"disk": "disk", "/proc": "/proc", "network": "TCP", "signals": "signals"}
    on = [names[k] for k, v in got.items() if v]
    off = [names[k] for k, v in got.items() if not v] + ["UDP"]
    abi = f" (Landlock ABI {confine.abi()})" if len(off) > 1 else ""
    return ", ".join(on) + "; not " + ", ".join(off) + abi


def summary(outcomes: list[Outcome], export: str | None = "grades.csv") -> str:
    graded = [o for o in outcomes if not o.problem]
    failed = [o for o in outcomes if o.problem]
    lines = [f"graded {len(graded)} of {len(outcomes)} submissions"]
    lines += [f"  {o.assignment} {o.student}: {o.score:g}/{o.max_score:g}"
              + (f"  ({'; '.join(o.changes)})" if o.changes else "")
              + (f"  [passed in the kernel but not on replay: {', '.join(o.overruled)}; see the feedback]"
                 if o.overruled else "") for o in graded]
    if failed:
        lines.append(f"could not grade {len(failed)}:")
        lines += [f"  {o.assignment} {o.student}: {o.problem}" for o in failed]
        if any(o.confined == "yes" and "nbgrader failed" in o.problem for o in failed):
            lines.append("  (if a kernel could not start, build/grading/kernels.log says why; --no-confine "
                         "grades without confining kernels)")
    kinds = {o.confined for o in outcomes if o.confined}
    for kind in sorted(kinds):
        lines.append(f"kernels confined ({_coverage()}): {kind}")
    if outcomes:
        lines.append("kernel environment and terminal: isolated (allow-listed variables only, no terminal)")
    if export:
        lines.append(f"grades of every assignment written to {export} (`nbgrader export` writes the same file)")
    return printable("\n".join(lines))  # student ids and nbgrader's messages may hold terminal escapes
