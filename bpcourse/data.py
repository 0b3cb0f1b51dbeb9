"""Data for the course: MNIST (downloaded once, checksum-verified, cached) and the spiral toy set.

``load_mnist`` keeps the signature and return layout of *Deep Learning from Scratch*, so the
textbook's training loops run unchanged. Where the four original ``.gz`` files come from:

1. the folder passed as ``data_dir=``, if given (no network);
2. else the folder named by the environment variable ``BPCOURSE_DATA_DIR``, if it is set (no network);
3. otherwise the per-user cache, which is filled from a mirror on first use.

Every file is checked against its published sha256 before it is decoded. Importing this module
does not touch the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np

from .i18n import tr

__all__ = [
    "DataUnavailableError",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "default_cache_dir",
    "fetch_mnist",
    "load_mnist",
    "spiral",
]

# Base URLs holding the four original files byte for byte, tried in order. The environment
# variable BPCOURSE_MNIST_URL replaces this list by one base URL of your choice.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# role -> (file name, sha256). The hashes are the published ones of the official files.
MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz",
                     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train_labels": ("train-labels-idx1-ubyte.gz",
                     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "test_images": ("t10k-images-idx3-ubyte.gz",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}

DATA_DIR_ENV = "BPCOURSE_DATA_DIR"
MIRROR_ENV = "BPCOURSE_MNIST_URL"
TIMEOUT = 15  # seconds of silence (connecting, or between bytes) before a mirror counts as dead


class DataUnavailableError(RuntimeError):
    """A data file could not be found, downloaded, verified or decoded. The message says what to do."""


def default_cache_dir() -> Path:
    """Per-user cache folder for the MNIST files, e.g. ``~/.cache/bpcourse/mnist`` on Linux."""
    import pooch  # imported here so that importing bpcourse.data stays light

    return Path(pooch.os_cache("bpcourse")) / "mnist"


def _names(files) -> str:
    return ", ".join(name for name, _ in files.values())


def _advice(files) -> str:
    return tr("To fix this, do one of:\n"
              "  - connect to the network and run again;\n"
              "  - put the files {names} in one folder and pass it: "
              'load_mnist(..., data_dir="that/folder") (in a notebook: in the cell that calls load_mnist);\n'
              "  - set the environment variable {data_env} to that folder before starting Python "
              "(for a notebook: before starting Jupyter).\n"
              "Another mirror can be chosen with {mirror_env}=<base URL>.",
              names=_names(files), data_env=DATA_DIR_ENV, mirror_env=MIRROR_ENV)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _why(exc: BaseException) -> str:
    """One line on what went wrong, instead of a traceback from deep inside requests."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.Timeout):
        return tr("no answer within {timeout} s", timeout=TIMEOUT)
    if isinstance(exc, requests.ConnectionError):
        return tr("could not connect (no network, or the server is down)")
    if isinstance(exc, ValueError) and "does not match the known hash" in str(exc):
        return tr("the downloaded file's sha256 does not match the published one (damaged or different file)")
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _from_folder(folder: Path, files, source: str) -> dict[str, Path]:
    """The files in ``folder``, each checked against its sha256; no network. ``source`` ("data_dir"
    or the environment variable's name) says in the messages where the folder came from."""
    where = f"{source}={str(folder)!r}"
    missing = [repr(name) for name, _ in files.values() if not (folder / name).is_file()]
    if missing:
        what = (tr("that folder does not exist") if not folder.is_dir() else
                tr("none of the files is there") if len(missing) == len(files) else
                tr("the file {name} is not there", name=missing[0]) if len(missing) == 1 else
                tr("the files {names} are not there", names=", ".join(missing)))
        other = (tr("leave out data_dir") if source == "data_dir" else
                 tr('pass another folder with load_mnist(..., data_dir="that/folder"), or unset {data_env}',
                    data_env=DATA_DIR_ENV))
        raise DataUnavailableError(tr("{where}, but {what}. Put the original files ({names}) in that folder, or "
                                      "{other} to download them into the cache.",
                                      where=where, what=what, names=_names(files), other=other))
    paths = {}
    for role, (name, sha) in files.items():
        got = _sha256(folder / name)
        if got != sha:
            raise DataUnavailableError(tr("{name!r} in {where} is damaged or not the original file: "
                                          "sha256 {got}, expected {sha}. Replace it with the original file.",
                                          name=name, where=where, got=got, sha=sha))
        paths[role] = folder / name
    return paths


