"""Does levelling the eye line before cropping cost or buy accuracy? A paired test on faces the model
never trained on, rendered into camera-sized frames.

    python scripts/measure_alignment.py --data ../shared/data/ckplus48/ckplus48.csv.gz

Each face (CK+48's 927 by default: report it, never tune on it) is upscaled to 160 px, its edges
replicated out to a 640x480 frame (a detector needs context around a tight crop), turned by 0 degrees
and by a random angle in +-25, found by a detector (Live's by default), cropped with and without the
eye keypoints, and read by the shipped model as Live reads it. Prints accuracy with and without
alignment for each set, McNemar's exact p on the faces both found, and how many were found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core.data.loading import load_dataset
from fer_core.evaluation.significance import describe_comparison, paired_comparison
from fer_core.inference.faces import DETECTORS, crop_face
from fer_core.inference.lighting import matched_to_equalised
from fer_core.inference.predictor import Predictor
from fer_core.paths import DEFAULT_MODEL_PATH

FACE_SIDE = 160


def frame_of(face: np.ndarray, degrees: float) -> np.ndarray:
    big = cv2.resize(face, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)
    top, left = (480 - FACE_SIDE) // 2, (640 - FACE_SIDE) // 2
    frame = cv2.copyMakeBorder(big, top, 480 - FACE_SIDE - top, left, 640 - FACE_SIDE - left, cv2.BORDER_REPLICATE)
    turn = cv2.getRotationMatrix2D((320, 240), degrees, 1.0)
    return cv2.cvtColor(cv2.warpAffine(frame, turn, (640, 480), borderMode=cv2.BORDER_REPLICATE), cv2.COLOR_GRAY2BGR)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a FER2013-layout file of faces the model never trained on")
    parser.add_argument("--split", default="", help="its split to use (default: every row)")
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--detector", default="blazeface", choices=list(DETECTORS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dataset = load_dataset(args.data)
    faces = dataset.split(args.split) if args.split else dataset
    predictor = Predictor.from_model(Path(args.model), detector=args.detector, use="live")
    rng = np.random.default_rng(args.seed)
    turns = {"upright": np.zeros(len(faces.labels)), "turned +-25 degrees": rng.uniform(-25, 25, len(faces.labels))}
    for name, angles in turns.items():
        kept, plain, aligned = [], [], []
        for index, (face, degrees) in enumerate(zip(faces.images, angles, strict=True)):
            frame = frame_of(face, float(degrees))
            found = predictor.detector.locate(frame)
            if not found:
                continue
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            crops = np.stack([crop_face(grey, found[0].box), crop_face(grey, found[0].box, eyes=found[0].eyes)])
            if predictor.equalise:  # as Live's predictor does for this model
                crops = np.stack([matched_to_equalised(crop, predictor.margin) for crop in crops])
            answers = predictor.classifier(crops).argmax(axis=1)
            kept.append(index)
            plain.append(answers[0])
            aligned.append(answers[1])
        labels = faces.labels[kept]
        comparison = paired_comparison(labels, np.array(aligned), np.array(plain))
        print(f"{name}: found {len(kept)} of {len(faces.labels)}; as boxed {np.mean(np.array(plain) == labels):.2%}, "
              f"aligned {np.mean(np.array(aligned) == labels):.2%}; {describe_comparison(comparison, 'aligned', 'as boxed')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
