"""Keras layers of PINet, one concept per module, all registered under package "pinet_tf"."""

from pinet_tf.layers.gated_conv import GatedConv2D
from pinet_tf.layers.padding import SymmetricPadding2D
from pinet_tf.layers.precision import output_dtype
from pinet_tf.layers.self_attention import SelfAttention
from pinet_tf.layers.spectral_norm import SpectralConv2D
from pinet_tf.layers.upsample import GatedUpsample2D, NearestUpsample2D

__all__ = ["GatedConv2D", "GatedUpsample2D", "NearestUpsample2D", "SelfAttention",
           "SpectralConv2D", "SymmetricPadding2D", "output_dtype"]
