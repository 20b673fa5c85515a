"""What each block of a CNN computes for one face: its most active feature maps.

For the classroom: Grad-CAM says where the answer came from; these say what the layers in
between hold. Each block's maps are read at its last full-resolution layer (before pooling),
so a face shows at 48, 24, 12 and 6 pixels as the net shrinks it, each map scaled to its own
peak. The maps come from a single net: an ensemble shows its first member.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer_core.explain.gradcam import is_feature_map_layer
from fer_core.labels import IMAGE_SIZE
from fer_core.nets.ensemble import ensemble_members


@dataclass(frozen=True)
class BlockMaps:
    layer: str
    channels: int  # the block's channel count
    maps: np.ndarray  # (n, side, side) in [0, 1], the most active channels first
    activity: np.ndarray  # (n,) each shown channel's mean activation


def block_layers(model) -> list:
    """The last feature-map layer at each spatial size, in order (one per block)."""
    chosen: dict[tuple[int, int], object] = {}
    for layer in filter(is_feature_map_layer, model.layers):
        chosen[tuple(layer.output.shape[1:3])] = layer  # a later layer at the same size replaces an earlier one
    if not chosen:
        raise ValueError("the model has no convolutional feature map")
    return list(chosen.values())


def feature_maps(model, face: np.ndarray, per_block: int = 8) -> tuple[list[BlockMaps], int]:
    """Each block's ``per_block`` most active maps for one 48x48 grey face, and how many nets
    the model averages (the maps are the first one's)."""
    import keras

    members = ensemble_members(model)
    net = members[0] if members else model
    layers = block_layers(net)
    probe = keras.Model(net.inputs, [layer.output for layer in layers])
    outputs = probe([np.asarray(face, np.float32).reshape(1, IMAGE_SIZE, IMAGE_SIZE, 1)], training=False)  # a list, as the net's inputs are
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    blocks = []
    for layer, output in zip(layers, outputs, strict=True):
        maps = np.moveaxis(np.asarray(output)[0], -1, 0)  # (channels, side, side)
        activity = maps.mean(axis=(1, 2))
        strongest = np.argsort(-activity, kind="stable")[:per_block]
        peaks = maps[strongest].max(axis=(1, 2), keepdims=True)
        scaled = np.divide(maps[strongest], peaks, out=np.zeros_like(maps[strongest]), where=peaks > 0)
        blocks.append(BlockMaps(layer.name, maps.shape[0], np.clip(scaled, 0, 1).astype(np.float32), activity[strongest]))
    return blocks, max(1, len(members))


def maps_strip(block: BlockMaps, tile: int = 72, gap: int = 3) -> np.ndarray:
    """One row of the block's maps as a grey uint8 picture, each map enlarged to ``tile`` pixels
    with visible pixels (nearest neighbour: a 6x6 map should look like 36 cells, not a blur)."""
    tiles = [cv2.resize((m * 255).astype(np.uint8), (tile, tile), interpolation=cv2.INTER_NEAREST) for m in block.maps]
    strip = np.full((tile, len(tiles) * (tile + gap) - gap), 255, np.uint8)
    for index, picture in enumerate(tiles):
        strip[:, index * (tile + gap): index * (tile + gap) + tile] = picture
    return strip
