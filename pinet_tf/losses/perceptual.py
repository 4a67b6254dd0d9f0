"""VGG19 perceptual loss (paper eq. 9): sum_i alpha_i * mean|phi_i(generated) - phi_i(target)|.

The VGG19 weights come from one of two published files, found or downloaded like
keras.applications by `pinet_tf.utils.weights` (`load_vgg_features`, the one loader):

* Keras's ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (or any weights file saved from
  ``keras.applications.VGG19(include_top=False)``): the original Caffe weights, which expect BGR
  pixels in 0..255 minus the ImageNet mean (103.939, 116.779, 123.68) (``"caffe"``, what
  ``keras.applications.vgg19.preprocess_input`` does);
* torchvision's ``vgg19-dcbb9e9d.pth``, the file the authors' code loads: a PyTorch state dict
  read with `pinet_tf.utils.torchfile` (no torch needed); only the ``features.N.weight/bias``
  tensors of the convolutions up to the deepest requested layer are used. These expect RGB in
  [0, 1] normalised by mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) (``"torch"``).

The preprocessing follows the file (``preprocessing=None``); ``"torch"`` may be forced for a
Keras ``.h5`` converted from torchvision's weights. Images enter in [-1, 1] either way. Keras's
conv layers include the ReLU, so ``block1_conv1`` is relu1_1, ``block1_conv2`` is relu1_2,
``block{n}_conv1`` is relu{n}_1.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from pinet_tf.losses.pixel import wide
from pinet_tf.utils import weights as wlib

#: The paper's layers relu1_1..relu5_1, each weighted 1 (the overall weight is lambda_2 = 0.5).
PAPER_LAYERS = {"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0, "relu4_1": 1.0, "relu5_1": 1.0}
#: The authors' code: relu1_2 only.
OFFICIAL_LAYERS = {"relu1_2": 1.0}

_BLOCK_CONVS = (2, 2, 4, 4, 4)  # VGG19: convolutions per block
_KERAS_NAMES = {f"relu{b}_{c}": f"block{b}_conv{c}"
                for b, n in enumerate(_BLOCK_CONVS, 1) for c in range(1, n + 1)}


def _torchvision_indices():
    """Keras conv name -> index in torchvision's `features` (conv, ReLU, ..., max-pool)."""
    out, i = {}, 0
    for b, n in enumerate(_BLOCK_CONVS, 1):
        for c in range(1, n + 1):
            out[f"block{b}_conv{c}"] = i
            i += 2  # conv, ReLU
        i += 1  # max-pool
    return out


TORCHVISION_INDEX = _torchvision_indices()
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# torchvision's ImageNet statistics as float32 values, as the authors' loss holds them
# (`torch.FloatTensor`): the same in a float32 run, and in a float64 check their step normalises
# with these (float64 0.485 differs by 1e-8: 2.4e-7 in G's first update, docs/results/parity.md).
_TORCH_MEAN = tuple(float(np.float32(c)) for c in (0.485, 0.456, 0.406))
_TORCH_STD = tuple(float(np.float32(c)) for c in (0.229, 0.224, 0.225))
PREPROCESSING = ("caffe", "torch")
#: `default` of load_vgg_features: which published file to find or download when none is given.
DEFAULT_FILES = {"keras": "vgg19_notop", "torchvision": "vgg19_torchvision"}
_TORCH_SUFFIXES = (".pth", ".pt", ".npz")
_HINT = "--vgg-weights PATH, or --perceptual-weight 0 for no perceptual loss"


class VGGFeatures(NamedTuple):
    """A frozen VGG19 trunk with one output per requested layer (in `layers` order)."""

    model: keras.Model
    layers: tuple
    preprocessing: str
    path: str


def check_layers(layers) -> dict:
    layers = dict(OFFICIAL_LAYERS if layers is None else layers)
    unknown = sorted(set(layers) - set(_KERAS_NAMES))
    if unknown or not layers:
        raise ValueError(f"perceptual layers must be names like relu1_2 (VGG19: relu1_1..relu5_4)"
                         f", got {sorted(layers)}")
    return layers


def file_kind(path) -> str:
    """"torchvision" for a state dict (.pth, .pt, .npz), "keras" for anything else (.h5)."""
    return "torchvision" if os.fspath(path).lower().endswith(_TORCH_SUFFIXES) else "keras"


def _load_torchvision(model, path) -> None:
    """Copy torchvision `features.N.weight/bias` into the (truncated) Keras VGG19 `model`."""
    state = wlib.read_state_dict(path)
    convs = [layer for layer in model.layers if layer.name in TORCHVISION_INDEX]
    keys = [f"features.{TORCHVISION_INDEX[c.name]}.{p}" for c in convs for p in ("weight", "bias")]
    missing = [k for k in keys if k not in state]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)} (a torchvision VGG19 state dict, "
                         f"vgg19-dcbb9e9d.pth, is expected)")
    for layer in convs:
        i = TORCHVISION_INDEX[layer.name]
        w = np.asarray(state[f"features.{i}.weight"], np.float32)
        b = np.asarray(state[f"features.{i}.bias"], np.float32)
        kernel = tuple(layer.kernel.shape)  # (kh, kw, in, out)
        want = (kernel[3], kernel[2], kernel[0], kernel[1])
        if w.shape != want or b.shape != (kernel[3],):
            raise ValueError(f"{path}: features.{i}.weight has shape {w.shape} (bias "
                             f"{b.shape}), expected {want} ({kernel[3]},) for VGG19's "
                             f"{layer.name}")
        layer.set_weights([np.transpose(w, (2, 3, 1, 0)), b])


