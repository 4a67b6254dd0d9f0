"""Pretrained files: the search order, offline errors, and downloads from a loopback server of
the test's own (a download lands in the Keras cache; a wrong hash or a cut-off body leaves
nothing behind)."""

import hashlib
import http.server
import inspect
import os
import threading

import pytest

from pinet_tf.utils import weights as wlib


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every cache under tmp_path; downloads forbidden unless a test allows them."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    os.makedirs(tmp_path / "home")
    for var in ("KERAS_HOME", "TORCH_HOME", "XDG_CACHE_HOME", wlib.ENV_DIR, wlib.ENV_BASE_URL):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(wlib.ENV_NO_DOWNLOAD, "1")


class _Server:
    """http.server on 127.0.0.1 in a thread: path -> bytes; `cut` paths announce their full
    length, send half the body and close the connection."""

    def __init__(self):
        self.files, self.cut, self.requests = {}, set(), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if self.path in outer.cut else body)
                self.wfile.flush()
                if self.path in outer.cut:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _register(monkeypatch, key, name, body, kind, url):
    digest = hashlib.new("md5" if kind == "md5" else "sha256", body).hexdigest()
    f = wlib.PretrainedFile(key, f"test file {key}", name, url,
                            digest[:8] if kind == "sha256-prefix" else digest, kind,
                            torchvision=kind == "sha256-prefix")
    monkeypatch.setitem(wlib.FILES, key, f)
    return f


def _cache_entries(tmp_path):
    cache = tmp_path / "home" / ".keras" / "models"
    return sorted(os.listdir(cache)) if cache.exists() else []


def test_search_order_explicit_env_dir_keras_cache_torch_hub(tmp_path, monkeypatch):
    f = wlib.FILES["vgg19_torchvision"]
    env_dir, keras_cache = tmp_path / "env", tmp_path / "home" / ".keras" / "models"
    hub = tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"
    for d in (env_dir, keras_cache, hub):
        d.mkdir(parents=True)
        (d / f.name).write_bytes(b"x")
    assert wlib.locate(f.key) == str(keras_cache / f.name)  # $PINET_TF_WEIGHTS_DIR unset
    monkeypatch.setenv(wlib.ENV_DIR, str(env_dir))
    assert wlib.locate(f.key) == str(env_dir / f.name)
    (env_dir / f.name).unlink()
    assert wlib.locate(f.key) == str(keras_cache / f.name)
    (keras_cache / f.name).unlink()
    assert wlib.locate(f.key) == str(hub / f.name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))  # torch's own variable is followed
    with pytest.raises(wlib.WeightsNotFoundError, match=str(tmp_path / "th")):
        wlib.locate(f.key)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))  # and Keras's
    (tmp_path / "kh" / "models").mkdir(parents=True)
    (tmp_path / "kh" / "models" / f.name).write_bytes(b"x")
    assert wlib.locate(f.key) == str(tmp_path / "kh" / "models" / f.name)
    # An explicit path wins over everything, and must exist.
    mine = tmp_path / "mine.pth"
    mine.write_bytes(b"y")
    assert wlib.locate(f.key, explicit=mine) == str(mine)
    with pytest.raises(FileNotFoundError, match="nope.pth does not exist") as e:
        wlib.locate(f.key, explicit=tmp_path / "nope.pth")
    assert not isinstance(e.value, wlib.WeightsNotFoundError)  # not a "skip this metric" error
    with pytest.raises(IsADirectoryError, match="is a directory"):
        wlib.locate(f.key, explicit=tmp_path)


