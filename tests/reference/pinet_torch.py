"""Our own PyTorch port of the authors' PINet networks, written from
`docs/official_checkpoint.md` (not from their code), with the same module tree so that
`state_dict()` has the official key names and order.

Used by the checkpoint-import parity tests and the benchmarks. `ngf` / `ndf` scale the widths
(64 gives the released shapes; the authors hard-code 64 in G_p, we scale both branches with ngf,
as `pinet_tf.config.ModelConfig` does). Import needs `torch`; nothing in `pinet_tf` imports this.

    netG = build_netG(ngf=64)                 # forward([x1, x2, x3, x4]) -> (image, parse)
    netD_PB = build_netD_PB(ndf=64)           # input cat(P_t, image), 21 channels
    netD_PP = build_netD_PP(ndf=64)           # input cat(image, I_s), 6 channels
"""

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 12
NUM_KEYPOINTS = 18


class GatedConv(nn.Module):
    """y = act(conv_f(x)) * sigmoid(conv_g(x)), then BatchNorm2d (keys gated_conv, mask_conv,
    batch_norm2d). Zero padding dilation*(k-1)/2 inside the convs."""

    def __init__(self, cin, cout, k=3, stride=1, dilation=1, padding=None, activation=True):
        super().__init__()
        pad = dilation * (k - 1) // 2 if padding is None else padding
        self.gated_conv = nn.Conv2d(cin, cout, k, stride, pad, dilation)
        self.mask_conv = nn.Conv2d(cin, cout, k, stride, pad, dilation)
        self.batch_norm2d = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.activation = activation

    def forward(self, x):
        f = self.gated_conv(x)
        if self.activation:
            f = F.leaky_relu(f, 0.2)
        return self.batch_norm2d(f * torch.sigmoid(self.mask_conv(x)))


class GatedDeconv(nn.Module):
    """Nearest x2 upsample, then a 3x3 gated conv held as `conv2d`."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv2d = GatedConv(cin, cout)

    def forward(self, x):
        return self.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"))


class SelfAttention(nn.Module):
    """SAGAN attention without 1/sqrt(d); gamma registered first (key order of the release)."""

    def __init__(self, channels):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.query_conv = nn.Conv2d(channels, channels // 8, 1)
        self.key_conv = nn.Conv2d(channels, channels // 8, 1)
        self.value_conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        q = self.query_conv(x).reshape(b, -1, h * w).transpose(1, 2)   # [B, N, C/8]
        k = self.key_conv(x).reshape(b, -1, h * w)                     # [B, C/8, N]
        v = self.value_conv(x).reshape(b, c, h * w)                    # [B, C, N]
        attention = torch.softmax(torch.bmm(q, k), dim=-1)             # [B, N(query), N(key)]
        out = torch.bmm(v, attention.transpose(1, 2)).reshape(b, c, h, w)
        return self.gamma * out + x


def _encoder(cin, widths):
    """[reflect pad 3, GC7, GC s2, GC, GC s2, GC x3, GC d2, GC d4] (Sequential indices 0..9)."""
    w1, w2, w3, w4 = widths
    return [nn.ReflectionPad2d(3), GatedConv(cin, w1, k=7, padding=0),
            GatedConv(w1, w2, stride=2), GatedConv(w2, w3), GatedConv(w3, w4, stride=2)]


def _trunk_in(cin, trunk):
    return [GatedConv(cin, trunk), GatedConv(trunk, trunk), GatedConv(trunk, trunk),
            GatedConv(trunk, trunk, dilation=2), GatedConv(trunk, trunk, dilation=4)]


def _decoder(trunk, ngf, out_channels):
    """[GC, GC, up+GC, GC, up+GC, GC (ngf/2), GC no activation] (7 modules)."""
    return [GatedConv(trunk, trunk), GatedConv(trunk, trunk), GatedDeconv(trunk, 2 * ngf),
            GatedConv(2 * ngf, 2 * ngf), GatedDeconv(2 * ngf, ngf), GatedConv(ngf, ngf // 2),
            GatedConv(ngf // 2, out_channels, activation=False)]


class ParsingNet(nn.Module):
    """G_p: one Sequential `gcnet` (0 pad, 1-9 GC, 10 attention, 11-17)."""

    def __init__(self, ngf):
        super().__init__()
        trunk = 4 * ngf
        enc = _encoder(3 + NUM_CLASSES + 2 * NUM_KEYPOINTS, (ngf, 2 * ngf, 2 * ngf, 4 * ngf))
        self.gcnet = nn.Sequential(*enc, *_trunk_in(4 * ngf, trunk), SelfAttention(trunk),
                                   *_decoder(trunk, ngf, NUM_CLASSES))

    def forward(self, x):
        return self.gcnet(x)


class PInet(nn.Module):
    """G_p then G_i; G_i sees G_p's raw logits (detached) and only the target pose."""

    def __init__(self, ngf):
        super().__init__()
        trunk = 4 * ngf
        self.ParsingNet = ParsingNet(ngf)
        enc = _encoder(3 + NUM_CLASSES + NUM_CLASSES + NUM_KEYPOINTS, (ngf, ngf, 2 * ngf, 2 * ngf))
        self.app_trans_net = nn.Sequential(*enc, *_trunk_in(2 * ngf, trunk))
        self.refine_attn = SelfAttention(trunk)
        self.refine_upsample_net = nn.Sequential(*_decoder(trunk, ngf, 3))

    def forward(self, inputs):
        x1, x2, x3, _x4 = inputs  # x4 (target parsing) is unused, as in the release
        p2 = x2[:, NUM_KEYPOINTS:]
        parse = self.ParsingNet(torch.cat([x1, x3, x2], 1))
        y = self.app_trans_net(torch.cat([x1, x3, parse.detach(), p2], 1))
        y = self.refine_upsample_net(self.refine_attn(y))
        return torch.clamp(y, -1, 1), parse