def find_vgg_weights(weights=None, *, default="keras", allow_download=None) -> str:
    """Path of the perceptual loss's VGG19 weights: `weights` (must exist), else the published
    file named by `default` found locally or downloaded (`pinet_tf.utils.weights.locate`).

    Cheap when the file is local: a caller checks (and fetches) it before any other work.
    """
    if default not in DEFAULT_FILES:
        raise ValueError(f"VGG19 default file must be one of {sorted(DEFAULT_FILES)}, got "
                         f"{default!r}")
    key = DEFAULT_FILES[default] if not weights or file_kind(weights) == "keras" else \
        "vgg19_torchvision"
    return wlib.locate(key, weights, allow_download=allow_download, hint=_HINT)


def load_vgg_features(weights=None, layers=None, *, preprocessing=None, default="keras",
                      allow_download=None) -> VGGFeatures:
    """The VGG19 feature extractor of the perceptual loss, from `weights` or a published file.

    Args:
        weights: a Keras VGG19 notop weights file (.h5) or torchvision's VGG19 state dict
            (.pth); None finds (or downloads) the published file named by `default`.
        layers: {"reluX_Y": alpha} (only the names matter here); default: the authors' relu1_2.
        preprocessing: None follows the file ("torch" for .pth, "caffe" for .h5).
        default: "keras" (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5) or "torchvision"
            (vgg19-dcbb9e9d.pth, the authors' network).
        allow_download: False forbids a download (None: unless $PINET_TF_NO_DOWNLOAD=1).
    Raises:
        WeightsNotFoundError (an OSError) when no file is found and none can be downloaded,
        FileNotFoundError for a missing explicit file, ValueError for a file that is not VGG19.
    """
    names = list(check_layers(layers))
    if preprocessing is not None and preprocessing not in PREPROCESSING:
        raise ValueError(f"VGG preprocessing must be one of {PREPROCESSING}, got "
                         f"{preprocessing!r}")
    path = find_vgg_weights(weights, default=default, allow_download=allow_download)
    kind = file_kind(path)
    if kind == "torchvision" and preprocessing == "caffe":
        raise ValueError(f"{path}: torchvision's VGG19 weights expect torchvision's input "
                         f"normalisation (preprocessing 'torch'), not 'caffe'")
    preprocessing = preprocessing or ("torch" if kind == "torchvision" else "caffe")
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    # The functional sub-model only runs (and, for a .pth, only loads) the layers up to the
    # deepest one requested.
    model = keras.Model(vgg.input, [vgg.get_layer(_KERAS_NAMES[n]).output for n in names],
                        name="vgg19_features")
    if kind == "torchvision":
        _load_torchvision(model, path)
    else:
        try:
            vgg.load_weights(path)
        except Exception as e:  # Keras raises several types for a foreign file
            raise ValueError(f"cannot load VGG19 notop weights from {path}: "
                             f"{' '.join(str(e).split())}") from e
    model.trainable = False
    return VGGFeatures(model, tuple(names), preprocessing, path)


class VGGPerceptualLoss:
    """Callable (generated, target) -> scalar loss; the VGG19 trunk is frozen.

    Args:
        weights_path: a VGG19 weights file (.h5 or torchvision .pth), or None to find or
            download the published one (see `load_vgg_features`, which takes the other keywords).
        layers: {"reluX_Y": alpha} layer weights.
        preprocessing: None (follow the file), "caffe" or "torch".
    """

    def __init__(self, weights_path=None, layers=None, preprocessing=None, *, default="keras",
                 allow_download=None):
        layers = check_layers(layers)
        found = load_vgg_features(weights_path, layers, preprocessing=preprocessing,
                                  default=default, allow_download=allow_download)
        self.layers = layers
        self.features = found.model
        self.preprocessing = found.preprocessing
        self.weights_path = found.path
        self.alphas = [float(layers[n]) for n in found.layers]

    def preprocess(self, images):
        """[-1, 1] RGB -> what the loaded weights expect."""
        # float32, or float64 in a float64 run (not rounding the image or the constants again)
        x = (wide(images) + 1.0) * 0.5  # [0, 1]
        const = lambda c: ops.convert_to_tensor(c, dtype=x.dtype)  # noqa: E731
        if self.preprocessing == "caffe":
            return ops.flip(x, axis=-1) * 255.0 - const(_CAFFE_MEAN_BGR)
        return (x - const(_TORCH_MEAN)) / const(_TORCH_STD)

    def __call__(self, generated, target):
        both = ops.concatenate([self.preprocess(generated), self.preprocess(target)], axis=0)
        feats = self.features(both, training=False)
        if not isinstance(feats, (list, tuple)):
            feats = [feats]
        total = 0.0
        for alpha, f in zip(self.alphas, feats):
            f = wide(f)
            g, t = ops.split(f, 2, axis=0)
            total = total + alpha * ops.mean(ops.abs(g - ops.stop_gradient(t)))
        return total
