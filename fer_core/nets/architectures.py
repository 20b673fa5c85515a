"""CNN architectures for 48x48 grey faces, registered by name.

Every model takes raw uint8-range pixels shaped (48, 48, 1) and carries its own
``Rescaling`` and augmentation layers, so a saved ``.keras`` file is self-contained:
whoever loads it feeds plain pixels, and augmentation is active only in training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fer_core.errors import FerError
from fer_core.labels import IMAGE_SIZE, NUM_CLASSES

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


@dataclass(frozen=True)
class Architecture:
    name: str
    summary: str
    build: Callable[..., object]
    # TensorFlow 2.21's oneDNN kernels corrupt the heap in the *backward* pass of depthwise
    # convolutions on this CPU ("corrupted size vs. prev_size", reproduced with both
    # SeparableConv2D and DepthwiseConv2D); such nets train with oneDNN off (half the speed).
    train_without_onednn: bool = False


ARCHITECTURES: dict[str, Architecture] = {}


def register(name: str, summary: str, *, train_without_onednn: bool = False) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Add a builder ``(augment: bool, dropout: float, erasing: float) -> keras.Model`` to the registry."""

    def decorator(builder: Callable[..., object]) -> Callable[..., object]:
        ARCHITECTURES[name] = Architecture(name, summary, builder, train_without_onednn)
        return builder

    return decorator


def build_model(name: str, *, augment: bool = True, dropout: float = 0.3, erasing: float = 0.0):
    """Build a registered architecture; an unknown name lists the known ones."""
    if name not in ARCHITECTURES:
        raise FerError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name].build(augment=augment, dropout=dropout, erasing=erasing)


def _inputs_and_stem(augment: bool, erasing: float = 0.0):
    """Input, [augmentation], rescaling: shared by every architecture.

    ``erasing`` > 0 adds random erasing (Zhong et al. 2017): that share of training faces
    gets one rectangle replaced by noise, so the net cannot lean on one region (a mouth
    corner, an eyebrow); FER papers that train long report it among their augmentations.
    Off by default, so the models trained before it existed rebuild identically.
    """
    import keras
    from keras import layers

    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = inputs
    if augment:
        # Faces in FER2013 are roughly aligned: mild geometry only, flips are label-safe.
        x = layers.RandomFlip("horizontal", name="aug_flip")(x)
        x = layers.RandomRotation(0.05, fill_mode="nearest", name="aug_rotate")(x)
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", name="aug_shift")(x)
        x = layers.RandomZoom(0.1, fill_mode="nearest", name="aug_zoom")(x)
        if erasing:
            x = layers.RandomErasing(factor=(erasing, erasing), value_range=(0, 255), name="aug_erase")(x)
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    return inputs, x


def _conv_bn_relu(x, filters: int, name: str):
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # momentum 0.9 (not Keras' 0.99): inference statistics settle within one short demo epoch.
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _head(x, dropout: float, dense_units: int = 0):
    from keras import layers

    if dense_units:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dropout(dropout, name="head_dropout")(x)
        x = layers.Dense(dense_units, use_bias=False, name="head_dense")(x)
        x = layers.BatchNormalization(momentum=0.9, name="head_bn")(x)
        x = layers.Activation("relu", name="head_relu")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="final_dropout")(x)
    # float32 even under bf16 mixed precision: softmax and the loss need the wider mantissa.
    return layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities", dtype="float32")(x)


@register("tiny", "3 conv blocks + a small dense head, ~390k parameters: an epoch on a sample in seconds, for demos")
def build_tiny(augment: bool = True, dropout: float = 0.3, erasing: float = 0.0):
    """A dense head rather than global pooling: on a 300-per-class sample it reached 31 % validation
    accuracy in 10 epochs, where the pooled version stayed at chance (18 %)."""
    import keras
    from keras import layers

    inputs, x = _inputs_and_stem(augment, erasing)
    for i, filters in enumerate((16, 32, 64)):
        x = _conv_bn_relu(x, filters, f"b{i}")
        x = layers.MaxPooling2D(name=f"b{i}_pool")(x)
    return keras.Model(inputs, _head(x, dropout, dense_units=64), name="tiny")


