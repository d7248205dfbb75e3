from __future__ import annotations

import numpy as np
import pytest

from mtdl_kit import cli
from mtdl_kit.palette import OKABE_ITO, hex_to_rgb
from mtdl_kit.regions import REGION_NAMES, get_region
from mtdl_kit.viz import gallery_figure, overlay


def test_overlay_truth_outline_prediction_fill():
    img = np.zeros((1, 32, 32), np.float32)
    truth = np.zeros((32, 32), np.int64)
    truth[8:24, 8:24] = 1
    out = overlay(img, truth=truth, prediction=truth, opacity=1.0)
    colour = hex_to_rgb(OKABE_ITO[0])
    assert tuple(out[8, 8]) == colour  # outline pixel
    assert tuple(out[16, 16]) == colour  # fully opaque fill inside
    out = overlay(img, truth=truth, opacity=0.0)
    assert tuple(out[16, 16]) == (0, 0, 0)  # no fill without a prediction
    assert tuple(out[8, 16]) == colour
    with pytest.raises(ValueError, match="opacity"):
        overlay(img, truth=truth, opacity=2)


def test_gallery_has_one_panel_per_region():
    items = [(get_region(n), get_region(n).sample(1, size=64)) for n in REGION_NAMES]
    fig = gallery_figure(items)
    assert len(fig.data) == len(REGION_NAMES)
    titles = [a.text for a in fig.layout.annotations]
    for n in REGION_NAMES:
        assert any(get_region(n).title.partition(" — ")[0] in t for t in titles)


def test_cli_gallery_html_and_bad_region(tmp_path, capsys):
    assert cli.main(["gallery", "--out", str(tmp_path / "g.html"), "--size", "64", "--cdn"]) == 0
    assert (tmp_path / "g.html").stat().st_size > 1000
    with pytest.raises(SystemExit):
        cli.main(["gallery", "--regions", "liver"])
    assert "allowed" in capsys.readouterr().err
    assert cli.main(["gallery", "--out", str(tmp_path / "g.txt")]) == 2
    assert "must end in" in capsys.readouterr().err


def test_cli_samples_write_and_verify(tmp_path):
    assert cli.main(["samples", "--regions", "eye", "--out", str(tmp_path), "--quiet"]) == 0
    assert cli.main(["samples", "--regions", "eye", "--out", str(tmp_path), "--verify"]) == 0


def test_readme_region_table_is_current():
    from pathlib import Path

    from mtdl_kit.regions.base import regions_markdown_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert regions_markdown_table() in readme, "regenerate with `mtdl-kit regions --markdown`"
