"""Figures readable at 1024 px: log axes labelled with values, heatmap numbers large enough, no note over curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtdl_kit.history import History
from mtdl_kit.viz import crossover_seed_figure, heatmap_figure, history_figure, log_ticks


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


def _crossover_table() -> pd.DataFrame:
    cols = [f"{r}:{a}" for r in "AB" for a in ("none", "related", "unrelated", "shuffled")]
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        rng.uniform(0.4, 1.0, size=(3, len(cols))), index=pd.Index([0, 1, 2], name="seed"), columns=cols
    )
    table.attrs["metric"] = "auc"
    return table


def test_crossover_figure_pairs_each_seed_within_each_rule():
    table = _crossover_table()
    fig = crossover_seed_figure(table)
    assert [a.text for a in fig.layout.annotations] == ["rule A", "rule B"]
    seeds = [t for t in fig.data if t.name.startswith("seed")]
    assert len(seeds) == 2 * len(table)  # one line per seed per rule
    first = seeds[0]
    assert list(first.x) == ["unrelated", "related"]
    assert list(first.y) == [table.loc[0, "A:unrelated"], table.loc[0, "A:related"]]
    assert sum(t.showlegend for t in seeds) == len(table)  # one legend entry per seed, not per panel
    means = [t for t in fig.data if t.name == "mean over seeds"]
    assert means[1].y[1] == pytest.approx(table["B:related"].mean())
    assert "chance" in fig.layout.yaxis.title.text and fig.layout.shapes  # the 0.5 line is explained on the axis
    assert "#000000" not in {t.line.color for t in seeds}  # black marks the mean only


def test_crossover_figure_refuses_missing_arms():
    with pytest.raises(ValueError, match="B:related"):
        crossover_seed_figure(_crossover_table().drop(columns="B:related"))


def test_contrast_figure_marks_each_verdict_by_colour_and_shape():
    import pandas as pd

    from mtdl_kit.viz import VERDICT_COLOURS, contrast_figure

    frame = pd.DataFrame(
        {
            "condition": ["uw-raw", "dwa-raw", "gradnorm-raw"],
            "value": [12.0, -0.2, -2.0],
            "ci_low": [8.0, -1.0, -3.0],
            "ci_high": [15.0, 0.7, -1.0],
            "verdict": ["better", "no detectable difference", "worse"],
        }
    )
    fig = contrast_figure(frame, label="condition", unit="mm")
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == set(VERDICT_COLOURS)
    better = by_name["better"]
    assert list(better.y) == ["uw-raw"] and better.marker.symbol == "triangle-up"
    assert list(better.error_x.array) == [3.0] and list(better.error_x.arrayminus) == [4.0]
    assert by_name["worse"].marker.symbol == "triangle-down"
    assert fig.layout.yaxis.categoryarray == ("gradnorm-raw", "dwa-raw", "uw-raw")  # first row on top
    assert "(mm)" in fig.layout.xaxis.title.text
    with pytest.raises(ValueError, match="missing \\['verdict'\\]"):
        contrast_figure(frame.drop(columns="verdict"), label="condition")
