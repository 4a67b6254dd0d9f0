"""TFLite conversion of an export (fp32, float16, dynamic-range int8, full int8) and a runner.

Converted with `TFLiteConverter.from_saved_model` on a `pinet_tf.export.savedmodel` export (its
module tracks the variables once; conversions of Keras 3 `tf.saved_model.save` artifacts or of
concrete functions silently dropped the weights in probes, so `convert` checks the file size
against the SavedModel's variables). Run with `ai_edge_litert` (tf.lite.Interpreter is deprecated).

Quantisation modes:
* `none`: fp32.
* `float16`: weights stored as fp16 (dequantised at load on CPU), half the size.
* `dynamic-int8`: weights int8 per channel, activations float (quantised on the fly).
* `int8`: weights and activations int8 (static ranges calibrated on synthetic people,
  `pinet_tf.datasets.synthetic`) for the convolutions, attention and most other ops; the
  uint8/float32 signature inputs and outputs stay as they are. The element-wise MUL/ADD ops
  (gating and BatchNorm's affine) and the gates' LOGISTIC / LEAKY_RELU are kept float
  ("selective quantisation" through `tf.lite.experimental.QuantizationDebugger`): quantising the pre-BatchNorm products per tensor
  cost ~10 dB of PSNR on trained tiny weights (17 dB -> 27 dB) for 1.5 % of file size, and the
  mixed model ran faster on XNNPACK than the all-int8 one (35 vs 61 ms, tiny, 2 threads).
  Activation ranges are outlier-robust (`robust_ranges`): the converter's calibration keeps the
  min/max over all samples, so one unusual sample widens a tensor's range and costs every other
  input resolution (trained tiny weights: 16 samples 30.1 or 23.3 dB depending on the seed);
  we replace each range by the 10th/90th percentile of the per-sample minima and maxima over 32
  samples. The in-graph input encoding is kept float too (SQUARED_DIFFERENCE/SUB/EXP of the
  keypoint heatmaps, ONE_HOT of the parsing; the debugger's per-layer rmse/scale put EXP worst,
  ~16 steps): a heatmap is exp of a squared pixel distance whose int8 steps blur the peaks.
  Together: 33.3 dB (robust ranges alone 28.6, the float encoding with min/max ranges 23.3);
  keeping the attention matmuls/softmax or even every CONV_2D float changed nothing (28.6/28.5
  dB). Re-measured 2026-11-25 on a later tiny run (near-white synthetic walls): with only SUB/EXP
  float the int8 image fell to 23.7 dB (G_p's parsing argmax agreed on 94% of pixels), because
  the quantised SQUARED_DIFFERENCE of the heatmaps moved the pose; float SQUARED_DIFFERENCE gave
  30.8 dB (99.3% agreement), and also keeping the gates' LOGISTIC and LEAKY_RELU float (the
  rest of the gating, whose MUL is float already) 31.6 dB, for no size cost. Every CONV_2D
  float on top reached only 31.7 dB, so the rest is the int8 convolutions' own rounding.
"""

from __future__ import annotations

import os

import numpy as np

from pinet_tf.config import NUM_CLASSES, NUM_KEYPOINTS

QUANTIZE_MODES = ("none", "float16", "dynamic-int8", "int8")
#: TFLite ops left in float by the `int8` mode (see the module doc).
INT8_FLOAT_OPS = ("MUL", "ADD", "LOGISTIC", "LEAKY_RELU", "SQUARED_DIFFERENCE", "SUB", "EXP",
                  "ONE_HOT")
#: Percentile of the per-sample activation maxima (100 - it of the minima) taken as the range.
INT8_RANGE_PERCENTILE = 90.0


def _dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def synthetic_inputs(cfg, count: int, seed: int = 0) -> list:
    """`count` single-example pose_transfer input dicts (batch 1) of synthetic people (without
    source_parsing for a one-stage model, whose signature has none).

    Uses the data package's procedural people when available (realistic activation ranges for
    int8 calibration), else smooth random images with plausible keypoints.
    """
    h, w = cfg.image_size
    rng = np.random.default_rng(seed)
    out = []
    try:
        from pinet_tf.datasets import synthetic
    except ImportError:  # the data package is optional for export
        synthetic = None
    for i in range(count):
        if synthetic is not None:
            image, parsing, kp, _ = synthetic.sample(seed, i, 0, h, w)
            _, _, target_kp, _ = synthetic.sample(seed, i, 1, h, w)
        else:
            image = np.clip(rng.normal(128, 60, (h, w, 3)), 0, 255).astype(np.uint8)
            parsing = rng.integers(0, NUM_CLASSES, (h, w)).astype(np.uint8)
            kp, target_kp = (np.stack([rng.uniform(0, h, NUM_KEYPOINTS),
                                       rng.uniform(0, w, NUM_KEYPOINTS)], -1) for _ in "st")
        out.append({
            "source_image": np.asarray(image, np.uint8)[None],
            "source_parsing": np.asarray(parsing, np.uint8)[None],
            "source_keypoints": np.asarray(kp, np.float32)[None],
            "target_keypoints": np.asarray(target_kp, np.float32)[None],
        })
        if not cfg.has_parsing:
            del out[-1]["source_parsing"]
    return out


