"""Map the authors' PyTorch state dicts onto our Keras models (`official` config).

Key names and shapes: `docs/official_checkpoint.md` §4 (generator) and §6 (discriminators).

- Gated convs: `P.gated_conv` and `P.mask_conv` (OIHW) become the two halves of the one fused
  `conv` kernel (HWIO, feature half first); `P.batch_norm2d` becomes `bn` (gamma, beta, moving
  mean/variance); `num_batches_tracked` is dropped.
- Self-attention: the 1x1 `query/key/value_conv` weights become Dense kernels (`w[:, :, 0, 0].T`).
- Spectral-norm convs: `weight_bar` is the raw kernel and `weight_u` the power-iteration vector;
  `weight_v` is recomputed from u on every forward, so it is dropped.

Every key and shape is checked before anything is read or assigned: for a `.pth` file, the
shapes the pickle declares are compared with the model's before any tensor's bytes are read
(`StateDictFile.shapes`); missing, unexpected and mis-shaped keys are named in one one-line
ValueError, and a model is either fully loaded or untouched. A leading `module.`
(nn.DataParallel) is stripped.
"""

import numpy as np

from pinet_tf.utils.torchfile import StateDictFile

# Keys with no Keras counterpart, dropped on import.
_DROPPED_SUFFIXES = (".num_batches_tracked", ".weight_v")
_MAX_LISTED = 5


def strip_module_prefix(state: dict) -> dict:
    """Remove the `module.` prefix(es) nn.DataParallel adds in front of every key."""
    out = {}
    for key, value in state.items():
        while key.startswith("module."):
            key = key[len("module."):]
        out[key] = value
    return out


def _hwio(w):
    return np.transpose(w, (2, 3, 1, 0))


def _oihw_shape(kernel_shape, out=None):
    k1, k2, cin, cout = kernel_shape
    return (out if out is not None else cout, cin, k1, k2)