def test_offline_error_is_one_line_naming_file_url_and_every_place(tmp_path, monkeypatch):
    f = wlib.FILES["vgg19_torchvision"]
    with pytest.raises(wlib.WeightsNotFoundError) as e:
        wlib.locate(f.key, hint="--vgg-weights PATH")
    msg = str(e.value)
    assert "\n" not in msg
    for part in (f.name, f.url, f"${wlib.ENV_DIR} (not set)",
                 str(tmp_path / "home" / ".keras" / "models" / f.name),
                 str(tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints" / f.name),
                 "--no-download", "--vgg-weights PATH"):
        assert part in msg, part
    # Keras files are not looked for in torch's cache; the env folder is named when set.
    monkeypatch.setenv(wlib.ENV_DIR, str(tmp_path / "w"))
    with pytest.raises(wlib.WeightsNotFoundError) as e:
        wlib.locate("inception_v3")
    assert str(tmp_path / "w" / wlib.FILES["inception_v3"].name) in str(e.value)
    assert "torch" not in str(e.value)
    # The environment variable and the argument both forbid downloads; the argument wins.
    assert not wlib.downloads_allowed()
    assert wlib.downloads_allowed(True)
    monkeypatch.setenv(wlib.ENV_NO_DOWNLOAD, "0")
    assert wlib.downloads_allowed() and not wlib.downloads_allowed(False)


@pytest.mark.parametrize("kind", ["md5", "sha256", "sha256-prefix"])
def test_download_lands_in_the_keras_cache_and_is_found_there_next_time(
        tmp_path, monkeypatch, server, kind):
    body = os.urandom(300_000)
    server.files["/files/w.bin"] = body
    f = _register(monkeypatch, "t", "w.bin", body, kind, f"{server.url}/files/w.bin")
    monkeypatch.delenv(wlib.ENV_NO_DOWNLOAD)
    path = wlib.locate("t")
    assert path == str(tmp_path / "home" / ".keras" / "models" / "w.bin")
    assert open(path, "rb").read() == body
    assert _cache_entries(tmp_path) == ["w.bin"]  # no temporary folder left
    assert wlib.locate("t") == path and len(server.requests) == 1  # cached: no second request
    assert wlib.locate("t", allow_download=False) == path  # a cached file needs no download
    assert f.origin() == f.url


def test_base_url_replaces_every_origin(tmp_path, monkeypatch, server):
    body = b"weights" * 1000
    server.files["/mirror/w.bin"] = body
    _register(monkeypatch, "t", "w.bin", body, "sha256", "https://example.invalid/w.bin")
    monkeypatch.setenv(wlib.ENV_BASE_URL, f"{server.url}/mirror/")
    assert wlib.FILES["t"].origin() == f"{server.url}/mirror/w.bin"
    assert open(wlib.locate("t", allow_download=True), "rb").read() == body


@pytest.mark.parametrize("kind", ["md5", "sha256-prefix"])
def test_wrong_hash_is_refused_and_nothing_is_cached(tmp_path, monkeypatch, server, kind):
    server.files["/w.bin"] = b"tampered" * 100
    _register(monkeypatch, "t", "w.bin", b"the real file", kind, f"{server.url}/w.bin")
    with pytest.raises(wlib.WeightsHashError) as e:
        wlib.locate("t", allow_download=True)
    want = hashlib.new("md5" if kind == "md5" else "sha256", b"tampered" * 100).hexdigest()
    assert want in str(e.value) and "refused" in str(e.value) and "\n" not in str(e.value)
    assert _cache_entries(tmp_path) == []


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch, server):
    body = os.urandom(200_000)
    server.files["/w.bin"] = body
    server.cut.add("/w.bin")
    _register(monkeypatch, "t", "w.bin", body, "sha256", f"{server.url}/w.bin")
    with pytest.raises(wlib.WeightsNotFoundError) as e:
        wlib.locate("t", allow_download=True)
    msg = str(e.value)
    assert f"{server.url}/w.bin" in msg and "failed" in msg and "\n" not in msg
    assert str(tmp_path / "home" / ".keras" / "models" / "w.bin") in msg  # where it looked
    assert _cache_entries(tmp_path) == []
    # A missing file on the server (404) is said the same way.
    _register(monkeypatch, "u", "u.bin", b"u", "sha256", f"{server.url}/u.bin")
    with pytest.raises(wlib.WeightsNotFoundError, match="404"):
        wlib.locate("u", allow_download=True)
    assert _cache_entries(tmp_path) == []


def test_pinned_hashes_are_the_published_ones():
    """Keras's md5s are those keras.applications itself pins; torchvision names embed their
    sha256 prefix; every URL ends in the file's published name."""
    from keras.src.applications import inception_v3, vgg19

    sources = {"vgg19_notop": inspect.getsource(vgg19),
               "inception_v3": inspect.getsource(inception_v3),
               "inception_v3_notop": inspect.getsource(inception_v3)}
    for key, src in sources.items():
        f = wlib.FILES[key]
        assert f.hash_kind == "md5" and f'file_hash="{f.hash}"' in src, key
        assert f.name in src and f.url.endswith("/" + f.name)
    for f in wlib.FILES.values():
        assert f.hash_kind in wlib.HASH_KINDS
        assert len(f.hash) == {"md5": 32, "sha256": 64, "sha256-prefix": 8}[f.hash_kind]
        if f.hash_kind == "sha256-prefix":
            assert f.torchvision and f.name == f.url.rsplit("/", 1)[1]
            assert f.name.rsplit("-", 1)[1] == f.hash + ".pth"


def test_lpips_heads_hash_matches_an_installed_wheel():
    pkg = wlib.package_dir("lpips")
    if pkg is None:
        pytest.skip("the lpips wheel is not installed")
    for net in ("alex", "vgg"):
        f = wlib.FILES[f"lpips_{net}_heads"]
        assert wlib.hash_matches(os.path.join(pkg, "weights", "v0.1", f"{net}.pth"), f)[0]


def test_blazepose_files_are_found_in_an_installed_mediapipe_package(tmp_path, monkeypatch):
    """A legacy `mediapipe` wheel's modules/ folder is searched (found, never imported: its
    __init__ here would fail), after $PINET_TF_WEIGHTS_DIR and the Keras cache."""
    pkg = tmp_path / "site" / "mediapipe"
    (pkg / "modules" / "pose_detection").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    model = pkg / "modules" / "pose_detection" / "pose_detection.tflite"
    model.write_bytes(b"tflite")
    f = wlib.FILES["blazepose_detector"]
    with pytest.raises(wlib.WeightsNotFoundError, match="installed mediapipe package "
                                                         r"\(not installed\)"):
        wlib.locate(f.key)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert wlib.locate(f.key) == str(model)
    with pytest.raises(wlib.WeightsNotFoundError) as e:  # the landmark file is not there
        wlib.locate("blazepose_landmarks_full")
    assert str(pkg / "modules" / "pose_landmark" / "pose_landmark_full.tflite") in str(e.value)
    monkeypatch.setenv(wlib.ENV_DIR, str(tmp_path / "w"))  # the user's folder comes first
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / f.name).write_bytes(b"mine")
    assert wlib.locate(f.key) == str(tmp_path / "w" / f.name)
