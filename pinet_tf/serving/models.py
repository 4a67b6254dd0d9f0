"""The served model: the newest version under a base path, swapped in only once it has loaded.

Like `tensorflow_model_server` with its default policy, one version is served: the highest integer
folder under BASE that holds a saved_model.pb. A background thread polls BASE; a newer version is
loaded (and run once on a zero batch) while the old one keeps answering, then swapped in with one
reference assignment. Requests hold a reference to the `LoadedModel` they started with, so a swap
never frees the variables under a running request (the "deleted variables" trap of
keras3-notes.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import dataclasses

import numpy as np
import tensorflow as tf
from tensorflow.python.saved_model import loader_impl

from pinet_tf.export.savedmodel import list_versions
from pinet_tf.export.signatures import InputSpec, signature_inputs
from pinet_tf.serving.core import DEFAULT_SIGNATURE, RequestError, Status, invalid

log = logging.getLogger("pinet_tf.serving")


def served_specs(signature: str, graph_specs: dict) -> dict:
    """{name: InputSpec}: dtype and shape as the loaded graph takes them, valid values from
    the export's table (`pinet_tf.export.signatures`) when the signature is one of ours."""
    rules = signature_inputs(signature)
    out = {}
    for name, spec in graph_specs.items():
        dtype, shape = spec.dtype.name, tuple(spec.shape.as_list()[1:])
        rule = rules.get(name)
        out[name] = (dataclasses.replace(rule, dtype=dtype, shape=shape) if rule is not None
                     else InputSpec(name, dtype, shape))
    return out


class LoadedModel:
    """One version: the loaded SavedModel, its signatures and their SignatureDef protos."""

    def __init__(self, path: str, version: int):
        self.path, self.version = path, int(version)
        self._loaded = tf.saved_model.load(path)  # kept: signatures reference its variables
        self.signatures = dict(self._loaded.signatures)
        meta = loader_impl.parse_saved_model(path).meta_graphs[0]
        self.signature_defs = {k: v for k, v in meta.signature_def.items()
                               if k in self.signatures}
        self.input_specs = {k: served_specs(k, dict(fn.structured_input_signature[1]))
                            for k, fn in self.signatures.items()}
        self.output_names = {k: sorted(fn.structured_outputs) for k, fn in self.signatures.items()}

    def warm_up(self) -> None:
        """Run every signature once on a zero batch (first-call tracing off the request path)."""
        for name, specs in self.input_specs.items():
            zeros = {k: np.zeros((1,) + s.shape, s.dtype) for k, s in specs.items()}
            self.signatures[name](**zeros)

    def signature(self, name) -> str:
        if not isinstance(name, str):
            raise invalid(f"signature_name must be a string, got {type(name).__name__}")
        name = name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            raise RequestError(Status.NOT_FOUND,
                               f"signature {name!r} not found in version {self.version}; "
                               f"available: {sorted(self.signatures)}")
        return name

    def run(self, signature: str, arrays: dict, output_filter=()) -> dict:
        """Run a checked request; returns {output name: np.ndarray}."""
        outputs = self.output_names[signature]
        unknown = sorted(set(output_filter) - set(outputs))
        if unknown:
            raise invalid(f"output_filter names unknown output(s) {unknown}; signature "
                          f"{signature!r} has {outputs}")
        try:
            result = self.signatures[signature](**{k: tf.constant(v) for k, v in arrays.items()})
        except tf.errors.InvalidArgumentError as e:  # an in-graph assert we did not pre-check
            raise invalid(e.message.splitlines()[0]) from e
        keep = set(output_filter) or set(outputs)
        return {k: v.numpy() for k, v in result.items() if k in keep}


class ModelManager:
    """Loads the newest version of BASE and keeps polling it for newer ones."""

    def __init__(self, base_path: str, poll_seconds: float = 2.0):
        self.base_path = os.path.abspath(base_path)
        self.poll_seconds = float(poll_seconds)
        self._current = None
        self._failed = {}  # version -> (stamp, error); retried once the folder changes
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def current(self) -> LoadedModel | None:
        return self._current

    def failures(self) -> dict:
        return dict(self._failed)

    def poll_once(self) -> bool:
        """Load and swap in a newer version if there is one; True when it swapped."""
        with self._lock:
            candidates = [v for v in list_versions(self.base_path)
                          if v not in self._failed or self._failed[v][0] != self._stamp(v)]
            if not candidates:
                return False
            newest = candidates[-1]
            current = self._current
            if current is not None and current.version == newest:
                return False
            path = os.path.join(self.base_path, str(newest))
            start = time.monotonic()
            try:
                model = LoadedModel(path, newest)
                model.warm_up()
            except Exception as e:  # a broken export must not take the served one down
                first = (str(e).strip().splitlines() or [""])[0]
                self._failed[newest] = (self._stamp(newest), f"{type(e).__name__}: {first}")
                log.error("cannot load version %d from %s: %s", newest, path,
                          self._failed[newest][1])
                return False
            self._current = model  # the swap: one reference assignment
            self._failed.pop(newest, None)
            log.info("serving version %d from %s (loaded in %.1f s)", newest, path,
                     time.monotonic() - start)
            return True

    def _stamp(self, version: int):
        """The version folder's contents as (path, size, mtime) of every file: a folder that
        failed to load (e.g. while it was still being copied) is retried once this changes."""
        folder = os.path.join(self.base_path, str(version))
        entries = []
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                entries.append((os.path.relpath(path, folder), st.st_size, st.st_mtime_ns))
        return tuple(entries)

    def start(self) -> None:
        self.poll_once()
        self._thread = threading.Thread(target=self._loop, name="version-poller", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception:  # keep polling whatever happens on the file system
                log.exception("version poll failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
