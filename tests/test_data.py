"""bpcourse.data: MNIST from the shared copy, the download path against a local server, the spiral.

No test here touches the real network: downloads go to an HTTP server on 127.0.0.1, and the
default mirror is pointed at a closed local port so that a mistake fails fast instead.
"""

import gzip
import hashlib
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import REPO, SHARED_MNIST

from bpcourse import data
from bpcourse.data import DataUnavailableError, load_mnist, spiral

MNIST_DIR = SHARED_MNIST
HAVE_MNIST = all((MNIST_DIR / name).is_file() for name, _ in data.MNIST_FILES.values())
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"no MNIST copy at {MNIST_DIR} (../shared/data/mnist "
                                 "next to the repository); only the real-MNIST tests are skipped")

# From the README of the shared copy.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.delenv("BPCOURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("BPCOURSE_MNIST_URL", f"http://127.0.0.1:{closed_port()}/")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")


# ---------------------------------------------------------------- the real files

@pytest.fixture(scope="module")
def real():
    """load_mnist on the shared copy, each variant loaded once per module and freed after it."""
    loaded = {}

    def load(**kw):
        key = tuple(sorted(kw.items()))
        if key not in loaded:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("BPCOURSE_DATA_DIR", str(MNIST_DIR))
                mp.setenv("BPCOURSE_MNIST_URL", f"http://127.0.0.1:{closed_port()}/")
                loaded[key] = load_mnist(**kw)
        return loaded[key]

    yield load
    loaded.clear()


@needs_mnist
def test_default_layout_shapes_dtypes_ranges(real):
    (x_train, t_train), (x_test, t_test) = real()
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == x_test.dtype == np.float32
    assert t_train.shape == (60000,) and t_test.shape == (10000,)
    assert t_train.dtype == t_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0