class Generator(nn.Module):
    """The wrapper the authors save (keys start `model.`)."""

    def __init__(self, ngf=64):
        super().__init__()
        self.model = PInet(ngf)

    def forward(self, inputs):
        return self.model(inputs)


def build_netG(ngf=64):
    return Generator(ngf)


# ---------------------------------------------------------------------------------------------
# Discriminators

class _SNParams(nn.Module):
    """Parameters of one spectrally normalised conv, in the release's key order."""

    def __init__(self, cin, cout, k):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(cout))
        w = torch.empty(cout, cin, k, k)
        nn.init.kaiming_normal_(w)
        self.weight_u = nn.Parameter(F.normalize(torch.randn(cout), dim=0, eps=1e-12),
                                     requires_grad=False)
        self.weight_v = nn.Parameter(F.normalize(torch.randn(cin * k * k), dim=0, eps=1e-12),
                                     requires_grad=False)
        self.weight_bar = nn.Parameter(w)


def _l2n(x):
    return x / (x.norm() + 1e-12)


class _SigmaHeldUV(torch.autograd.Function):
    """sigma = u.(Wm v) whose backward reads u, v from `params` when backward runs (the authors'
    SpectralNorm: sigma keeps references to u, v that every forward replaces in place), so a
    forward followed by another before backward gets d sigma / dWm = u' v'^T of the later one."""

    @staticmethod
    def forward(ctx, wm, u, v, params):
        ctx.params = params
        return u @ (wm @ v)

    @staticmethod
    def backward(ctx, grad):
        p = ctx.params
        return grad * torch.outer(p.weight_u, p.weight_v), None, None, None


