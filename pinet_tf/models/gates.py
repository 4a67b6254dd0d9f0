"""The gate masks of every gated layer of G_p and G_i for one input (paper Fig. 8).

    maps = gate_maps(generator, inputs)      # [GateMap(name, resolution, mask [B, h, w]), ...]
    picture = gate_picture(maps, source, result)   # uint8 panels with their labels

A gated convolution multiplies its features by `sigmoid(conv_g(x))`; the paper shows the mean
of that gate over the channels, per layer, to argue that the gates learn where to look (the
person, the limbs that move). The maps come from the layers' own gate values during one eager
forward pass (`pinet_tf.layers.gated_conv.record_gates`), in network order: G_p's 16 gated
layers (gp_gc1 .. gp_gc17; layer 10 is the attention), then G_i's. A model built with
`convolution="vanilla"` has no gates; asking for its maps is an error. A one-stage model
(`stages=1`) has no G_p: its maps are G_i's layers only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from pinet_tf.layers.gated_conv import record_gates


@dataclass(frozen=True)
class GateMap:
    """One gated layer's mean gate activation over its channels."""

    name: str          # the generator layer, e.g. "gp_gc5" (an upsampling layer's conv: "gp_gc13")
    resolution: tuple  # (h, w) of the layer's output
    mask: np.ndarray   # float32 [B, h, w] in [0, 1]


def _layer_name(layer) -> str:
    # A gated upsample holds its conv as "gp_gc13/gated_conv": name the generator layer.
    return layer.path.split("/")[0]


def _maps(recorded, model_name: str) -> list:
    if not recorded:
        raise ValueError(
            f"model {model_name!r} has no gated layers (a convolution='vanilla' model has no "
            f"gates to show)")
    maps = []
    for layer, gate in recorded:
        mask = np.asarray(gate, dtype=np.float32).mean(axis=-1)
        maps.append(GateMap(_layer_name(layer), tuple(mask.shape[1:3]), mask))
    return maps


def gate_maps(generator, inputs: dict) -> list:
    """Run `generator` (G_p, G_i or the composed model) once, eagerly, in inference mode, on its
    input dict (`pinet_tf.models.transfer.pose_inputs` makes one from compact tensors)."""
    with record_gates() as recorded:
        generator(inputs, training=False)
    return _maps(recorded, generator.name)


def pose_transfer_with_gates(generator, cfg, source_image, source_parsing, source_keypoints,
                             target_keypoints):
    """`pinet_tf.models.transfer.pose_transfer` on compact tensors, and the gate maps of that
    very call: (outputs {"image", "parsing"} as uint8 arrays, [GateMap, ...]); a one-stage
    model returns {"image"} and G_i's maps only (`source_parsing` may be None)."""
    from pinet_tf.models.transfer import pose_transfer

    with record_gates() as recorded:
        out = pose_transfer(generator, cfg, source_image, source_parsing, source_keypoints,
                            target_keypoints)
    return {k: np.asarray(v) for k, v in out.items()}, _maps(recorded, generator.name)


#: Layer numbers of the generators (as in the authors' code) that hold no gated convolution: the
#: gate picture shows a grey panel naming what the layer is, so the numbering's gap is explained.
UNGATED_LAYERS = {10: "attention"}


def skipped_layers(maps) -> dict:
    """{position in `maps`: [label, ...]}: the layer numbers missing before that map, within one
    generator (e.g. "gp_gc10: attention, no gate" between gp_gc9 and gp_gc11)."""
    skipped, previous = {}, None
    for i, m in enumerate(maps):
        match = re.fullmatch(r"(.*?)(\d+)", m.name)
        if match is None:
            previous = None
            continue
        prefix, number = match.group(1), int(match.group(2))
        if previous is not None and previous[0] == prefix and number > previous[1] + 1:
            skipped[i] = [f"{prefix}{n}: {UNGATED_LAYERS.get(n, 'no gate')}"
                          for n in range(previous[1] + 1, number)]
        previous = (prefix, number)
    return skipped


def _labelled(tile: np.ndarray, text: str, scale: int) -> np.ndarray:
    """The tile enlarged `scale` times (nearest) above a strip with its label."""
    from PIL import Image, ImageDraw

    tile = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
    width = max(tile.shape[1], 6 * len(text) + 4)
    cell = Image.new("RGB", (width, tile.shape[0] + 14), (255, 255, 255))
    cell.paste(Image.fromarray(tile), (0, 0))
    ImageDraw.Draw(cell).text((2, tile.shape[0] + 1), text, fill=(0, 0, 0))
    return np.asarray(cell, dtype=np.uint8)


def gate_picture(maps, panels_before=(), panels_after=(), index: int = 0,
                 columns: int = 8) -> np.ndarray:
    """A uint8 grid: the given panels, then one panel per gate map, each labelled under it.

    `panels_before` / `panels_after` are (label, uint8 [H, W, 3]) pairs (e.g. the source and the
    result, shown before the maps and after them). Every gate map of example `index` is scaled to
    the panels' size with nearest neighbours (its grid stays visible) in grey levels: white = gate
    open (1), black = closed (0); its label is "layer hxw". A layer number without a gate
    (`UNGATED_LAYERS`: layer 10 is the self-attention block) gets a flat grey panel saying so.
    Small models are enlarged so that the labels fit.
    """
    from pinet_tf.utils import drawing

    if not maps:
        raise ValueError("gate_picture needs at least one gate map")
    height, width = (panels_before or panels_after or [(None, maps[0].mask[index])])[0][1].shape[:2]
    scale = max(1, -(-128 // height))
    tiles = [_labelled(np.asarray(image, np.uint8), label, scale)
             for label, image in panels_before]
    skipped = skipped_layers(maps)
    for i, m in enumerate(maps):
        for label in skipped.get(i, ()):
            tiles.append(_labelled(np.full((height, width, 3), 192, np.uint8), label, scale))
        mask = m.mask[index]
        rows = np.arange(height) * mask.shape[0] // height
        cols = np.arange(width) * mask.shape[1] // width
        grey = np.round(255 * np.clip(mask[rows][:, cols], 0, 1)).astype(np.uint8)
        tiles.append(_labelled(np.repeat(grey[..., None], 3, axis=-1),
                               f"{m.name} {m.resolution[0]}x{m.resolution[1]}", scale))
    tiles += [_labelled(np.asarray(image, np.uint8), label, scale)
              for label, image in panels_after]
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    return drawing.image_grid(rows, pad=4)
