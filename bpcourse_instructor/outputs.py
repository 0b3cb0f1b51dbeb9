"""Every kind of output a graded cell may keep, capped: streams, pictures, results, errors, widget state.

:class:`CellBudget` decides for each message from the kernel what the notebook keeps; anything cut is replaced
by a note saying so. Hidden-test transcripts have an allowance of their own, so an honest one always reaches
the judge.
"""

from __future__ import annotations

from nbformat import NotebookNode

from grader_tests import _replay

# Output kept per cell, in characters. The course's largest honest cell shows 87,000 (a matplotlib PNG in
# notebook 07) and its largest notebook 220,000, so these caps cut only floods.
OUTPUT_CAP = 100_000         # printed text (stdout and stderr)
RICH_CAP = 1_000_000         # pictures, results, widgets and errors (update_display_data and comms included)
NOTEBOOK_RICH_CAP = 10_000_000  # the same, for the whole notebook
ERROR_CAP = 20_000           # of an error's message, and of each traceback line; 50,000 for the traceback
# A hidden test's transcript (zlib + base64 of at most _replay.MAX_BYTES of recorded JSON, plus names and
# messages the recorder does not count) is never longer than this; it is kept whole up to here.
TRANSCRIPT_CAP = 2 * _replay.MAX_BYTES
_OVERHEAD = 200              # characters an output costs in the notebook's JSON beyond its strings

TRUNCATED = ("... output truncated by the grader: this cell showed more than it keeps ({what}); "
             "the rest was left out ...")

CAPPED = {"stream", "display_data", "execute_result", "update_display_data", "error", "comm_open", "comm_msg"}


def _size(value) -> int:
    """About how many characters ``value`` takes as JSON (strings counted by length, cheaply)."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, dict):
        return sum(_size(k) + _size(v) + 2 for k, v in value.items()) + 2
    if isinstance(value, (list, tuple)):
        return sum(_size(v) + 1 for v in value) + 2
    return 8


def _cut(text, limit: int) -> str:
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[:limit] + " ... output truncated by the grader (too long to keep) ..."


def cut_error(content: dict) -> dict:
    """An error's content with its name, message and traceback cut to a readable size."""
    lines = content.get("traceback") or []
    lines = [_cut(line, ERROR_CAP) for line in (lines if isinstance(lines, list) else [lines])]
    kept, used = [], sum(map(len, lines[-1:]))
    for line in lines[:-1]:
        used += len(line)
        if used > 2.5 * ERROR_CAP:
            kept.append(TRUNCATED.format(what=f"{int(2.5 * ERROR_CAP):,} characters of traceback"))
            break
        kept.append(line)
    return {**content, "ename": _cut(content.get("ename", ""), 200),
            "evalue": _cut(content.get("evalue", ""), ERROR_CAP), "traceback": kept + lines[-1:]}


def _note(what: str) -> NotebookNode:
    return NotebookNode(output_type="stream", name="stdout", text="\n" + TRUNCATED.format(what=what) + "\n")


class CellBudget:
    """What one execution of a cell may still add to the notebook. :meth:`admit` returns the message to
    process (the original, or a copy cut down to fit, or a note saying what was left out) or None to drop it.

    Printed text is kept up to OUTPUT_CAP characters. Everything else counts against RICH_CAP for the cell and
    NOTEBOOK_RICH_CAP for the notebook; an output that does not fit is replaced, once per cell, by a note. An
    error is always kept (it is what scores a cell 0), cut to size, and in its shortest form once the cell is
    over its budget. Hidden-test transcripts have their own allowance: as many as the cell has hidden checks,
    plus one (so that the judge still sees a cell that emits too many), each up to TRANSCRIPT_CAP.
    """

    def __init__(self, transcripts: int, notebook: list[int]):
        self.text = self.rich = self.seen = 0
        self.transcripts = transcripts
        self.notebook = notebook      # [characters of rich output in the notebook so far], shared by its cells
        self.noted = self.text_cut = False  # said that rich output, printed text was left out

    def admit(self, msg, outs, targets: int = 1):
        if len(outs) < self.seen:  # clear_output emptied the cell: what is gone no longer counts
            self.text = sum(len(o.get("text", "")) + 10 for o in outs if o.get("output_type") == "stream")
            self.rich = sum(_size(o) for o in outs if o.get("output_type") != "stream")
            self.noted = self.text_cut = False
        self.seen = len(outs)
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            return self._stream(msg, content)
        if kind in ("display_data", "execute_result") and _replay.MIME in (content.get("data") or {}):
            return self._transcript(msg, content, outs)
        if kind == "error":
            content = cut_error(content)
            if not self._fits(_size(content)):
                if any(o.get("output_type") == "error" for o in outs):
                    return None  # the cell already scores 0
                content = {**content, "evalue": _cut(content["evalue"], 200), "traceback": [
                    TRUNCATED.format(what="the error was too long")]}
            return {**msg, "content": content}
        if kind.startswith("comm"):  # widget state, stored in the notebook's metadata
            size = _size(content)
        else:
            size = _size(content.get("data")) * max(targets, 1) + _size(content.get("metadata")) + _OVERHEAD
        if self._fits(size):
            return msg
        if kind.startswith("comm") or self.noted:
            if not self.noted:
                outs.append(_note(f"{RICH_CAP:,} characters of pictures and results per cell"))
                self.noted = True
            return None
        self.noted = True
        text = TRUNCATED.format(what=f"{RICH_CAP:,} characters of pictures and results per cell")
        return {**msg, "content": {**content, "data": {"text/plain": text}, "metadata": {}}}

    def _fits(self, size: int) -> bool:
        if self.rich + size > RICH_CAP or self.notebook[0] + size > NOTEBOOK_RICH_CAP:
            return False
        self.rich += size
        self.notebook[0] += size
        return True

    def _stream(self, msg, content):
        if self.text_cut:
            return None  # cut already, and said so
        text = content.get("text", "")
        text = text if isinstance(text, str) else str(text)
        name = content.get("name") if content.get("name") in ("stdout", "stderr") else "stdout"
        if self.text + len(text) > OUTPUT_CAP:
            text = text[:max(OUTPUT_CAP - self.text, 0)] + "\n" + TRUNCATED.format(
                what=f"{OUTPUT_CAP:,} characters of printed text per cell") + "\n"
            self.text_cut = True
        self.text += len(text) + 10  # a message costs a little even when empty
        if text is content.get("text") and name == content.get("name"):
            return msg
        return {**msg, "content": {**content, "name": name, "text": text}}

    def _transcript(self, msg, content, outs):
        if self.transcripts <= 0:
            return None  # more than the cell's hidden checks, plus one: the judge fails the cell either way
        self.transcripts -= 1
        record = content["data"][_replay.MIME]
        if _size(record) > TRANSCRIPT_CAP:  # cannot be honest: keep its place, so the judge says it is unreadable
            outs.append(_note(f"a hidden test's record of {TRANSCRIPT_CAP:,} characters"))
            record = {"check": str(record.get("check", "") if isinstance(record, dict) else "")[:200], "z": ""}
        # Only the transcript itself: the judge reads nothing else and removes the output.
        kept = {k: v for k, v in content.items() if k == "execution_count"}
        return {**msg, "content": {**kept, "data": {_replay.MIME: record}, "metadata": {}}}
