"""A quiet TensorFlow start-up: its own start-up log lines hidden, everything else kept.

`pinet-tf` calls `quiet_start()` before any verb runs (`pinet-tf --verbose` skips it). It sets
`TF_CPP_MIN_LOG_LEVEL=2` unless the user set it, and puts a meta-path finder in front of the
import of `tensorflow` that runs that import, and the first device query, with file descriptor 2
captured; captured lines matching `STARTUP_NOISE` are dropped, the rest written back. It also
sets `$PINET_TF_QUIET_START=1`, so worker processes (spawned, they import TensorFlow afresh) do the
same when they import `pinet_tf` (`follow_parent`, called by `pinet_tf/__init__.py`).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
import warnings

#: Set to "1" by `quiet_start`, "0" by `pinet-tf --verbose`; read when `pinet_tf` is imported.
ENV_VAR = "PINET_TF_QUIET_START"

#: Lines TensorFlow 2.21 writes to stderr while it starts on a machine like this one (measured:
#: TF_CPP_MIN_LOG_LEVEL does not reach the absl lines written before absl::InitializeLog, and the
#: cuInit error comes at the first device query, so both are filtered at the file-descriptor level).
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation_placer\.cc:\d+\] computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT")


#: What the TFLite converter and the LiteRT interpreter write while they start (measured during
#: `pinet-tf export-tflite --quantize int8`: the calibrator's settings line, the XNNPACK notice).
LITERT_NOISE = re.compile(
    r"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, "
    r"output_inference_type: \w+"
    r"|^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.")
#: Python warnings of the same start: TF's converter calibrates with the deprecated
#: tf.lite.Interpreter, and our int8 calibration reads every tensor on purpose.
LITERT_WARNINGS = (r"\s*Warning: tf\.lite\.Interpreter is deprecated",
                   r"Warning: Enabling `experimental_preserve_all_tensors`")


@contextlib.contextmanager
def quiet_litert():
    """Within: the converter's and LiteRT's start-up lines and warnings hidden, when `pinet-tf`
    is quiet (`$PINET_TF_QUIET_START` is 1, `quiet_start`); everything else still shows."""
    if os.environ.get(ENV_VAR) != "1":
        yield
        return
    with warnings.catch_warnings():
        for message in LITERT_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        with filtered_stderr(LITERT_NOISE):
            yield


@contextlib.contextmanager
def filtered_stderr(pattern=STARTUP_NOISE):
    """Capture file descriptor 2 (C++ loggers included); on exit write back lines not matching."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to filter (closed descriptor)
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not pattern.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _QuietTensorFlowLoader(importlib.abc.Loader):
    """Runs TensorFlow's import, and its first device query, inside `filtered_stderr`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # nothing sees this wrapper after
        with filtered_stderr():
            self.loader.exec_module(module)
            # The CUDA probe logs "failed call to cuInit" at the first device query: make it here.
            module.config.list_physical_devices()


class QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """A meta-path finder that only wraps the loader of the top-level `tensorflow` package."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall_quiet_import()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietTensorFlowLoader(spec.loader)
        return spec


@contextlib.contextmanager
def quiet_start(quiet: bool = True):
    """Within: TensorFlow's start-up lines hidden (`quiet`) or shown, here and in children."""
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = "1" if quiet else "0"
    if quiet:
        install_quiet_import()
    try:
        yield
    finally:
        uninstall_quiet_import()
        if previous is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = previous


def follow_parent() -> None:
    """In a process started by a quiet `pinet-tf` (`$PINET_TF_QUIET_START` is 1), be quiet too."""
    if os.environ.get(ENV_VAR) == "1":
        install_quiet_import()


def install_quiet_import() -> None:
    """Hide TensorFlow's start-up lines when it is imported later (no-op once it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # INFO and WARNING from TF's C++ logging
    if "tensorflow" not in sys.modules and not any(
            isinstance(f, QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowFinder())


def uninstall_quiet_import() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, QuietTensorFlowFinder)]