class _Plan:
    """Assignments (keras variable <- function of torch arrays) plus the torch shapes expected."""

    def __init__(self):
        self.expected = {}      # torch key -> shape
        self.dropped = {}       # torch key -> shape (checked, not assigned)
        self.assignments = []   # (variable, [torch keys], fn)

    def add(self, variable, shapes: dict, fn):
        self.expected.update(shapes)
        self.assignments.append((variable, list(shapes), fn))

    def gated_conv(self, layer, prefix):
        """A `GatedConv2D` <- the 9 keys of one authors' gated conv."""
        kernel = layer.conv.kernel
        half = kernel.shape[-1] // 2
        wshape = _oihw_shape(kernel.shape, half)
        f, g = f"{prefix}.gated_conv", f"{prefix}.mask_conv"
        self.add(kernel, {f"{f}.weight": wshape, f"{g}.weight": wshape},
                 lambda a, b: np.concatenate([_hwio(a), _hwio(b)], axis=-1))
        self.add(layer.conv.bias, {f"{f}.bias": (half,), f"{g}.bias": (half,)},
                 lambda a, b: np.concatenate([a, b]))
        bn = f"{prefix}.batch_norm2d"
        for var, name in ((layer.bn.gamma, "weight"), (layer.bn.beta, "bias"),
                          (layer.bn.moving_mean, "running_mean"),
                          (layer.bn.moving_variance, "running_var")):
            self.add(var, {f"{bn}.{name}": (half,)}, lambda a: a)
        self.dropped[f"{bn}.num_batches_tracked"] = ()

    def attention(self, layer, prefix):
        self.add(layer.gamma, {f"{prefix}.gamma": (1,)}, lambda a: a)
        for dense, name in ((layer.query, "query_conv"), (layer.key, "key_conv"),
                            (layer.value, "value_conv")):
            cin, cout = dense.kernel.shape
            self.add(dense.kernel, {f"{prefix}.{name}.weight": (cout, cin, 1, 1)},
                     lambda w: w[:, :, 0, 0].T)
            self.add(dense.bias, {f"{prefix}.{name}.bias": (cout,)}, lambda a: a)

    def spectral_conv(self, layer, prefix):
        kernel = layer.kernel
        cout = kernel.shape[-1]
        self.add(layer.bias, {f"{prefix}.bias": (cout,)}, lambda a: a)
        self.add(layer.u, {f"{prefix}.weight_u": (cout,)}, lambda a: a)
        self.dropped[f"{prefix}.weight_v"] = (int(np.prod(kernel.shape[:-1])),)
        self.add(kernel, {f"{prefix}.weight_bar": _oihw_shape(kernel.shape)}, _hwio)

    def check(self, shapes: dict, source: str) -> None:
        """Refuse (one line, nothing assigned) missing, unexpected and mis-shaped keys, from the
        shapes alone: a file's tensors are compared before any of their bytes are read."""
        shapes = strip_module_prefix(shapes)
        wanted = {**self.expected, **self.dropped}
        problems = []
        for label, items in (
                ("missing", [k for k in wanted if k not in shapes]),
                ("unexpected", [k for k in shapes if k not in wanted]),
                ("mis-shaped", [f"{k}: expected {tuple(s)}, found {tuple(shapes[k])}"
                                for k, s in wanted.items()
                                if k in shapes and tuple(shapes[k]) != tuple(s)])):
            if items:
                more = f", ... and {len(items) - _MAX_LISTED} more" \
                    if len(items) > _MAX_LISTED else ""
                problems.append(f"{len(items)} {label} ({'; '.join(items[:_MAX_LISTED])}{more})")
        if problems:
            raise ValueError(f"{source}: state dict does not match the model, nothing was "
                             f"loaded: " + "; ".join(problems))

    def apply(self, state: dict, source: str) -> int:
        """Check every key and shape, convert all arrays, then assign (all or nothing)."""
        self.check({k: np.shape(v) for k, v in state.items()}, source)
        state = strip_module_prefix(state)
        values = []
        for variable, keys, fn in self.assignments:
            # In the variable's precision: a float64 state into float64 variables stays exact.
            dtype = np.float64 if str(variable.dtype) == "float64" else np.float32
            arrays = [np.asarray(state[k], dtype=dtype) for k in keys]
            value = np.asarray(fn(*arrays), dtype=dtype)
            if tuple(value.shape) != tuple(variable.shape):  # a bug in this module, not the file
                raise AssertionError(f"{keys} -> {value.shape}, variable {variable.path} "
                                     f"{variable.shape}")
            values.append((variable, value))
        for variable, value in values:
            variable.assign(value)
        return len(values)


def _generator_plan(generator) -> _Plan:
    """Plan for `build_generator(cfg)`: G_p = `model.ParsingNet.gcnet.*`, G_i = the rest."""
    gp = generator.get_layer("parsing_generator")
    gi = generator.get_layer("image_generator")
    plan = _Plan()
    up = (13, 15)
    for i in range(1, 18):
        if i == 10:
            plan.attention(gp.get_layer("gp_attention"), "model.ParsingNet.gcnet.10")
            continue
        layer = gp.get_layer(f"gp_gc{i}")
        prefix = f"model.ParsingNet.gcnet.{i}"
        if i in up:
            layer, prefix = layer.gated_conv, prefix + ".conv2d"
        plan.gated_conv(layer, prefix)
    for i in range(1, 18):
        if i == 10:
            plan.attention(gi.get_layer("gi_attention"), "model.refine_attn")
            continue
        layer = gi.get_layer(f"gi_gc{i}")
        prefix = f"model.app_trans_net.{i}" if i < 10 else f"model.refine_upsample_net.{i - 11}"
        if i in up:
            layer, prefix = layer.gated_conv, prefix + ".conv2d"
        plan.gated_conv(layer, prefix)
    return plan


