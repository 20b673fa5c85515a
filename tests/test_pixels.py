"""The byte-arithmetic pixel parser: same faces as reading each number, across blocks and layouts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fer_core.data.pixels import PIXELS_PER_IMAGE, ROWS_PER_BLOCK, parse_pixel_column
from fer_core.errors import FerError


def _rows(faces: np.ndarray, separators: tuple[str, ...] = (" ",), seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    rows = []
    for face in faces.reshape(len(faces), -1):
        gaps = rng.choice(separators, size=len(face))
        rows.append("".join(f"{value}{gap}" for value, gap in zip(face.tolist(), gaps, strict=True)).rstrip())
    return rows


def test_faces_over_several_blocks_and_chunks_come_back_exactly() -> None:
    faces = np.random.default_rng(1).integers(0, 256, size=(2 * ROWS_PER_BLOCK + 7, 48, 48), dtype=np.uint8)
    faces[0, 0, :3] = (0, 9, 255)  # one, two and three digits side by side
    rows = _rows(faces, separators=(" ", "  ", "\t"))
    chunked = pa.chunked_array([rows[:100], rows[100:]])  # pyarrow splits big files into chunks
    np.testing.assert_array_equal(parse_pixel_column(chunked), faces)
    np.testing.assert_array_equal(parse_pixel_column(pa.array([" " + row + " " for row in rows])), faces)  # padded rows


@pytest.mark.parametrize(
    ("token", "message"),
    [("4294967296", "pixel value 4294967296 is outside 0-255"),  # int32 parsing once read it as 0
     ("256", "pixel value 256 is outside 0-255"), ("0x3", "'0x3' found"), ("1.5", "'1.5' found"), ("+7", "'+7' found"),
     ("0007", "'0007' found")],
)
def test_a_bad_value_deep_in_the_file_names_its_row(token: str, message: str) -> None:
    rows = _rows(np.zeros((300, 48, 48), np.uint8))
    rows[290] = token + rows[290][1:]
    with pytest.raises(FerError, match=f"row 291: .*{message.replace('.', '[.]').replace('+', '[+]')}"):
        parse_pixel_column(pa.array(rows), name="big.csv")


def test_a_row_with_the_wrong_count_is_named_even_when_a_neighbour_makes_up_for_it() -> None:
    rows = _rows(np.zeros((3, 48, 48), np.uint8))
    rows[1], rows[2] = rows[1] + " 5", rows[2][2:]  # one value moved from row 3 to row 2: the block total still fits
    with pytest.raises(FerError, match=f"row 2: {PIXELS_PER_IMAGE + 1} pixel values"):
        parse_pixel_column(pa.array(rows))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.sampled_from([" ", "  ", " \t", "\t"]), st.integers(0, 255))
def test_any_valid_rows_parse_to_their_numbers(seed: int, count: int, gap: str, edge: int) -> None:
    values = np.random.default_rng(seed).integers(0, 256, size=(count, PIXELS_PER_IMAGE))
    values[0, [0, -1]] = edge  # hypothesis steers the first and last value of a row, where rows meet
    rows = [gap.join(map(str, row)) for row in values.tolist()]
    np.testing.assert_array_equal(parse_pixel_column(pa.array(rows)).reshape(count, -1), values.astype(np.uint8))


def test_a_first_parse_reports_rows_and_how_much_of_the_file_is_read(tmp_path) -> None:
    from conftest import write_fer_csv

    from fer_core.data.loading import load_dataset

    faces = np.random.default_rng(2).integers(0, 256, size=(2000, 48, 48), dtype=np.uint8)
    path = write_fer_csv(tmp_path / "fer2013.csv", faces, np.zeros(2000, int), ["Training"] * 2000)  # 18 MB: three blocks
    seen: list[tuple[int, float]] = []
    load_dataset(path, use_cache=False, on_progress=lambda rows, share: seen.append((rows, share)))
    assert len(seen) >= 2 and [rows for rows, _ in seen] == sorted(rows for rows, _ in seen) and seen[-1][0] == 2000
    shares = [share for _, share in seen]
    assert shares == sorted(shares) and shares[0] > 0 and shares[-1] == pytest.approx(1.0)  # pyarrow reads ahead: a small file is read at once
