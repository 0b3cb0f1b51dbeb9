"""Record and replay: the verdict of a hidden test is reached outside the student's kernel.

A hidden test runs twice. In the student's kernel every call into student code (through
``_core.call``) is *recorded*: its result is turned into plain data (numbers, arrays, lists,
dicts, strings) and student objects into opaque handles. ``bpcourse grade`` reads that
transcript from the cell's output and *replays* the same check in the grading process: each
``call`` returns the recorded result instead of running anything, and every comparison runs
on the grader's own NumPy. Patching ``np.isclose`` or replacing this package's functions in
the kernel therefore changes nothing the grader computes; forging a transcript that passes
means producing the right numbers, which is solving the exercise.

Arrays and NumPy scalars travel as their own dtype, except extended precision (``np.longdouble``,
``np.clongdouble``), whose size and layout vary between platforms: it is stored as float64 (complex128),
more than precise enough to grade.

Both runs see exactly the same values (the kernel, too, continues with the decoded copy), so
a check behaves identically in both — as long as it touches student objects only inside
``call``. A :class:`Handle` enforces that: outside ``call`` it cannot be called, set or
tested for truth, only passed on.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import weakref
import zlib

import numpy as np

from bpcourse.i18n import tr

MIME = "application/vnd.bpcourse.transcript+json"
ENV = "BPCOURSE_TRANSCRIPT"        # set by `bpcourse grade` in the grading kernels: emit transcripts
CROSSCHECK = "BPCOURSE_CROSSCHECK"  # set by the test suite: replay every check at once and compare
MAX_BYTES = 32 * 1024 ** 2          # of encoded results per check; an honest submission needs < 4 MB
_DTYPES = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"}


class ReplayError(Exception):
    """The transcript does not fit the check (forged, truncated, or the check touched a handle)."""


class Handle:
    """A student object as a check sees it: the real object in the kernel, nothing in the judge.

    Attribute access is lazy (``layer.forward`` is a handle too), so ``call(layer.forward, x)`` reads
    the same in both runs. Inside ``call`` in the kernel, handles resolve to the real objects.
    """

    __slots__ = ("_attr", "_name", "_obj", "_parent")

    def __init__(self, obj=None, name: str = "object", parent: Handle | None = None, attr: str = ""):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_attr", attr)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)  # NumPy probes __array__ and friends: a handle is not an array
        if _live_depth():
            return getattr(resolve(self), attr)
        return Handle(name=f"{self._name}.{attr}", parent=self, attr=attr)

    def __setattr__(self, attr, value):
        if not _live_depth():
            raise ReplayError(tr("the check set {name}.{attr} outside call()", name=self._name, attr=attr))
        setattr(resolve(self), attr, resolve(value))

    def __call__(self, *args, **kwargs):
        if not _live_depth():
            raise ReplayError(tr("the check called {name} outside call()", name=self._name))
        return resolve(self)(*map(resolve, args), **{k: resolve(v) for k, v in kwargs.items()})

    def __bool__(self):
        raise ReplayError(tr("the check asked whether {name} is true outside call()", name=self._name))

    def __repr__(self):
        return f"<{self._name}>"

    @property
    def kind(self) -> str:
        return self._name


def _state(a: np.ndarray) -> tuple:
    return a.shape, a.tobytes()


def resolve(value):
    """The real object behind a handle (kernel only); anything else unchanged."""
    if not isinstance(value, Handle):
        return value
    if value._parent is not None:
        return getattr(resolve(value._parent), value._attr)
    return value._obj


def kind(value) -> str:
    """A type name for messages: a handle's name, or the value's type."""
    return value.kind if isinstance(value, Handle) else type(value).__name__


# ---------------------------------------------------------------- the session: live, recording or replaying

class _Session:
    def __init__(self, mode: str, entries: list | None = None):
        self.mode = mode                 # "record" or "replay"
        self.entries = entries if entries is not None else []
        self.handles: list = []          # record: the real objects behind handle numbers
        self.pos = 0
        self.size = 0
        self.depth = 0                   # record: how deep inside call() we are
        self.first_failure: str | None = None  # replay: the first check that failed, if the replay goes astray
        # Grader arrays handed to student code, numbered in the order first passed (the same in both
        # runs): student code may keep them and write into them, and the replay must see those writes.
        self.arrays: dict[int, tuple] = {}   # id -> (number, weakref, bytes last seen)
        self.count = 0

    def track(self, args) -> None:
        for a in args:
            if type(a) is np.ndarray and a.dtype.str[1:] in _DTYPES:
                known = self.arrays.get(id(a))
                if known is None or known[1]() is not a:
                    self.arrays[id(a)] = (self.count, weakref.ref(a), _state(a))
                    self.count += 1

    def snapshot(self) -> None:
        # Only what student code writes during a call is recorded, not the grader's own updates between calls.
        for key, (num, ref, _seen) in list(self.arrays.items()):
            a = ref()
            if a is None:
                del self.arrays[key]
            else:
                self.arrays[key] = (num, ref, _state(a))

    def writes(self) -> list:
        """[number, new value] for each tracked array that student code changed during a call (record)."""
        out = []
        for key, (num, ref, seen) in list(self.arrays.items()):
            a = ref()
            if a is None:
                del self.arrays[key]
            elif _state(a) != seen:
                self.arrays[key] = (num, ref, _state(a))
                out.append([num, encode(a, [])])
        return out

    def apply(self, writes) -> None:
        """Make the replay's copies of the grader's arrays what student code made them in the kernel."""
        live = {num: ref() for num, ref, _ in self.arrays.values()}
        for item in _items(writes):
            if not isinstance(item, list) or len(item) != 2:
                raise ReplayError(tr("malformed array write in the transcript"))
            a, new = live.get(item[0]), decode(item[1], None)
            if a is None:
                continue  # the grader no longer holds that array: nothing can read it
            if not isinstance(new, np.ndarray) or new.size != a.size:
                raise ReplayError(tr("an array write in the transcript has the wrong size"))
            try:
                a.shape = new.shape  # student code may reshape the caller's array in place (x.shape = ...)
            except AttributeError:
                raise ReplayError(tr("an array write in the transcript has the wrong shape")) from None
            a[...] = new


_session: _Session | None = None


def _live_depth() -> int:
    """Whether handles may touch real objects: only inside call(), and never while replaying."""
    if _session is None:
        return 1  # no session at all (a check used outside a hidden test): plain objects
    return _session.depth if _session.mode == "record" else 0


def invoke(fn, args, what: str, run):
    """The heart of ``call``: run (and record) student code, or return what was recorded.

    ``run(fn, args)`` does the actual call and turns exceptions into ``("raise", message)``.
    """
    s = _session
    if s is None:
        status, value = run(fn, args)
        return status, value
    if s.mode == "record" and s.depth:
        raise ReplayError(tr("the call {what!r} happened inside another call()", what=what))
    if s.mode == "replay":
        if s.pos >= len(s.entries):
            raise ReplayError(tr("the transcript ends before the call {what!r}", what=what))
        entry = s.entries[s.pos]
        s.pos += 1
        s.track(args)
        if not isinstance(entry, list) or len(entry) != 4 or entry[0] != what:
            got = entry[0] if isinstance(entry, list) and entry else entry
            raise ReplayError(tr("expected the call {what!r} in the transcript, found {found!r}", what=what,
                                 found=str(got)[:80]))
        _, status, payload, writes = entry
        s.apply(writes)
        if status == "raise":
            return "raise", str(payload)
        if status != "ok":
            raise ReplayError(tr("unknown status {status!r}", status=str(status)[:20]))
        return "ok", decode(payload, None)
    s.track(args)
    s.snapshot()
    s.depth += 1
    try:
        status, value = run(fn, [resolve(a) for a in args])
    finally:
        s.depth -= 1
    writes = s.writes()
    if status == "raise":
        s.entries.append([what, "raise", value, writes])
        return status, value
    try:
        payload = encode(value, s.handles)
    except RecursionError:
        payload = encode(object(), s.handles)
    s.size += len(json.dumps(payload)) + len(json.dumps(writes))
    if s.size > MAX_BYTES:
        raise ReplayError(tr("the transcript grew beyond its limit: does your code return huge arrays?"))
    s.entries.append([what, "ok", payload, writes])
    # The kernel carries on with the decoded copy too, so both runs see the same values.
    return "ok", decode(payload, s.handles)


# ---------------------------------------------------------------- plain-data encoding

def _narrowed(value):
    """longdouble and clongdouble as float64 and complex128; anything else unchanged."""
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "fc" and value.dtype.str[1:] not in _DTYPES:
        wide = np.float64 if value.dtype.kind == "f" else np.complex128
        return value.astype(wide) if isinstance(value, np.ndarray) else wide(value)
    return value


def encode(value, handles: list, depth: int = 0):
    """Plain JSON for a student's result; objects become handle numbers (kept in ``handles``)."""
    value = _narrowed(value)
    t = type(value)
    if value is None or t in (bool, int, str):
        return value
    if t is float:
        return value if np.isfinite(value) else {"f": repr(value)}
    if depth < 32:
        if isinstance(value, np.ndarray) and value.dtype.str[1:] in _DTYPES:
            a = np.array(value, dtype=value.dtype.newbyteorder("<"), order="C", subok=False)
            return {"a": a.dtype.str[1:], "s": list(a.shape), "b": base64.b64encode(a.tobytes()).decode()}
        if isinstance(value, np.generic) and value.dtype.str[1:] in _DTYPES:
            return {"g": encode(np.asarray(value), handles, depth + 1)}
        if isinstance(value, tuple):
            return {"t": [encode(v, handles, depth + 1) for v in value]}
        if isinstance(value, list):
            return {"l": [encode(v, handles, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"d": [[encode(k, handles, depth + 1), encode(v, handles, depth + 1)]
                          for k, v in list(value.items())]}
    handles.append(value)
    return {"h": len(handles) - 1, "n": t.__name__[:60]}


def decode(data, handles: list | None):
    """The inverse of :func:`encode`; with ``handles`` None (the judge), objects become empty handles."""
    if data is None or type(data) in (bool, int, float, str):
        return data
    if isinstance(data, list) or not isinstance(data, dict) or len(data) not in (1, 2, 3):
        raise ReplayError(tr("malformed value in the transcript"))
    if "f" in data:
        return float(data["f"]) if data["f"] in ("nan", "inf", "-inf") else _bad()
    if "a" in data:
        dtype, shape = data["a"], data["s"]
        if dtype not in _DTYPES or not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
            raise ReplayError(tr("malformed array in the transcript"))
        raw = base64.b64decode(data["b"], validate=True)
        dt = np.dtype("<" + dtype)
        if len(raw) != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ReplayError(tr("an array in the transcript has the wrong number of bytes"))
        return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("=")).reshape(shape)
    if "g" in data:
        arr = decode(data["g"], handles)
        if not isinstance(arr, np.ndarray) or arr.shape != ():
            raise ReplayError(tr("malformed scalar in the transcript"))
        return arr[()]
    if "t" in data:
        return tuple(decode(v, handles) for v in _items(data["t"]))
    if "l" in data:
        return [decode(v, handles) for v in _items(data["l"])]
    if "d" in data:
        out = {}
        for pair in _items(data["d"]):
            if not isinstance(pair, list) or len(pair) != 2:
                raise ReplayError(tr("malformed dict in the transcript"))
            key = decode(pair[0], handles)
            try:
                out[key] = decode(pair[1], handles)
            except TypeError:
                raise ReplayError(tr("unhashable key in the transcript")) from None
        return out
    if "h" in data:
        name = str(data.get("n", "object"))[:60]
        if handles is None:
            return Handle(name=tr("{name} object", name=name))
        if type(data["h"]) is not int or not 0 <= data["h"] < len(handles):
            raise ReplayError(tr("unknown handle in the transcript"))
        return Handle(handles[data["h"]], name=tr("{name} object", name=name))
    raise ReplayError(tr("malformed value in the transcript"))


def _items(x) -> list:
    if not isinstance(x, list):
        raise ReplayError(tr("malformed container in the transcript"))
    return x


def _bad():
    raise ReplayError(tr("malformed number in the transcript"))


# ---------------------------------------------------------------- checks: record in the kernel, judge outside

def pack(name: str, entries: list) -> dict:
    """A transcript as it travels in a display_data output, with the language its calls were described in (the
    judge replays it in that language: the descriptions, which key the calls, are translated)."""
    from bpcourse.i18n import language

    raw = json.dumps({"check": name, "entries": entries}, separators=(",", ":")).encode()
    return {"check": name, "z": base64.b64encode(zlib.compress(raw, 6)).decode(), "language": language()}


def unpack(data, limit: int = 4 * MAX_BYTES) -> tuple[str, list]:
    """(check name, entries) from a display_data payload; ReplayError if it is not a transcript."""
    try:
        z = zlib.decompressobj()
        raw = z.decompress(base64.b64decode(data["z"], validate=True), limit)
        if z.unconsumed_tail:
            raise ReplayError(tr("the transcript is too large"))
        doc = json.loads(raw)
        name, entries = doc["check"], doc["entries"]
    except ReplayError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything malformed is a forged or broken transcript
        raise ReplayError(tr("unreadable transcript ({kind})", kind=type(exc).__name__)) from None
    if not isinstance(name, str) or not isinstance(entries, list):
        raise ReplayError(tr("malformed transcript"))
    return name, entries


def _emit(name: str, entries: list) -> None:
    try:
        from IPython.display import publish_display_data
    except ImportError:  # pragma: no cover - grading kernels always have IPython
        return
    publish_display_data({MIME: pack(name, entries)})


def hidden_check(fn):
    """Decorator for every public check: records its calls into student code, emits the transcript when the
    grader asks for one, and in the test suite replays it at once and insists on the same verdict."""
    name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

    @functools.wraps(fn)
    def wrapper(*args):
        global _session
        __tracebackhide__ = True
        emit, cross = os.environ.get(ENV) == "1", os.environ.get(CROSSCHECK) == "1"
        if _session is not None:  # a check calling another (check_affine): one transcript for both
            return fn(*args)
        # Always recorded, even when nobody reads the transcript (stock nbgrader): every run then sees the
        # same copies and handles, so a check behaves the same wherever it runs.
        _session = session = _Session("record")
        failure = None
        try:
            fn(*[Handle(a, name=tr("argument {number}", number=i + 1)) for i, a in enumerate(args)])
        except ReplayError as exc:
            from ._core import Failure
            failure = Failure(tr("the hidden test could not record your code's answers: {exc}", exc=exc))
        except AssertionError as exc:
            failure = exc
        finally:
            _session = None
            if emit:
                _emit(name, session.entries)
        if cross:
            verdict = judge(name, session.entries, len(args))
            mine = None if failure is None else str(failure)
            if verdict != mine:
                raise AssertionError(f"{name}: the replayed verdict differs from the live one\n"
                                     f"live:   {mine}\nreplay: {verdict}")
        if failure is not None:
            raise failure

    wrapper.check_name = name
    return wrapper


def judge(name: str, entries: list, nargs: int, language: str | None = None) -> str | None:
    """Replay check ``name`` ("nb04.check_relu") on a transcript: None if it passes, else the message.

    The labels of the calls (``what=``) are translated like every message, so a Korean notebook's transcript names
    its calls in Korean. The replay runs in ``language`` if given (the language the transcript says it was
    recorded in); without it the language in use is tried first, then the others, and the verdict (with its
    message) is the first replay whose calls fit the transcript, or the first replay's if none does.
    """
    import importlib

    from bpcourse import i18n

    module, _, func = name.partition(".")
    if not (module.startswith("nb") and module[2:].isdigit() and func.startswith("check_")):
        return tr("unknown hidden test {name!r}", name=name)
    fn = getattr(importlib.import_module(f"grader_tests.{module}"), func, None)
    if fn is None or not hasattr(fn, "check_name"):
        return tr("unknown hidden test {name!r}", name=name)
    current = i18n.language()
    order = [language] if language else [current] + [other for other in i18n.LANGUAGES if other != current]
    first = None
    for chosen in order:
        with i18n.using(chosen):
            verdict, fits = _judge_once(fn, entries, nargs)
        if fits:
            return verdict
        first = verdict if first is None else first
    return first


def _judge_once(fn, entries: list, nargs: int) -> tuple[str | None, bool]:
    """(the verdict of one replay of ``fn`` on ``entries``, whether the check's calls fit the transcript)."""
    from ._core import Failure

    global _session
    saved, _session = _session, _Session("replay", entries)
    try:
        with np.errstate(all="ignore"):
            fn.__wrapped__(*[Handle(name=tr("argument {number}", number=i + 1)) for i in range(nargs)])
        if _session.pos != len(entries):
            raise ReplayError(tr("the transcript holds {count} more calls than the check made",
                                 count=len(entries) - _session.pos))
    except Failure as exc:
        return str(exc), True
    except ReplayError as exc:
        if _session.first_failure is not None:
            # The kernel went on where the replay had already failed (its comparisons were made to pass): the
            # first failure is what the student needs to know.
            return _session.first_failure, True
        return tr("the record of your code's answers does not fit this hidden test ({exc}), so it scores 0.",
                  exc=exc), False
    except Exception as exc:  # noqa: BLE001 - a forged transcript must never crash the grader
        return tr("the hidden test failed on the recorded answers ({kind}: {message})", kind=type(exc).__name__,
                  message=str(exc)[:200]), True
    finally:
        _session = saved
    return None, True
