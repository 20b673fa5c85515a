"""Parser fuzzing: whatever the bytes, the loader returns a dataset or a FerError, quickly."""

from __future__ import annotations

import time

import numpy as np
from conftest import pixel_string, random_faces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_core.data.loading import FerDataset, parse_csv_bytes
from fer_core.errors import FerError

VALID = ("emotion,pixels,Usage\n" + "\n".join(f"{i % 7},{pixel_string(img)},Training" for i, img in enumerate(random_faces(3)))).encode()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_refuse(data: bytes) -> FerDataset | None:
    started = time.perf_counter()
    try:
        result = parse_csv_bytes(data, name="fuzz.csv")
    except FerError as exc:
        assert str(exc).startswith("fuzz.csv") and "\n" not in str(exc)
        result = None
    assert time.perf_counter() - started < 10
    if result is not None:
        assert result.images.dtype == np.uint8 and result.images.shape[1:] == (48, 48)
        assert result.labels is None or ((result.labels >= 0) & (result.labels <= 6)).all()
    return result


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes(data: bytes) -> None:
    parse_or_refuse(data)


@FUZZ
@given(st.integers(min_value=0, max_value=len(VALID)))
def test_truncated_csv(cut: int) -> None:
    result = parse_or_refuse(VALID[:cut])
    if result is not None:  # only a cut at a row boundary can parse, and then only whole rows
        assert len(result) <= 3


@FUZZ
@given(st.sampled_from([b";", b"\t", b"|"]))
def test_wrong_delimiters(delimiter: bytes) -> None:
    assert parse_or_refuse(VALID.replace(b",", delimiter)) is None


@FUZZ
@given(st.sampled_from(["nan", "-1", "256", "1e3", "12.5", "", "0x10", "inf", "99999999999"]), st.integers(0, 2303))
def test_bad_pixel_values_name_their_row(value: str, position: int) -> None:
    pixels = pixel_string(random_faces(1)[0]).split(" ")
    pixels[position] = value
    data = f"emotion,pixels,Usage\n0,{pixel_string(random_faces(1, 5)[0])},Training\n1,{' '.join(pixels)},Training".encode()
    try:
        parse_csv_bytes(data, name="fuzz.csv")
    except FerError as exc:
        assert "row 2" in str(exc)
    else:
        raise AssertionError(f"{value!r} was accepted as a pixel")


@FUZZ
@given(st.sampled_from(["7", "-1", "3.5", "happy", "", "１"]))
def test_bad_labels_are_refused(label: str) -> None:
    data = f"emotion,pixels,Usage\n{label},{pixel_string(random_faces(1)[0])},Training".encode()
    assert parse_or_refuse(data) is None


@FUZZ
@given(st.sampled_from(["latin-1", "utf-16", "cp1252"]))
def test_other_encodings_parse_or_refuse(encoding: str) -> None:
    text = f"emotion,pixels,Usage\n0,{pixel_string(random_faces(1)[0])},Trainingé"
    parse_or_refuse(text.encode(encoding))


def test_a_huge_row_is_refused_with_its_pixel_count() -> None:
    data = ("emotion,pixels,Usage\n0," + " ".join(["7"] * 200_000) + ",Training").encode()
    try:
        parse_csv_bytes(data, name="fuzz.csv")
    except FerError as exc:
        assert "row 1: 200000 pixel values" in str(exc)
    else:
        raise AssertionError("a 200,000-pixel row was accepted")