@register(
    "mini_xception",
    "mini-Xception (Arriaga et al. 2017): depthwise-separable residual blocks, ~60k parameters",
    train_without_onednn=True,
)
def build_mini_xception(augment: bool = True, dropout: float = 0.3, erasing: float = 0.0):
    import keras
    from keras import layers

    inputs, x = _inputs_and_stem(augment, erasing)
    x = _conv_bn_relu(x, 8, "stem1")
    x = _conv_bn_relu(x, 8, "stem2")
    for i, filters in enumerate((16, 32, 64, 128)):
        residual = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False, name=f"x{i}_skip")(x)
        residual = layers.BatchNormalization(momentum=0.9, name=f"x{i}_skip_bn")(residual)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"x{i}_sep1")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"x{i}_bn1")(x)
        x = layers.Activation("relu", name=f"x{i}_relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"x{i}_sep2")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"x{i}_bn2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"x{i}_pool")(x)
        x = layers.Add(name=f"x{i}_add")([x, residual])
    return keras.Model(inputs, _head(x, dropout), name="mini_xception")


def _vgg(name: str, widths: tuple[int, ...], augment: bool, dropout: float, erasing: float):
    import keras
    from keras import layers

    inputs, x = _inputs_and_stem(augment, erasing)
    for i, filters in enumerate(widths):
        x = _conv_bn_relu(x, filters, f"b{i}a")
        x = _conv_bn_relu(x, filters, f"b{i}b")
        x = layers.MaxPooling2D(name=f"b{i}_pool")(x)
        # Deeper blocks drop more; scaled by ``dropout`` so one knob loosens the whole net
        # (0.4, the default, gives 0.05..0.2 as the first shipped model was trained with).
        x = layers.SpatialDropout2D(dropout / 8 * (i + 1), name=f"b{i}_drop")(x)
    return keras.Model(inputs, _head(x, dropout, dense_units=256), name=name)


@register("vgg", "VGG-style 4x2 conv blocks (32-256 filters) + dense head, ~1.8M parameters: best accuracy per CPU hour")
def build_vgg(augment: bool = True, dropout: float = 0.4, erasing: float = 0.0):
    return _vgg("vgg", (32, 64, 128, 256), augment, dropout, erasing)


@register("vgg_wide", "the vgg with 1.5x the filters (48-384), ~3.5M parameters, 2.2x the compute: for a GPU")
def build_vgg_wide(augment: bool = True, dropout: float = 0.4, erasing: float = 0.0):
    """Width, not depth: at 48x48 a fifth pooling block would leave 1x1 maps. One face still
    fits the live budget on a CPU: 1.33 ms quantised here (vgg: 0.60 ms), 2.7 ms with flip TTA."""
    return _vgg("vgg_wide", (48, 96, 192, 384), augment, dropout, erasing)


def _basic_block(x, filters: int, stride: int, name: str):
    """ResNet's basic block (two 3x3 convolutions and a shortcut); a 1x1 convolution on the
    shortcut where the block changes width or halves the map, as in He et al. 2016."""
    from keras import layers

    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_skip")(x)
        shortcut = layers.BatchNormalization(momentum=0.9, name=f"{name}_skip_bn")(shortcut)
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn1")(x)
    x = layers.Activation("relu", name=f"{name}_relu1")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn2")(x)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(x)


@register("resnet", "ResNet-18's layout at 48x48 (4 stages of 2 basic blocks, 32-256 filters), ~2.8M parameters, ~2.6x the vgg's compute")
def build_resnet(augment: bool = True, dropout: float = 0.4, erasing: float = 0.0):
    """ResNet-18 (He et al. 2016) as CIFAR-sized inputs take it: a 3x3 stem without the 7x7
    stride-2 convolution and max pooling that would leave a 12x12 map after the first layer, so
    the stages see 48, 24, 12 and 6 pixels as the vgg's blocks do. Half the original widths
    (32-256, as the vgg's): the original's 11 M parameters cost ten times the vgg's compute, about
    15 minutes an epoch on this CPU. Plain convolutions only: TF 2.21's oneDNN backward pass of
    depthwise ones corrupts the heap here. Global average pooling before the classifier, so
    Grad-CAM reads the last block's output."""
    import keras

    inputs, x = _inputs_and_stem(augment, erasing)
    x = _conv_bn_relu(x, 32, "stem")
    for stage, filters in enumerate((32, 64, 128, 256)):
        for block in range(2):
            x = _basic_block(x, filters, 2 if stage and not block else 1, f"s{stage}b{block}")
    return keras.Model(inputs, _head(x, dropout), name="resnet")
