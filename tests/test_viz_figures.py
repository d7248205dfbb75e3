"""Figures readable at 1024 px: log axes labelled with values, heatmap numbers large enough, no note over curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtdl_kit.history import History
from mtdl_kit.viz import heatmap_figure, history_figure, log_ticks


def test_log_ticks_carry_values_even_within_one_decade():
    assert log_ticks(0.6, 0.95) == [0.6, 0.7, 0.8, 0.9]  # not plotly's bare "6, 7, 8, 9"
    assert log_ticks(0.05, 3.2) == [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match="0 < low <= high"):
        log_ticks(0.0, 1.0)


def _history() -> History:
    h = History()
    for step in range(30):
        h.add(step, 0, "loss", "tumour", 0.9 - 0.01 * step)
        h.add(step, 0, "loss", "grade", 0.7 - 0.005 * step)
        h.add(step, 0, "cosine", "tumour|grade", 0.2 - 0.02 * step)
    return h


def test_loss_axis_is_log_with_full_value_labels():
    fig = history_figure(_history(), "loss")
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.ticktext) == ["0.6", "0.7", "0.8", "0.9"]


def test_conflict_is_explained_in_the_axis_title_not_over_the_curves():
    fig = history_figure(_history(), "cosine")
    assert "conflict" in fig.layout.yaxis.title.text
    assert not [a for a in fig.layout.annotations if "conflict" in (a.text or "")]


def test_heatmap_numbers_are_readable():
    names = [f"task {i}" for i in range(8)]
    matrix = pd.DataFrame(np.eye(8), index=names, columns=names)
    fig = heatmap_figure(matrix, title="Spearman")
    assert fig.data[0].textfont.size >= 12 and fig.layout.height >= 140 + 48 * 8
    assert fig.data[0].text[0][0] == "1.00"
