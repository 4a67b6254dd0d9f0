"""Plain NumPy versions of the layer maths, written from the paper/spec, for numeric tests."""

import numpy as np


def pad(x, p, mode="zero"):
    """Symmetric pad of NHWC by p pixels (zeros or reflection without edge repeat)."""
    if p == 0:
        return x
    return np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)),
                  mode="constant" if mode == "zero" else "reflect")


def conv2d(x, kernel, bias, stride=1, dilation=1):
    """'valid' NHWC convolution (cross-correlation) with an HWIO kernel."""
    kh, kw, _, cout = kernel.shape
    n, h, w, _ = x.shape
    oh = (h - dilation * (kh - 1) - 1) // stride + 1
    ow = (w - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, oh, ow, cout), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i * dilation: i * dilation + stride * (oh - 1) + 1: stride,
                      j * dilation: j * dilation + stride * (ow - 1) + 1: stride, :]
            out += patch @ kernel[i, j]
    return out + bias


def leaky_relu(x, slope=0.2):
    return np.where(x >= 0, x, slope * x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def batch_norm_inference(x, gamma, beta, mean, var, eps=1e-5):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