def _download(files, base_url: str | None, cache_dir) -> dict[str, Path]:
    """Each file from the cache, or from the first mirror that serves it with the right sha256."""
    import pooch

    override = base_url or os.environ.get(MIRROR_ENV)
    mirrors = [override] if override else MNIST_MIRRORS
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    # pooch writes to a temporary file in cache_dir and moves it into place only after the
    # sha256 matched, so a failed or interrupted download never leaves a half-written file.
    downloader = pooch.HTTPDownloader(progressbar=True, timeout=TIMEOUT)
    # No "Downloading data from ..." line per attempt: a progress bar shows each download that starts,
    # and a failure ends in one DataUnavailableError listing every attempt.
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        return {role: _retrieve(name, sha, mirrors, cache_dir, downloader, files)
                for role, (name, sha) in files.items()}
    finally:
        logger.setLevel(level)


def _retrieve(name, sha, mirrors, cache_dir: Path, downloader, files) -> Path:
    import pooch

    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        try:
            return Path(pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=name, path=cache_dir,
                                       downloader=downloader))
        except (ValueError, OSError) as exc:  # requests' errors are OSErrors
            failures.append(f"{url}: {_why(exc)}")
    raise DataUnavailableError(tr("could not download {name!r} into {cache!r}. Tried {failures}.\n{advice}",
                                  name=name, cache=str(cache_dir), failures="; ".join(failures),
                                  advice=_advice(files))) from None


