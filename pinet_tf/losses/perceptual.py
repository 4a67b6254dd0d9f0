"""VGG19 perceptual loss (paper eq. 9): sum_i alpha_i * mean|phi_i(generated) - phi_i(target)|.

Nothing may download at run time, so the VGG19 weights come from a local file: the Keras
application file ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (or any weights file saved
from ``keras.applications.VGG19(include_top=False)``).

Preprocessing must match the weights, not the authors' code:

* ``"caffe"`` (default): Keras's VGG19 weights are the original Caffe ones; they expect BGR
  pixels in 0..255 minus the ImageNet mean (103.939, 116.779, 123.68). This is what
  ``keras.applications.vgg19.preprocess_input`` does.
* ``"torch"``: weights converted from torchvision's VGG19 (what the authors load) expect RGB in
  [0, 1] normalised by mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).

Images enter in [-1, 1] either way. Keras's conv layers include the ReLU, so ``block1_conv1``
is relu1_1, ``block1_conv2`` is relu1_2, ``block{n}_conv1`` is relu{n}_1.
"""

import os

import keras
from keras import ops

#: The paper's layers relu1_1..relu5_1, each weighted 1 (the overall weight is lambda_2 = 0.5).
PAPER_LAYERS = {"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0, "relu4_1": 1.0, "relu5_1": 1.0}
#: The authors' code: relu1_2 only.
OFFICIAL_LAYERS = {"relu1_2": 1.0}

_KERAS_NAMES = {f"relu{b}_{c}": f"block{b}_conv{c}" for b in range(1, 6) for c in range(1, 5)}
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
PREPROCESSING = ("caffe", "torch")


class VGGPerceptualLoss:
    """Callable (generated, target) -> scalar loss; the VGG19 trunk is frozen.

    Args:
        weights_path: local VGG19 notop weights file (required: nothing is downloaded).
        layers: {"reluX_Y": alpha} layer weights.
        preprocessing: "caffe" or "torch", matching the weights (see the module docstring).
    """

    def __init__(self, weights_path, layers=None, preprocessing="caffe"):
        layers = dict(OFFICIAL_LAYERS if layers is None else layers)
        unknown = sorted(set(layers) - set(_KERAS_NAMES))
        if unknown or not layers:
            raise ValueError(f"perceptual layers must be names like relu1_2 (blocks 1..5), got "
                             f"{sorted(layers)}")
        if preprocessing not in PREPROCESSING:
            raise ValueError(f"VGG preprocessing must be one of {PREPROCESSING}, got "
                             f"{preprocessing!r}")
        if not weights_path:
            raise ValueError(
                "the perceptual loss needs VGG19 weights, and nothing is downloaded at run time: "
                "pass a local file (--vgg-weights PATH, e.g. Keras's "
                "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5) or set the perceptual "
                "weight to 0")
        if not os.path.exists(weights_path):
            raise FileNotFoundError(f"VGG19 weights file not found: {weights_path} (expected the "
                                    f"Keras VGG19 include_top=False weights, .h5)")
        self.layers = layers
        self.preprocessing = preprocessing
        self.weights_path = weights_path
        vgg = keras.applications.VGG19(include_top=False, weights=None,
                                       input_shape=(None, None, 3))
        try:
            vgg.load_weights(weights_path)
        except Exception as e:  # Keras raises several types for a foreign file
            raise ValueError(f"cannot load VGG19 notop weights from {weights_path}: {e}") from e
        names = list(layers)
        # The functional sub-model only runs the layers up to the deepest one requested.
        self.features = keras.Model(vgg.input, [vgg.get_layer(_KERAS_NAMES[n]).output
                                                for n in names], name="vgg19_features")
        self.features.trainable = False
        self.alphas = [float(layers[n]) for n in names]

    def preprocess(self, images):
        """[-1, 1] RGB -> what the loaded weights expect."""
        x = (ops.cast(images, "float32") + 1.0) * 0.5  # [0, 1]
        if self.preprocessing == "caffe":
            return ops.flip(x, axis=-1) * 255.0 - ops.convert_to_tensor(_CAFFE_MEAN_BGR)
        return (x - ops.convert_to_tensor(_TORCH_MEAN)) / ops.convert_to_tensor(_TORCH_STD)

    def __call__(self, generated, target):
        both = ops.concatenate([self.preprocess(generated), self.preprocess(target)], axis=0)
        feats = self.features(both, training=False)
        if not isinstance(feats, (list, tuple)):
            feats = [feats]
        total = 0.0
        for alpha, f in zip(self.alphas, feats):
            f = ops.cast(f, "float32")
            g, t = ops.split(f, 2, axis=0)
            total = total + alpha * ops.mean(ops.abs(g - ops.stop_gradient(t)))
        return total
