"""LPIPS (Zhang et al. 2018, v0.1): learned linear heads over AlexNet or VGG16 features, in Keras.

Distance = sum over 5 layers of the spatial mean of w_l . (n(f_l(x)) - n(f_l(y)))^2, where f_l are
the backbone's ReLU outputs, n() normalises each pixel's feature vector to unit length and w_l are
the non-negative 1x1 "linear" heads. Inputs are images in [-1, 1] (uint8 is converted), shifted and
scaled per channel as the original does before the ImageNet backbone.

Weights (no torch import), found or downloaded by `pinet_tf.utils.weights`: the heads are the
LPIPS repository's `lpips/weights/v0.1/{alex,vgg}.pth` (also found inside an installed `lpips`
wheel without importing it, or as `lpips_{net}.pth`, `{net}.pth` or `lpips_{net}.npz`); the
backbone is torchvision's ImageNet state dict (`alexnet-owt-7be5be79.pth`, `vgg16-397923af.pth`,
also searched in torch's hub cache). Both are read with `pinet_tf.utils.torchfile` (a safe
unpickler); `.npz` files with the same keys work too.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from pinet_tf.utils import weights as wlib

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10

# torchvision `features` modules by index: ("conv", out, kernel, stride, pad) | ("relu",) |
# ("pool", kernel, stride). TAPS: indices whose ReLU outputs LPIPS compares.
ARCHS = {
    "alex": {
        "layers": [("conv", 64, 11, 4, 2), ("relu",), ("pool", 3, 2), ("conv", 192, 5, 1, 2),
                   ("relu",), ("pool", 3, 2), ("conv", 384, 3, 1, 1), ("relu",),
                   ("conv", 256, 3, 1, 1), ("relu",), ("conv", 256, 3, 1, 1), ("relu",)],
        "taps": (1, 4, 7, 9, 11),
    },
    "vgg": {
        "layers": [],
        "taps": (3, 8, 15, 22, 29),
    },
}
for _c in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512):
    ARCHS["vgg"]["layers"] += [("pool", 2, 2)] if _c == "M" else [("conv", _c, 3, 1, 1), ("relu",)]

def _check_net(net):
    if net not in ARCHS:
        raise ValueError(f"LPIPS: net must be one of {sorted(ARCHS)}, received {net!r}")


def find_heads(net: str, path=None, allow_download=None) -> str:
    _check_net(net)
    pkg = wlib.package_dir("lpips")
    extra = [os.path.join(pkg, "weights", "v0.1")] if pkg else []
    return wlib.locate(f"lpips_{net}_heads", path, extra_dirs=extra,
                       allow_download=allow_download, hint="--lpips-heads PATH")


def find_backbone(net: str, path=None, allow_download=None) -> str:
    _check_net(net)
    return wlib.locate(f"lpips_{net}_backbone", path, allow_download=allow_download,
                       hint="--lpips-backbone PATH")


def build_backbone(net: str):
    """Keras model [-1,1]-scaled input [B,H,W,3] -> list of 5 ReLU feature maps; conv layers are
    named `features_{i}` after their torchvision index."""
    import keras

    _check_net(net)
    arch = ARCHS[net]
    inp = keras.Input((None, None, 3))
    x = inp
    outs = []
    for i, spec in enumerate(arch["layers"]):
        if spec[0] == "conv":
            _, filters, k, stride, pad = spec
            x = keras.layers.ZeroPadding2D(pad, name=f"pad_{i}")(x)
            x = keras.layers.Conv2D(filters, k, strides=stride, padding="valid",
                                    name=f"features_{i}")(x)
        elif spec[0] == "relu":
            x = keras.layers.ReLU(name=f"relu_{i}")(x)
        else:
            x = keras.layers.MaxPooling2D(spec[1], strides=spec[2], padding="valid",
                                          name=f"pool_{i}")(x)
        if i in arch["taps"]:
            outs.append(x)
    return keras.Model(inp, outs, name=f"lpips_{net}_backbone")


def load_backbone_weights(model, state: dict, where: str = "backbone state dict") -> None:
    """Copy torchvision `features.{i}.weight/bias` ([out,in,kh,kw]) into the Keras convs."""
    for layer in model.layers:
        if not layer.name.startswith("features_"):
            continue
        i = layer.name.split("_")[1]
        wk, bk = f"features.{i}.weight", f"features.{i}.bias"
        if wk not in state or bk not in state:
            raise ValueError(f"{where}: missing {wk} / {bk} (is this a torchvision "
                             f"{model.name.split('_')[1]} state dict?)")
        w = np.transpose(np.asarray(state[wk], np.float32), (2, 3, 1, 0))
        expected = tuple(layer.kernel.shape)
        if w.shape != expected:
            raise ValueError(f"{where}: {wk} has shape {state[wk].shape}, expected "
                             f"{(expected[3], expected[2], expected[0], expected[1])}")
        layer.set_weights([w, np.asarray(state[bk], np.float32)])


def heads_from_state(state: dict, net: str, where: str = "LPIPS heads") -> list:
    """The five non-negative head vectors [C_l] from `lin{l}.model.1.weight` ([1,C,1,1])."""
    chans = [ARCHS[net]["layers"][t - 1][1] for t in ARCHS[net]["taps"]]
    heads = []
    for l, c in enumerate(chans):
        key = f"lin{l}.model.1.weight"
        if key not in state:
            raise ValueError(f"{where}: missing {key}; found keys {sorted(state)[:8]}")
        w = np.asarray(state[key], np.float32).reshape(-1)
        if w.shape != (c,):
            raise ValueError(f"{where}: {key} has {w.size} channels, expected {c} for {net}")
        heads.append(w)
    return heads


class LPIPS:
    """Callable (images1, images2) -> per-image LPIPS distance [B] (float32).

    `heads` / `backbone`: file paths (found or downloaded when None; `allow_download=False`
    forbids it). `state_dicts=(backbone, heads)` gives arrays directly (tests).
    `self.weight_files` lists (role, path) for reports.
    """

    def __init__(self, net: str = "alex", heads=None, backbone=None, state_dicts=None,
                 allow_download=None):
        _check_net(net)
        self.net = net
        self.model = build_backbone(net)
        if state_dicts is not None:
            bstate, hstate = state_dicts
            self.weight_files = []
        else:
            hpath = find_heads(net, heads, allow_download)
            bpath = find_backbone(net, backbone, allow_download)
            bstate, hstate = wlib.read_state_dict(bpath), wlib.read_state_dict(hpath)
            self.weight_files = [(f"LPIPS {net} backbone", bpath), (f"LPIPS {net} heads", hpath)]
        load_backbone_weights(self.model, bstate)
        self.heads = [tf.constant(h) for h in heads_from_state(hstate, net)]
        spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        self._fn = tf.function(self._distance, input_signature=[spec, spec])

    def _prepare(self, images):
        x = tf.convert_to_tensor(images)
        if x.dtype == tf.uint8:
            x = tf.cast(x, tf.float32) / 127.5 - 1.0
        x = tf.cast(x, tf.float32)
        return (x - tf.constant(SHIFT)) / tf.constant(SCALE)

    def _distance(self, x1, x2):
        f1 = self.model(x1, training=False)
        f2 = self.model(x2, training=False)
        total = 0.0
        for a, b, w in zip(f1, f2, self.heads):
            a = a / (tf.sqrt(tf.reduce_sum(a * a, -1, keepdims=True)) + EPS)
            b = b / (tf.sqrt(tf.reduce_sum(b * b, -1, keepdims=True)) + EPS)
            d = tf.reduce_sum(tf.square(a - b) * w, axis=-1)  # 1x1 conv, no bias
            total += tf.reduce_mean(d, axis=[1, 2])
        return total

    def __call__(self, images1, images2):
        x = tf.convert_to_tensor(images1)
        y = tf.convert_to_tensor(images2)
        if x.shape.rank != 4 or x.shape != y.shape:
            raise ValueError(f"LPIPS: expected two [B,H,W,3] batches of one shape, received "
                             f"{x.shape} and {y.shape}")
        return self._fn(self._prepare(x), self._prepare(y))


def lpips(images1, images2, net: str = "alex", heads=None, backbone=None):
    """Per-image LPIPS [B] (builds the network each call: use `LPIPS` for many batches)."""
    return LPIPS(net, heads, backbone)(images1, images2)