def fetch_mnist(files=MNIST_FILES, *, base_url: str | None = None,
                cache_dir: str | os.PathLike | None = None,
                data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Local, verified paths of the MNIST files: ``{role: path}`` for the roles in ``files``.

    ``files`` maps a role to ``(file name, sha256)``; ``base_url`` and ``cache_dir`` override the
    mirrors and the cache folder. ``data_dir``, a folder already holding the files, wins over
    ``BPCOURSE_DATA_DIR``, which wins over the cache and the download; neither touches the network.
    """
    if data_dir is not None:
        if not os.fspath(data_dir):
            raise ValueError(tr('data_dir is an empty string: pass the folder holding the MNIST files, '
                                'e.g. data_dir="data/mnist", or leave it out'))
        return _from_folder(Path(data_dir).expanduser(), files, "data_dir")
    folder = os.environ.get(DATA_DIR_ENV)
    if folder:
        return _from_folder(Path(folder).expanduser(), files, DATA_DIR_ENV)
    return _download(files, base_url, cache_dir)


def _read_idx(path: Path) -> np.ndarray:
    """Decode a gzip'd IDX file: bytes 0 0 8 ndim, ndim big-endian uint32 sizes, then the uint8 data."""
    try:
        with gzip.open(path, "rb") as f:
            magic = f.read(4)
            if len(magic) != 4 or magic[:3] != b"\x00\x00\x08" or not 1 <= magic[3] <= 4:
                raise ValueError(tr("header {header} is not 000008 followed by 01..04", header=magic.hex()))
            sizes = f.read(4 * magic[3])
            if len(sizes) != 4 * magic[3]:
                raise ValueError(tr("the header is cut short"))
            data = np.empty([int(n) for n in np.frombuffer(sizes, dtype=">u4")], dtype=np.uint8)
            buf, filled = memoryview(data).cast("B"), 0  # decompress straight into the array: no copy
            while filled < data.size and (n := f.readinto(buf[filled:])):
                filled += n
            if filled != data.size or f.read(1):
                raise ValueError(tr("the header promises shape {shape}, the data has a different size",
                                    shape=data.shape))
    except (OSError, EOFError, ValueError) as exc:
        raise DataUnavailableError(tr("{name!r} ({path}) is not a valid IDX file of bytes: {exc}. "
                                      "Replace it with the original file.", name=path.name, path=path,
                                      exc=exc)) from None
    return data


def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False, *,
               files=MNIST_FILES, base_url: str | None = None,
               cache_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None):
    """MNIST as ``((x_train, t_train), (x_test, t_test))``, the layout of *Deep Learning from Scratch*.

    Images are ``(N, 784)`` if ``flatten`` else ``(N, 1, 28, 28)``; float32 in [0, 1] if ``normalize``
    else uint8 in 0..255. Labels are int64 digits ``(N,)``, or float32 one-hot rows ``(N, 10)`` if
    ``one_hot_label``. Raises DataUnavailableError, with what to do, when the files cannot be had.
    The keyword-only arguments are passed to :func:`fetch_mnist`; ``data_dir="folder"`` reads the
    four files from a folder of yours (no network).
    """
    paths = fetch_mnist(files, base_url=base_url, cache_dir=cache_dir, data_dir=data_dir)
    out = []
    for split in ("train", "test"):
        x, t = _read_idx(paths[f"{split}_images"]), _read_idx(paths[f"{split}_labels"])
        if x.ndim != 3 or t.ndim != 1 or len(x) != len(t):
            raise DataUnavailableError(tr("{split} files do not pair up: images {images}, labels {labels}; "
                                          "expected (N, rows, cols) images and (N,) labels",
                                          split=split, images=x.shape, labels=t.shape))
        if normalize:
            x = np.divide(x, np.float32(255), dtype=np.float32)  # one pass, no float64 intermediate
        x = x.reshape(len(x), -1) if flatten else x[:, np.newaxis]
        t = np.eye(10, dtype=np.float32)[t] if one_hot_label else t.astype(np.int64)
        out.append((x, t))
    return tuple(out)


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(tr("{name} must be an integer, got {kind}: {value!r}", name=name,
                            kind=type(value).__name__, value=value))
    if value < minimum:
        raise ValueError(tr("{name} must be at least {minimum}, got {value}", name=name, minimum=minimum,
                            value=value))
    return int(value)


def spiral(points_per_class: int = 100, dimensions: int = 2, classes: int = 3, noise: float = 0.2,
           seed: int | None = 0):
    """The interleaved-spirals toy set: ``(x, t)`` with x float64 ``(points_per_class*classes, 2)``
    and t int64 class labels, the classes in consecutive blocks.

    Class j runs along radius r = 0..1 while its angle goes from 4j to 4(j+1) radians, plus Gaussian
    noise of standard deviation ``noise`` on the angle; a point is (r sin θ, r cos θ).
    ``seed`` makes the noise repeatable (None: fresh noise each call).
    """
    n = _count(points_per_class, "points_per_class", 1)
    k = _count(classes, "classes", 1)
    if _count(dimensions, "dimensions", 2) != 2:
        raise ValueError(tr("dimensions must be 2 (the spiral lies in a plane), got {dimensions}",
                            dimensions=dimensions))
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) \
            or not np.isfinite(noise) or noise < 0:
        raise ValueError(tr("noise must be a finite number >= 0 (std of the angle noise), got {noise!r}",
                            noise=noise))
    gen = np.random.default_rng(seed)
    r = np.linspace(0.0, 1.0, n)
    x = np.empty((n * k, 2))
    for j in range(k):
        theta = np.linspace(4.0 * j, 4.0 * (j + 1), n) + noise * gen.standard_normal(n)
        x[j * n:(j + 1) * n] = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
    return x, np.repeat(np.arange(k, dtype=np.int64), n)
