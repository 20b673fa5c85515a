"""Predictor: cropping, classification of every face, smoothing, the live processor, Grad-CAM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import paste_face

from fer_core.explain.gradcam import grad_cam, overlay
from fer_core.inference.faces import Detection, HaarDetector, crop_face
from fer_core.inference.live import LiveProcessor
from fer_core.inference.predictor import FaceResult, Predictor, ProbabilitySmoother
from fer_core.labels import CLASS_NAMES
from fer_core.nets.classifiers import FastClassifier, load_classifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tiny_model_file: Path):
    return load_classifier(tiny_model_file)


@pytest.fixture(scope="module")
def predictor(model) -> Predictor:
    return Predictor(FastClassifier(model), HaarDetector())


def test_crop_is_48x48_even_at_the_border() -> None:
    grey = np.arange(100 * 120, dtype=np.uint32).reshape(100, 120).astype(np.uint8)
    assert crop_face(grey, (0, 0, 30, 30)).shape == (48, 48)
    assert crop_face(grey, (100, 80, 40, 40)).shape == (48, 48)
    centre = crop_face(grey, (40, 30, 48, 48), margin=0.0)
    np.testing.assert_array_equal(centre, grey[30:78, 40:88])


def test_every_face_gets_probabilities_in_fer_order(predictor: Predictor, real_faces: np.ndarray) -> None:
    frame = np.full((480, 640, 3), 100, np.uint8)
    paste_face(frame, real_faces[0], 220, 140, 200)
    faces = predictor.predict(frame)
    assert len(faces) == 1
    face = faces[0]
    assert face.probabilities.shape == (7,) and abs(float(face.probabilities.sum()) - 1) < 1e-4
    assert face.label in CLASS_NAMES and face.crop.shape == (48, 48)
    payload = json.loads(json.dumps(face.to_dict()))
    assert list(payload["probabilities"]) == list(CLASS_NAMES) and len(payload["box"]) == 4


def test_photo_mode_classifies_a_face_crop_with_no_detection(predictor: Predictor) -> None:
    flat = np.full((60, 60, 3), 128, np.uint8)
    assert predictor.predict(flat) == []
    faces = predictor.predict(flat, photo=True)
    assert len(faces) == 1 and faces[0].box == (0, 0, 60, 60)


def test_a_photo_taken_whole_is_cropped_as_it_is_framed(predictor: Predictor) -> None:
    """No margin around an image that is the face: widening it shrank the face (-2.2 points)."""
    gradient = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (48, 1))  # no face for any detector
    face = predictor.predict(gradient, photo=True)[0]
    assert face.box == (0, 0, 48, 48)
    np.testing.assert_array_equal(face.crop, gradient)  # with a margin, replicated edges would widen it


def test_at_most_max_faces_are_classified(model, real_faces: np.ndarray) -> None:
    class ManyFaces:
        name = "many"

        def detect(self, image: np.ndarray) -> list:
            return [(i * 20, 0, 20, 20) for i in range(25)]

        def locate(self, image: np.ndarray) -> list[Detection]:
            return [Detection(box) for box in self.detect(image)]

    predictor = Predictor(FastClassifier(model), ManyFaces(), max_faces=20)
    assert len(predictor.predict(np.zeros((100, 600, 3), np.uint8))) == 20


def test_smoothing_averages_a_tracked_face_but_not_a_new_one() -> None:
    smoother = ProbabilitySmoother(alpha=0.5)
    first = np.eye(7)[3]
    second = np.eye(7)[0]
    smoother([FaceResult((10, 10, 50, 50), first.copy(), np.zeros((48, 48)))])
    same_place = smoother([FaceResult((12, 10, 50, 50), second.copy(), np.zeros((48, 48)))])[0]
    np.testing.assert_allclose(same_place.probabilities, 0.5 * first + 0.5 * second)
    elsewhere = smoother([FaceResult((400, 300, 50, 50), second.copy(), np.zeros((48, 48)))])[0]
    np.testing.assert_allclose(elsewhere.probabilities, second)


def test_live_processor_draws_on_a_copy_and_reports_timing(predictor: Predictor, real_faces: np.ndarray) -> None:
    processor = LiveProcessor(predictor, smoothing=True)
    frame = np.full((480, 640, 3), 100, np.uint8)
    paste_face(frame, real_faces[0], 220, 140, 200)
    original = frame.copy()
    for _ in range(3):
        annotated = processor.process(frame)
    np.testing.assert_array_equal(frame, original)
    assert not np.array_equal(annotated, frame)  # boxes were drawn
    snapshot = processor.latest()
    assert snapshot is not None and len(snapshot.faces) == 1
    timing = processor.timing()
    assert timing["frames"] == 3 and timing["median_ms"] > 0


def test_a_mirroring_live_processor_shows_the_face_where_a_mirror_would(predictor: Predictor, real_faces: np.ndarray) -> None:
    frame = np.full((480, 640, 3), 100, np.uint8)
    paste_face(frame, real_faces[0], 40, 140, 200)  # on the camera's left
    processor = LiveProcessor(predictor, smoothing=False, mirror=True)
    processor.process(frame)
    (x, _, w, _), = [face.box for face in processor.latest().faces]
    assert x + w / 2 > 320  # on the right of what is shown, labels drawn on the mirrored frame
    np.testing.assert_array_equal(processor.latest().frame, frame[:, ::-1])
    processor.configure(predictor, smoothing=False, mirror=False)
    processor.process(frame)
    (x, _, w, _), = [face.box for face in processor.latest().faces]
    assert x + w / 2 < 320


def test_grad_cam_is_a_normalised_48x48_map(model, real_faces: np.ndarray) -> None:
    heat = grad_cam(model, real_faces[0])
    assert heat.shape == (48, 48) and heat.min() >= 0 and heat.max() <= 1
    picture = overlay(real_faces[0], heat)
    assert picture.shape == (192, 192, 3) and picture.dtype == np.uint8


def test_grad_cam_reads_the_last_full_resolution_map_of_each_architecture() -> None:
    """Pooling and dropout only shrink or mask the map: the layer before them is the one to read."""
    from fer_core.explain.gradcam import _last_feature_layer
    from fer_core.nets.architectures import build_model

    chosen = {arch: _last_feature_layer(build_model(arch)).name for arch in ("tiny", "vgg", "vgg_wide", "mini_xception", "resnet")}
    assert chosen == {"tiny": "b2_relu", "vgg": "b3b_relu", "vgg_wide": "b3b_relu", "mini_xception": "x3_add",
                      "resnet": "s3b1_out"}


def test_the_shipped_model_always_shows_where_its_answer_came_from(real_faces: np.ndarray) -> None:
    """Classic Grad-CAM left 103 of 150 PublicTest maps of the shipped ensemble blank for the
    predicted class (its flattening head makes the position-averaged weights negative)."""
    from fer_core.paths import DEFAULT_MODEL_PATH

    shipped = load_classifier(DEFAULT_MODEL_PATH)
    maps = [grad_cam(shipped, face) for face in real_faces[:12]]
    assert all(heat.max() == 1.0 for heat in maps)  # scaled to its peak: a blank map stays at 0
    assert np.std([heat.ravel() for heat in maps], axis=0).mean() > 0.05  # the maps follow the faces, not one fixed blob


def test_feature_maps_show_each_block_strongest_channel_first(model, real_faces: np.ndarray) -> None:
    from fer_core.explain.feature_maps import block_layers, feature_maps, maps_strip
    from fer_core.nets.architectures import build_model

    sizes = {arch: [tuple(layer.output.shape[1:3]) for layer in block_layers(build_model(arch))]
             for arch in ("tiny", "vgg", "mini_xception")}
    assert sizes["vgg"] == [(48, 48), (24, 24), (12, 12), (6, 6)]
    assert all(s == sorted(s, reverse=True) and len(s) == len(set(s)) for s in sizes.values())  # one per size, shrinking
    blocks, nets = feature_maps(model, real_faces[0], per_block=5)
    assert nets == 1 and all(len(block.maps) == 5 for block in blocks)
    for block in blocks:
        assert block.maps.min() >= 0 and block.maps.max() <= 1
        assert list(block.activity) == sorted(block.activity, reverse=True)
    strip = maps_strip(blocks[0], tile=40, gap=2)
    assert strip.shape == (40, 5 * 42 - 2) and strip.dtype == np.uint8


def test_feature_maps_need_a_convolutional_net() -> None:
    import keras

    from fer_core.explain.feature_maps import feature_maps

    dense = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    with pytest.raises(ValueError, match="no convolutional feature map"):
        feature_maps(dense, np.zeros((48, 48), np.uint8))


def test_batched_grad_cam_equals_one_face_at_a_time(model, real_faces: np.ndarray) -> None:
    from fer_core.explain.gradcam import grad_cams

    classes = np.arange(len(real_faces)) % 7
    batched = grad_cams(model, real_faces, classes, batch_size=3)  # batches that do not divide the faces
    single = np.stack([grad_cam(model, face, int(c)) for face, c in zip(real_faces, classes, strict=True)])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_class_attention_averages_random_correct_faces_per_class(model, real_faces: np.ndarray) -> None:
    from fer_core.explain.gradcam import class_attention

    faces = np.concatenate([real_faces] * 4)
    labels = np.arange(len(faces)) % 7
    probabilities = np.full((len(faces), 7), 0.01)
    probabilities[np.arange(len(faces)), labels] = np.linspace(0.3, 0.9, len(faces))  # all correct, rising confidence
    probabilities[labels == 6, 0] = 0.95  # every 'neutral' face wrong
    attention = class_attention(model, faces, labels, probabilities, per_class=2, seed=1)
    assert [item["faces"] for item in attention] == [2] * 6 + [0]
    assert [item["correct"] for item in attention] == [int((labels == c).sum()) for c in range(6)] + [0]
    assert all(item["heat"].min() >= 0 and item["heat"].max() <= 1 and item["heat"].shape == (48, 48) for item in attention)
    assert not attention[6]["heat"].any()  # no correct face, no map


def test_a_tracked_face_keeps_its_answer_through_a_near_tie_and_changes_on_a_clear_lead() -> None:
    """One answer per face: the video and the page show different frames, so a top class that flips
    on every near-tie frame made them disagree (angry 35 % on the video, sad 34 % in the heading)."""
    smoother = ProbabilitySmoother(alpha=1.0)  # no averaging: only the holding is under test

    def frame(angry: float, sad: float) -> FaceResult:
        probabilities = np.full(7, (1 - angry - sad) / 5, np.float32)
        probabilities[0], probabilities[4] = angry, sad
        return FaceResult((10, 10, 50, 50), probabilities, np.zeros((48, 48), np.uint8))

    assert smoother([frame(0.30, 0.40)])[0].label == "sad"
    held = smoother([frame(0.35, 0.34)])[0]
    assert held.label == "sad" and held.confidence == pytest.approx(0.34)  # angry leads by 1 point: not enough
    assert smoother([frame(0.40, 0.30)])[0].label == "angry"  # a clear lead wins
    moved = smoother([FaceResult((300, 300, 50, 50), frame(0.35, 0.34).probabilities, np.zeros((48, 48), np.uint8))])[0]
    assert moved.label == "angry"  # another face (no overlap) starts from its own top class