def robust_ranges(calibrated: bytes, samples: list, signature: str = "serving_default",
                  percentile: float = INT8_RANGE_PERCENTILE) -> bytes:
    """A calibrated (not yet quantised) model whose activation ranges ignore outlier samples.

    Runs the float calibrated model on each sample, keeping every tensor, and sets each
    calibrated per-tensor range to [P(100 - percentile) of the per-sample minima,
    P(percentile) of the per-sample maxima] (values outside then saturate).
    """
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    tensors = model.subgraphs[0].tensors
    index = [i for i, t in enumerate(tensors) if t.quantization is not None
             and t.quantization.min is not None and len(t.quantization.min) == 1]
    interpreter = Interpreter(model_content=bytes(calibrated),
                              experimental_preserve_all_tensors=True)
    runner = interpreter.get_signature_runner(signature)
    lows, highs = np.zeros((len(samples), len(index))), np.zeros((len(samples), len(index)))
    for s, sample in enumerate(samples):
        runner(**sample)
        for j, i in enumerate(index):
            value = interpreter.get_tensor(i)
            lows[s, j], highs[s, j] = value.min(), value.max()
    low = np.percentile(lows, 100 - percentile, axis=0)
    high = np.percentile(highs, percentile, axis=0)
    for j, i in enumerate(index):
        quant = tensors[i].quantization
        if quant.min[0] <= 0:  # keep 0 representable where the calibration saw it
            low[j] = min(low[j], 0.0)
        if high[j] > low[j]:
            quant.min, quant.max = [float(low[j])], [float(high[j])]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def convert(saved_model_dir: str, quantize: str = "none", calibration_samples: int = 32,
            signature: str = "serving_default", seed: int = 0) -> bytes:
    """The TFLite flatbuffer of one signature of an export (see the module doc for modes)."""
    import tensorflow as tf

    from pinet_tf.export.savedmodel import load_export_config

    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"--quantize must be one of {QUANTIZE_MODES}, got {quantize!r}")
    if int(calibration_samples) < 1:
        raise ValueError(f"--calibration-samples must be >= 1, got {calibration_samples}")
    if not os.path.exists(os.path.join(saved_model_dir, "saved_model.pb")):
        raise FileNotFoundError(f"no saved_model.pb in {saved_model_dir}")
    cfg = load_export_config(saved_model_dir)
    if not cfg.has_parsing and signature == "texture_transfer":
        from pinet_tf.models.texture import one_stage_texture_error

        raise ValueError(one_stage_texture_error(saved_model_dir))
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                         signature_keys=[signature])
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        if signature not in ("serving_default", "pose_transfer"):
            raise ValueError(f"int8 calibration data exists for pose_transfer only, not "
                             f"{signature!r}")
        samples = synthetic_inputs(cfg, calibration_samples, seed)
        converter.representative_dataset = lambda: iter(samples)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_options=tf.lite.experimental.QuantizationDebugOptions(
                denylisted_ops=list(INT8_FLOAT_OPS)))
        debugger.calibrated_model = robust_ranges(debugger.calibrated_model, samples, signature)
        blob = debugger.get_nondebug_quantized_model()
    else:
        blob = converter.convert()

    # A conversion that lost the weights gives a file far smaller than them (keras3-notes.md).
    weights = _dir_bytes(os.path.join(saved_model_dir, "variables"))
    floor = {"none": 0.9, "float16": 0.45, "dynamic-int8": 0.2, "int8": 0.2}[quantize] * weights
    if signature not in ("serving_default", "pose_transfer"):
        floor *= 0.4  # texture_transfer may use G_i alone (parsing_feed "softmax"): ~half
    if len(blob) < floor:
        raise ValueError(f"TFLite model is {len(blob)} bytes, less than {floor:.0f} expected from "
                         f"{weights} bytes of variables: the conversion dropped weights")
    return blob


def convert_to_file(saved_model_dir: str, out: str, quantize: str = "none", **kwargs) -> int:
    """Convert and write `out` atomically; returns the file size."""
    from pinet_tf.utils.atomic import atomic_file

    blob = convert(saved_model_dir, quantize, **kwargs)
    with atomic_file(out, "wb") as f:
        f.write(blob)
    return len(blob)


class TFLiteRunner:
    """One signature of a TFLite model through `ai_edge_litert`, called with numpy dicts."""

    def __init__(self, model, signature: str = "serving_default", num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        kwargs = {"model_content": model} if isinstance(model, (bytes, bytearray)) \
            else {"model_path": model}
        self.interpreter = Interpreter(num_threads=num_threads, **kwargs)
        self.runner = self.interpreter.get_signature_runner(signature)

    def __call__(self, **inputs) -> dict:
        """Runs example by example (the converted graph has batch 1) and stacks the outputs."""
        batch = len(next(iter(inputs.values())))
        outs = [self.runner(**{k: np.asarray(v[i:i + 1]) for k, v in inputs.items()})
                for i in range(batch)]
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}


def psnr_uint8(a, b) -> float:
    """PSNR in dB between two uint8 arrays (inf when identical)."""
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))
