"""Dataset statistics keep FER order: classes 0-6 and Training before PublicTest."""

from __future__ import annotations

import numpy as np

from fer_core.data.loading import FerDataset
from fer_core.data.stats import class_balance
from fer_core.labels import CLASS_NAMES


def test_class_balance_table_keeps_class_and_split_order(faces) -> None:
    images, labels, usage = faces
    dataset = FerDataset(images, labels, np.array(usage))
    balance = class_balance(dataset)
    table = balance.pivot_table(index="class", columns="split", values="count", observed=False)
    assert list(table.columns) == ["Training", "PublicTest"]
    assert list(table.index) == list(CLASS_NAMES)
    assert table.loc["angry", "Training"] == 2 and table.loc["neutral", "PublicTest"] == 2
    percent = balance[balance["split"] == "PublicTest"]["percent"]
    assert percent.sum() == 100