@needs_mnist
def test_labels_match_the_published_counts(real):
    (_, t_train), (_, t_test) = real()
    assert np.bincount(t_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(t_test, minlength=10).tolist() == TEST_COUNTS
    assert t_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


@needs_mnist
def test_raw_images_unflattened(real):
    (x_train, t_train), (x_test, _) = real(normalize=False, flatten=False)
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert x_train.dtype == np.uint8 and x_train.min() == 0 and x_train.max() == 255
    # Background 0, pen 255 (not inverted): most pixels are 0, and every image's top-left pixel is.
    assert (x_train == 0).mean() > 0.75 and not x_train[:, 0, 0, 0].any()
    (x_norm, _), _ = real()
    np.testing.assert_array_equal(x_norm, x_train.reshape(60000, 784).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(real(normalize=False, flatten=False)[0][1], t_train)


@needs_mnist
@pytest.mark.skipif(not (MNIST_DIR / "mnist.npz").is_file(), reason="no mnist.npz in the shared copy")
def test_decoding_agrees_with_the_independent_npz_copy(real):
    (x_train, t_train), (x_test, t_test) = real(normalize=False, flatten=False)
    with np.load(MNIST_DIR / "mnist.npz") as ref:
        np.testing.assert_array_equal(x_train[:, 0], ref["x_train"])
        np.testing.assert_array_equal(x_test[:, 0], ref["x_test"])
        np.testing.assert_array_equal(t_train, ref["y_train"])
        np.testing.assert_array_equal(t_test, ref["y_test"])


@needs_mnist
def test_one_hot_labels(real):
    (_, t_train), (_, t_test) = real()
    (_, h_train), (_, h_test) = real(one_hot_label=True)
    for h, t in ((h_train, t_train), (h_test, t_test)):
        assert h.shape == (len(t), 10) and h.dtype == np.float32
        assert set(np.unique(h).tolist()) == {0.0, 1.0}
        np.testing.assert_array_equal(h.sum(axis=1), 1.0)
        np.testing.assert_array_equal(h.argmax(axis=1), t)


@needs_mnist
def test_data_dir_argument_reads_the_shared_copy(real, tmp_path, monkeypatch):
    monkeypatch.setenv("BPCOURSE_DATA_DIR", str(tmp_path))  # empty: data_dir= wins over it and the cache
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=str(MNIST_DIR), cache_dir=tmp_path / "cache")
    (ref_x, ref_t), _ = real()
    np.testing.assert_array_equal(x_train, ref_x)
    np.testing.assert_array_equal(t_train, ref_t)
    assert x_test.shape == (10000, 784) and np.bincount(t_test, minlength=10).tolist() == TEST_COUNTS
    assert data.fetch_mnist(data_dir=MNIST_DIR) == {role: MNIST_DIR / name
                                                   for role, (name, _) in data.MNIST_FILES.items()}
    assert not (tmp_path / "cache").exists()


# ---------------------------------------------------------------- small synthetic IDX files

def idx_gz(arr) -> bytes:
    """An IDX file of unsigned bytes (00 00 08 ndim, big-endian sizes, data), gzip'd."""
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    return gzip.compress(header + arr.tobytes(), mtime=0)


@pytest.fixture
def fake():
    """Four tiny MNIST-like files and a registry (role -> (name, sha256)) that describes them."""
    rng = np.random.default_rng(4)
    arrays = {"train_images": rng.integers(0, 256, (5, 28, 28)), "train_labels": [3, 1, 4, 1, 5],
              "test_images": rng.integers(0, 256, (2, 28, 28)), "test_labels": [9, 2]}
    names = {role: f"fake-{role}.gz" for role in arrays}
    blobs = {names[role]: idx_gz(a) for role, a in arrays.items()}
    files = {role: (name, hashlib.sha256(blobs[name]).hexdigest()) for role, name in names.items()}
    return SimpleNamespace(arrays={k: np.asarray(v, dtype=np.uint8) for k, v in arrays.items()},
                           blobs=blobs, files=files)


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 serving ``server.files`` (name -> bytes) and logging each request."""
    served, log = {}, []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            log.append(self.path)
            body = served.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_port}/", files=served, requests=log)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def files_in(folder: Path) -> list[str]:
    """Every file under ``folder`` (temporary ones included), relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def check_fake(loaded, fake):
    (x_train, t_train), (x_test, t_test) = loaded
    np.testing.assert_array_equal(x_train, fake.arrays["train_images"].reshape(5, 784) / np.float32(255))
    np.testing.assert_array_equal(x_test, fake.arrays["test_images"].reshape(2, 784) / np.float32(255))
    assert t_train.tolist() == [3, 1, 4, 1, 5] and t_test.tolist() == [9, 2]


def test_download_verifies_and_caches(server, fake, tmp_path):
    server.files.update(fake.blobs)
    cache = tmp_path / "cache"
    check_fake(load_mnist(files=fake.files, base_url=server.url, cache_dir=cache), fake)
    assert sorted(server.requests) == sorted("/" + name for name in fake.blobs)
    assert files_in(cache) == sorted(fake.blobs)
    for name, sha in fake.files.values():
        assert hashlib.sha256((cache / name).read_bytes()).hexdigest() == sha
    server.requests.clear()
    check_fake(load_mnist(files=fake.files, base_url=server.url, cache_dir=cache), fake)
    assert server.requests == [], "the second call should read the cache, not the network"


def test_mirror_from_environment_variable(server, fake, tmp_path, monkeypatch):
    server.files.update(fake.blobs)
    monkeypatch.setenv("BPCOURSE_MNIST_URL", server.url.rstrip("/"))  # with or without the trailing slash
    check_fake(load_mnist(files=fake.files, cache_dir=tmp_path), fake)
    assert len(server.requests) == 4


def test_next_mirror_is_tried_when_the_first_is_dead(server, fake, tmp_path, monkeypatch):
    server.files.update(fake.blobs)
    monkeypatch.delenv("BPCOURSE_MNIST_URL")
    monkeypatch.setattr(data, "MNIST_MIRRORS", (f"http://127.0.0.1:{closed_port()}/", server.url))
    check_fake(load_mnist(files=fake.files, cache_dir=tmp_path), fake)


def test_damaged_cached_file_is_fetched_again(server, fake, tmp_path):
    server.files.update(fake.blobs)
    data.fetch_mnist(fake.files, base_url=server.url, cache_dir=tmp_path)
    name = fake.files["train_labels"][0]
    (tmp_path / name).write_bytes(b"garbage")
    server.requests.clear()
    check_fake(load_mnist(files=fake.files, base_url=server.url, cache_dir=tmp_path), fake)
    assert server.requests == ["/" + name]


def test_corrupt_download_is_refused_and_not_kept(server, fake, tmp_path):
    name = fake.files["train_images"][0]
    blob = bytearray(fake.blobs[name])
    blob[-10] ^= 0xFF
    server.files[name] = bytes(blob)
    with pytest.raises(DataUnavailableError) as info:
        load_mnist(files=fake.files, base_url=server.url, cache_dir=tmp_path / "cache")
    msg = str(info.value)
    assert name in msg and "sha256 does not match" in msg and "BPCOURSE_DATA_DIR" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert files_in(tmp_path / "cache") == [], "a rejected download must leave nothing in the cache"


def test_http_error_is_reported(server, fake, tmp_path):
    with pytest.raises(DataUnavailableError, match=r"(?s)HTTP 404.*BPCOURSE_DATA_DIR"):
        load_mnist(files=fake.files, base_url=server.url, cache_dir=tmp_path)
    assert files_in(tmp_path) == []


def test_dead_server_fails_fast_and_clearly(fake, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/"
    start = time.perf_counter()
    with pytest.raises(DataUnavailableError) as info:
        load_mnist(files=fake.files, base_url=url, cache_dir=tmp_path)
    assert time.perf_counter() - start < 5
    msg = str(info.value)
    assert "could not connect" in msg and fake.files["train_images"][0] in msg and url in msg
    assert "BPCOURSE_DATA_DIR" in msg and "Traceback" not in msg and len(msg) < 1000
    assert 'load_mnist(..., data_dir="that/folder")' in msg and "connect to the network" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert files_in(tmp_path) == []


def test_download_attempts_log_nothing_but_the_error_says_it_all(fake, tmp_path):
    import pooch

    logger, records = pooch.get_logger(), []
    handler, level = logging.Handler(), logger.level
    handler.emit = records.append
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with pytest.raises(DataUnavailableError):
            load_mnist(files=fake.files, base_url=f"http://127.0.0.1:{closed_port()}/", cache_dir=tmp_path)
        assert logger.level == logging.INFO, "pooch's log level must be put back"
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert [r.getMessage() for r in records] == []


# ---------------------------------------------------------------- BPCOURSE_DATA_DIR

@pytest.fixture
def data_dir(fake, tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, blob in fake.blobs.items():
        (folder / name).write_bytes(blob)
    monkeypatch.setenv("BPCOURSE_DATA_DIR", str(folder))
    return folder


def test_data_dir_is_used_without_network(data_dir, fake, server, tmp_path):
    check_fake(load_mnist(files=fake.files, base_url=server.url, cache_dir=tmp_path / "cache"), fake)
    assert server.requests == [] and files_in(tmp_path / "cache") == []


def test_data_dir_missing_file_is_named(data_dir, fake):
    name = fake.files["test_labels"][0]
    (data_dir / name).unlink()
    with pytest.raises(DataUnavailableError, match=rf"BPCOURSE_DATA_DIR.*{name}.*is not there"):
        load_mnist(files=fake.files)


def test_data_dir_damaged_file_is_named(data_dir, fake):
    name, sha = fake.files["test_images"]
    (data_dir / name).write_bytes(b"not the file")
    with pytest.raises(DataUnavailableError) as info:
        load_mnist(files=fake.files)
    msg = str(info.value)
    assert name in msg and sha in msg and hashlib.sha256(b"not the file").hexdigest() in msg


def test_file_with_right_hash_but_not_idx_is_reported(data_dir, fake):
    blob = gzip.compress(b"\x00\x00\x09\x01" + bytes(8))  # type byte 09 is not unsigned bytes
    name = fake.files["train_labels"][0]
    (data_dir / name).write_bytes(blob)
    files = dict(fake.files, train_labels=(name, hashlib.sha256(blob).hexdigest()))
    with pytest.raises(DataUnavailableError, match=rf"{name}.*not a valid IDX file"):
        load_mnist(files=files)


def test_empty_data_dir_environment_points_to_the_data_dir_argument(tmp_path, monkeypatch, fake):
    monkeypatch.setenv("BPCOURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailableError) as info:
        load_mnist(files=fake.files)
    msg = str(info.value)
    assert f"BPCOURSE_DATA_DIR={str(tmp_path)!r}, but none of the files is there" in msg
    assert 'load_mnist(..., data_dir="that/folder")' in msg and "unset BPCOURSE_DATA_DIR" in msg


# ---------------------------------------------------------------- load_mnist(data_dir=...)

@pytest.fixture
def own_folder(fake, tmp_path):
    """The fake files in a folder passed as data_dir= (BPCOURSE_DATA_DIR is unset by the offline fixture)."""
    folder = tmp_path / "my_mnist"
    folder.mkdir()
    for name, blob in fake.blobs.items():
        (folder / name).write_bytes(blob)
    return folder


def test_data_dir_argument_wins_over_environment_and_download(own_folder, fake, server, tmp_path,
                                                               monkeypatch):
    server.files.update(fake.blobs)
    monkeypatch.setenv("BPCOURSE_DATA_DIR", str(tmp_path / "elsewhere"))
    for given in (own_folder, str(own_folder)):
        check_fake(load_mnist(files=fake.files, base_url=server.url, cache_dir=tmp_path / "cache",
                              data_dir=given), fake)
    assert server.requests == [] and not (tmp_path / "cache").exists()


def test_data_dir_argument_missing_file_is_named_with_the_fix(own_folder, fake):
    name = fake.files["test_labels"][0]
    (own_folder / name).unlink()
    with pytest.raises(DataUnavailableError) as info:
        load_mnist(files=fake.files, data_dir=own_folder)
    msg = str(info.value)
    assert f"data_dir={str(own_folder)!r}, but the file {name!r} is not there" in msg
    assert "Put the original files (" in msg and all(n in msg for n, _ in fake.files.values())
    assert "leave out data_dir" in msg


def test_data_dir_argument_damaged_file_is_named_with_the_fix(own_folder, fake):
    name, sha = fake.files["train_images"]
    (own_folder / name).write_bytes(b"not the file")
    with pytest.raises(DataUnavailableError) as info:
        load_mnist(files=fake.files, data_dir=own_folder)
    msg = str(info.value)
    assert f"{name!r} in data_dir={str(own_folder)!r} is damaged or not the original file" in msg
    assert sha in msg and "Replace it with the original file" in msg


def test_data_dir_argument_that_is_no_folder(tmp_path, fake):
    with pytest.raises(DataUnavailableError) as info:
        load_mnist(files=fake.files, data_dir=tmp_path / "nowhere")
    assert f"data_dir={str(tmp_path / 'nowhere')!r}, but that folder does not exist" in str(info.value)
    with pytest.raises(ValueError, match="data_dir is an empty string"):
        load_mnist(files=fake.files, data_dir="")


# ---------------------------------------------------------------- notebook 07's loading cell without MNIST

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("no_data", ["empty BPCOURSE_DATA_DIR", "no cache, no network"])
def test_notebook_07_without_data_shows_one_short_error_naming_data_dir(no_data, tmp_path, monkeypatch):
    pytest.importorskip("nbclient")
    import nbformat
    from nbrun import execute

    name = "07_two_layer_net"
    nb = nbformat.read(REPO / "course" / name / f"{name}.ipynb", as_version=4)
    imports = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    loading = next(c for c in nb.cells if c.cell_type == "code" and "load_mnist(" in c.source)
    nb.cells = [imports, loading]  # only what loading needs: a kernel start and two cells
    nbformat.write(nb, tmp_path / f"{name}.ipynb")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # an empty per-user cache
    if no_data == "empty BPCOURSE_DATA_DIR":
        (tmp_path / "empty").mkdir()
        monkeypatch.setenv("BPCOURSE_DATA_DIR", str(tmp_path / "empty"))
    # else: the offline fixture has unset BPCOURSE_DATA_DIR and pointed BPCOURSE_MNIST_URL at a closed port
    ran = execute(tmp_path / f"{name}.ipynb", timeout=60)
    outputs = [o for c in ran.cells for o in c.outputs]
    assert len(outputs) == 1 and outputs[0].output_type == "error", f"want one error, nothing else: {outputs}"
    err = outputs[0]
    shown = ANSI.sub("", "\n".join(err.traceback))  # what Jupyter shows: the frame, then ename: evalue
    assert err.ename == "DataUnavailableError" and "SystemExit" not in shown and "To exit" not in shown
    assert "data_dir" in err.evalue and "BPCOURSE_DATA_DIR" in err.evalue
    assert all(file in err.evalue for file, _ in data.MNIST_FILES.values())
    frames = re.findall(r"^(Cell In|File |Input In)", shown, re.MULTILINE)
    assert len(frames) == 1, f"more than one frame:\n{shown}"
    assert len(shown.splitlines()) <= 30, f"not one screen:\n{shown}"


def test_importing_makes_no_network_call():
    code = ("import sys\n"
            "def hook(event, args):\n"
            "    if event.startswith('socket.'):\n"
            "        raise RuntimeError('network use on import: ' + event)\n"
            "sys.addaudithook(hook)\n"
            "import bpcourse.data\n"
            "print('imported')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPCOURSE_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr


# ---------------------------------------------------------------- spiral

def test_spiral_shapes_labels_and_seed_004_defaults():
    x, t = spiral()
    assert x.shape == (300, 2) and x.dtype == np.float64
    assert t.shape == (300,) and t.dtype == np.int64
    assert t.tolist() == [0] * 100 + [1] * 100 + [2] * 100
    x, t = spiral(points_per_class=7, classes=5)
    assert x.shape == (35, 2) and np.bincount(t).tolist() == [7] * 5


def test_spiral_geometry():
    n, k = 50, 4
    x, _ = spiral(points_per_class=n, classes=k, noise=0.0)
    # The noise is on the angle only: each class runs out from the centre to radius 1.
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), np.tile(np.linspace(0, 1, n), k), atol=1e-12)
    for j in range(k):  # without noise, class j ends at angle 4(j+1), measured as (sin, cos)
        np.testing.assert_allclose(x[(j + 1) * n - 1], [np.sin(4.0 * (j + 1)), np.cos(4.0 * (j + 1))])
    x, _ = spiral(points_per_class=4000, classes=1, noise=0.3, seed=1)
    clean, _ = spiral(points_per_class=4000, classes=1, noise=0.0)
    diff = np.angle(np.exp(1j * (np.arctan2(x[1:, 0], x[1:, 1]) - np.arctan2(clean[1:, 0], clean[1:, 1]))))
    assert abs(diff.std() - 0.3) < 0.02 and abs(diff.mean()) < 0.02


def test_spiral_is_seeded():
    a, b, c = spiral(seed=3)[0], spiral(seed=3)[0], spiral(seed=4)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("kwargs, message", [
    ({"points_per_class": 0}, r"points_per_class must be at least 1, got 0"),
    ({"points_per_class": 2.5}, r"points_per_class must be an integer, got float: 2\.5"),
    ({"points_per_class": True}, r"points_per_class must be an integer, got bool"),
    ({"classes": 0}, r"classes must be at least 1, got 0"),
    ({"classes": "3"}, r"classes must be an integer, got str: '3'"),
    ({"dimensions": 3}, r"dimensions must be 2 \(the spiral lies in a plane\), got 3"),
    ({"noise": -0.1}, r"noise must be a finite number >= 0 .*got -0\.1"),
    ({"noise": float("nan")}, r"noise must be a finite number >= 0 .*got nan"),
    ({"noise": "0.2"}, r"noise must be a finite number >= 0 .*got '0\.2'"),
])
def test_spiral_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        spiral(**kwargs)