class SNConv(nn.Module):
    """Conv with weight_bar / sigma; one power iteration per forward, u and v written back.

    `sigma_gradient`: "exact" (d sigma / dW from this forward's u, v) or "authors" (from the
    u, v the module holds at backward time; `set_sigma_gradient`)."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.module = _SNParams(cin, cout, k)
        self.stride, self.padding = stride, padding
        self.sigma_gradient = "exact"

    def forward(self, x):
        p = self.module
        wm = p.weight_bar.reshape(p.weight_bar.shape[0], -1)
        with torch.no_grad():
            v = _l2n(wm.t() @ p.weight_u)
            u = _l2n(wm @ v)
            p.weight_v.copy_(v)
            p.weight_u.copy_(u)
        sigma = (_SigmaHeldUV.apply(wm, u, v, p) if self.sigma_gradient == "authors"
                 else u @ (wm @ v))
        return F.conv2d(x, p.weight_bar / sigma, p.bias, self.stride, self.padding)


def set_sigma_gradient(net, mode):
    """Every SNConv of `net` forms d sigma / dW the `mode` way ("exact" or "authors")."""
    if mode not in ("exact", "authors"):
        raise ValueError(f"sigma gradient must be 'exact' or 'authors', got {mode!r}")
    for m in net.modules():
        if isinstance(m, SNConv):
            m.sigma_gradient = mode


class ResBlock(nn.Module):
    def __init__(self, dim, dropout=0.5):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), SNConv(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.Dropout(dropout), nn.ReflectionPad2d(1), SNConv(dim, dim, 3),
            nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class Discriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_blocks=3, dropout=0.5):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), SNConv(input_nc, ndf, 7), nn.InstanceNorm2d(ndf),
                  nn.ReLU(True),
                  SNConv(ndf, 2 * ndf, 3, 2, 1), nn.InstanceNorm2d(2 * ndf), nn.ReLU(True),
                  SNConv(2 * ndf, 4 * ndf, 3, 2, 1), nn.InstanceNorm2d(4 * ndf), nn.ReLU(True)]
        layers += [ResBlock(4 * ndf, dropout) for _ in range(n_blocks)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def build_netD_PB(ndf=64, n_blocks=3, dropout=0.5):
    """Pose discriminator: input cat(P_t heatmaps (18), image (3))."""
    return Discriminator(NUM_KEYPOINTS + 3, ndf, n_blocks, dropout)


def build_netD_PP(ndf=64, n_blocks=3, dropout=0.5):
    """Appearance discriminator: input cat(image (3), source image (3))."""
    return Discriminator(6, ndf, n_blocks, dropout)


@torch.no_grad()
def authors_init_(netG):
    """The authors' initial G (`docs/official_training.md`, "Initial state"), drawn from torch's
    global generator: Kaiming-normal (fan_in, a = 0) for every conv weight (biases keep torch's
    default), BatchNorm weight ~ N(1, 0.02) and bias 0, attention gamma 0. Returns netG."""
    for m in netG.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, SelfAttention):
            m.gamma.zero_()
    return netG


# ---------------------------------------------------------------------------------------------
# Helpers for parity tests

@torch.no_grad()
def randomise_(netG, inputs, seed=0, attention_gamma=0.7, output_scale=1.0,
               min_var=0.05, attention_sharpness=4.0):
    """Random weights whose activations stay O(1) in eval mode.

    With plain random weights activations shrink layer by layer to ~1e-9, and an absolute-error
    parity test passes vacuously (keras3-notes). So: gamma/beta are randomised and the attention
    gammas set non-zero, then one train-mode forward with momentum 1 sets every BatchNorm's
    running statistics to the batch statistics it sees, so that in eval mode each BN output has
    about the spread of gamma. The last BN of each branch is scaled by `output_scale` (to keep
    image pixels off the [-1, 1] clamp if needed). Returns the module in eval mode.
    """
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in netG.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in netG.modules():
        if isinstance(m, SelfAttention):
            m.gamma.fill_(attention_gamma)
            # Sharper attention than the default init gives (near-uniform softmax would hide
            # a wrong softmax axis).
            m.query_conv.weight.mul_(attention_sharpness)
            m.key_conv.weight.mul_(attention_sharpness)
    for bn in bns:
        bn.weight.copy_(0.5 + torch.rand(bn.weight.shape, generator=g))
        bn.bias.copy_(0.2 * torch.randn(bn.bias.shape, generator=g))
        bn.reset_running_stats()
        bn.momentum = 1.0
    last = [seq[-1].batch_norm2d for seq in (netG.model.ParsingNet.gcnet,
                                             netG.model.refine_upsample_net)]
    for bn in last:
        bn.weight.mul_(output_scale)
        bn.bias.mul_(output_scale)
    netG.train()
    netG(inputs)
    for bn in bns:
        # Channels that are nearly constant on the calibration batch would get a tiny variance
        # and amplify float32 rounding ~1/sqrt(var) times per layer: floor it.
        bn.running_var.clamp_(min=min_var)
        bn.momentum = 0.1
        bn.num_batches_tracked.fill_(int(torch.randint(1, 10000, (), generator=g)))
    return netG.eval()


def random_inputs(batch, height, width, seed=0):
    """[x1, x2, x3, x4] as the release's test.py feeds them (NCHW float32)."""
    g = torch.Generator().manual_seed(seed)
    x1 = torch.rand(batch, 3, height, width, generator=g) * 2 - 1
    x2 = torch.rand(batch, 2 * NUM_KEYPOINTS, height, width, generator=g)
    labels = torch.randint(0, NUM_CLASSES, (batch, height, width), generator=g)
    x3 = F.one_hot(labels, NUM_CLASSES).permute(0, 3, 1, 2).float()
    x4 = torch.zeros_like(x3)
    return [x1, x2, x3, x4]
