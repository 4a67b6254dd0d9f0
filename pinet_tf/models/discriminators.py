"""The two PINet discriminators (the PATN ResNet discriminator the authors use).

    reflect-pad 3, SN conv 7x7 | IN, ReLU | (SN conv 3x3 s2, IN, ReLU) x 2
    | residual blocks: [reflect-pad 1, SN conv 3x3, IN, ReLU, Dropout, reflect-pad 1,
      SN conv 3x3, IN] + x

No 1-channel head: the output is the last block's feature map (4*ndf channels at 1/4 size) and
the GAN loss averages over all of it, as in the authors' code. Instance norm is
`GroupNormalization` with one group per channel and no affine parameters (PyTorch's default
`InstanceNorm2d`).
"""

import keras

from pinet_tf.config import NUM_KEYPOINTS, ModelConfig
from pinet_tf.layers import SpectralConv2D, SymmetricPadding2D, output_dtype


def _conv(cfg, filters, kernel, strides, padding, name):
    if cfg.spectral_norm:
        return SpectralConv2D(filters, kernel, strides=strides, padding=padding, name=name)
    pad = SymmetricPadding2D((kernel - 1) // 2, padding, name=f"{name}_pad")
    conv = keras.layers.Conv2D(filters, kernel, strides=strides, name=name)
    return lambda x: conv(pad(x))


def _instance_norm(name):
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False,
                                           name=name)


def _resnet_discriminator(x, cfg: ModelConfig, prefix: str):
    ndf = cfg.ndf
    x = _conv(cfg, ndf, 7, 1, "reflect", f"{prefix}_conv1")(x)
    x = keras.layers.ReLU()(_instance_norm(f"{prefix}_norm1")(x))
    for i, filters in ((2, 2 * ndf), (3, 4 * ndf)):
        x = _conv(cfg, filters, 3, 2, "zero", f"{prefix}_conv{i}")(x)
        x = keras.layers.ReLU()(_instance_norm(f"{prefix}_norm{i}")(x))
    for b in range(1, cfg.discriminator_blocks + 1):
        name = f"{prefix}_block{b}"
        y = _conv(cfg, 4 * ndf, 3, 1, "reflect", f"{name}_conv1")(x)
        y = keras.layers.ReLU()(_instance_norm(f"{name}_norm1")(y))
        y = keras.layers.Dropout(cfg.discriminator_dropout)(y)
        y = _conv(cfg, 4 * ndf, 3, 1, "reflect", f"{name}_conv2")(y)
        y = _instance_norm(f"{name}_norm2")(y)
        x = keras.layers.Add(name=f"{name}_add")([x, y])
    return keras.layers.Activation("linear", dtype=output_dtype(), name="score")(x)


def build_pose_discriminator(cfg: ModelConfig) -> keras.Model:
    """D_P(P_t, I): target heatmaps (18 channels) then image (3), 21 channels in that order."""
    heatmaps = keras.Input((cfg.image_height, cfg.image_width, NUM_KEYPOINTS),
                           name="target_heatmaps")
    image = keras.Input((cfg.image_height, cfg.image_width, 3), name="image")
    x = keras.layers.Concatenate(name="dp_inputs")([heatmaps, image])
    score = _resnet_discriminator(x, cfg, "dp")
    return keras.Model({"target_heatmaps": heatmaps, "image": image}, {"score": score},
                       name="pose_discriminator")


def build_appearance_discriminator(cfg: ModelConfig) -> keras.Model:
    """D_A(I, I_s): image then source image, 6 channels in that order."""
    image = keras.Input((cfg.image_height, cfg.image_width, 3), name="image")
    source = keras.Input((cfg.image_height, cfg.image_width, 3), name="source_image")
    x = keras.layers.Concatenate(name="da_inputs")([image, source])
    score = _resnet_discriminator(x, cfg, "da")
    return keras.Model({"image": image, "source_image": source}, {"score": score},
                       name="appearance_discriminator")
