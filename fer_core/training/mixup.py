"""Mixup (Zhang et al., 2018): train on blends of two faces, each target blended by the same share.

Why: a 48x48 face set of 28,709 faces is small for a 3.5 M-parameter net, which ends a long run
fitting its training faces 15 points better than PublicTest; blending faces and their targets is
a regulariser that works on the targets as well as the pixels, which the augmentation layers
inside the net (flip, shift, rotation, zoom, erasing) cannot do: they do not see the targets.

It feeds ``model.fit`` as a ``keras.utils.PyDataset``, so it runs the same under TensorFlow,
JAX and PyTorch (the GPU sitting trains on JAX). The batches themselves are plain numpy
(``MixupBatches``), and Keras is imported only when a run builds the dataset for ``fit``.
"""

from __future__ import annotations

import math

import numpy as np


def mix_batch(images: np.ndarray, targets: np.ndarray, shares: np.ndarray, partners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face ``i`` becomes ``shares[i]`` of itself and the rest of face ``partners[i]``, and so does its target."""
    weights = shares.astype(np.float32)
    mixed_images = weights[:, None, None, None] * images + (1 - weights[:, None, None, None]) * images[partners]
    mixed_targets = weights[:, None] * targets + (1 - weights[:, None]) * targets[partners]
    return mixed_images.astype(np.float32), mixed_targets.astype(np.float32)


class MixupBatches:
    """Shuffled batches of (faces, targets), each face blended with another of its batch.

    Each face keeps a share drawn from Beta(alpha, alpha), at least one half (so the face stays the
    one its target mostly names), and is blended with a random partner from the same batch. The
    order and the shares come from ``seed`` and the epoch, so a run is repeatable.
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, batch_size: int, alpha: float, seed: int) -> None:
        self.images, self.targets = images, targets
        self.batch_size, self.alpha, self.seed = batch_size, alpha, seed
        self.epoch = 0
        self._start_epoch()

    def _start_epoch(self) -> None:
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        shares = rng.beta(self.alpha, self.alpha, size=len(chosen))
        return mix_batch(self.images[chosen][..., None].astype(np.float32), self.targets[chosen],
                         np.maximum(shares, 1 - shares), rng.permutation(len(chosen)))

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._start_epoch()


def mixup_dataset(batches: MixupBatches):
    """``batches`` as the ``keras.utils.PyDataset`` that ``fit`` takes from any backend."""
    import keras

    class MixupDataset(keras.utils.PyDataset):
        def __len__(self) -> int:
            return len(batches)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            return batches[index]

        def on_epoch_end(self) -> None:
            batches.on_epoch_end()

    return MixupDataset()