def _discriminator_plan(discriminator, prefix: str, blocks: int) -> _Plan:
    """Plan for a ResNet discriminator whose layers are named `{prefix}_conv1..3`,
    `{prefix}_block{b}_conv1/2` (authors: model.1/4/7, model.{9+b}.conv_block.{1,6})."""
    plan = _Plan()
    for i, index in ((1, 1), (2, 4), (3, 7)):
        plan.spectral_conv(discriminator.get_layer(f"{prefix}_conv{i}"), f"model.{index}.module")
    for b in range(1, blocks + 1):
        for j, index in ((1, 1), (2, 6)):
            plan.spectral_conv(discriminator.get_layer(f"{prefix}_block{b}_conv{j}"),
                               f"model.{9 + b}.conv_block.{index}.module")
    return plan


def _apply_file(plan: _Plan, sd: StateDictFile) -> int:
    """Compare the file's declared shapes with the plan, then read its tensors and assign."""
    plan.check(sd.shapes, sd.path)
    return plan.apply(sd.read(), sd.path)


def _load(plan: _Plan, source) -> int:
    """Apply a state dict, or a `.pth` path (its shapes checked before its tensors are read)."""
    if isinstance(source, dict):
        return plan.apply(source, "state dict")
    with StateDictFile(source) as sd:
        return _apply_file(plan, sd)


def load_torch_generator(generator, source) -> int:
    """Load the authors' `netG` state dict (dict or .pth path) into `build_generator(cfg)`.

    Returns the number of Keras variables assigned. Raises ValueError naming every missing,
    unexpected or mis-shaped key; then the model is untouched.
    """
    return _load(_generator_plan(generator), source)


def _discriminator_prefix(discriminator, cfg) -> str:
    if not cfg.spectral_norm:
        raise ValueError("the authors' discriminators use spectral norm; config "
                         f"{cfg.name!r} has spectral_norm=False")
    prefixes = {"pose_discriminator": "dp", "appearance_discriminator": "da"}
    if discriminator.name not in prefixes:
        raise ValueError(f"not a PINet discriminator: {discriminator.name!r}")
    return prefixes[discriminator.name]


def load_torch_discriminator(discriminator, source, cfg) -> int:
    """Load `netD_PB` into `build_pose_discriminator(cfg)` or `netD_PP` into
    `build_appearance_discriminator(cfg)` (which one is read from the model's name)."""
    plan = _discriminator_plan(discriminator, _discriminator_prefix(discriminator, cfg),
                               cfg.discriminator_blocks)
    return _load(plan, source)


def import_generator(ckpt_path, cfg):
    """Build `build_generator(cfg)` and load `ckpt_path` into it. Returns the Keras model.

    The file is opened and checked (safe pickle, declared sizes) before the model is built, and
    its shapes are compared with the model's before any tensor is read."""
    from pinet_tf.models import build_generator

    with StateDictFile(ckpt_path) as sd:
        if not cfg.has_parsing:
            raise ValueError(f"the authors' generator has two stages (G_p, G_i); config "
                             f"{cfg.name!r} has stages={cfg.stages}")
        if cfg.parsing_feed != "logits":
            raise ValueError(f"the authors' generator feeds G_p logits to G_i; config "
                             f"{cfg.name!r} has parsing_feed={cfg.parsing_feed!r}")
        generator = build_generator(cfg)
        _apply_file(_generator_plan(generator), sd)
    return generator


def import_discriminators(pb_path, pp_path, cfg):
    """(pose D <- netD_PB, appearance D <- netD_PP) built from `cfg` and loaded."""
    from pinet_tf.models import build_appearance_discriminator, build_pose_discriminator

    with StateDictFile(pb_path) as pb, StateDictFile(pp_path) as pp:  # both checked first
        models = build_pose_discriminator(cfg), build_appearance_discriminator(cfg)
        for model, sd in zip(models, (pb, pp)):
            _apply_file(_discriminator_plan(model, _discriminator_prefix(model, cfg),
                                            cfg.discriminator_blocks), sd)
    return models
