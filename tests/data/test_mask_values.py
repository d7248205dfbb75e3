"""``mask_values`` on the command line (``--mask-values``) and in :class:`RunConfig`."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from PIL import Image

from mtdl_kit import cli
from mtdl_kit.cli.arguments import mask_values
from mtdl_kit.data import read_mask
from mtdl_kit.experiments import RunConfig


def _display_masks(root) -> None:
    """Rewrite an eye folder's class-index masks as 0 / 128 (rim) / 255 (cup), as saved for display."""
    for path in sorted((root / "masks").glob("*.png")):
        mask = np.asarray(Image.open(path))
        Image.fromarray(np.select([mask == 1, mask == 2], [128, 255], 0).astype(np.uint8)).save(path)


def test_parse_mask_values():
    assert mask_values("255:1") == {255: 1}
    assert mask_values(" 255 : 2 , 128:1,0:0") == {255: 2, 128: 1, 0: 0}
    for bad in ("255", "255=1", "a:1", "255:1,", "255:-1", "1:2:3", "255:1,255:2", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            mask_values(bad)


def test_bad_mask_values_syntax_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["data", "check", str(tmp_path), "--region", "eye", "--mask-values", "255=1"])
    assert info.value.code == 2
    assert "STORED:CLASS" in capsys.readouterr().err


def test_read_mask_keeps_unmapped_values(files):
    path = files.png("m.png", np.array([[0, 255] * 8] * 16, np.uint8))
    assert set(np.unique(read_mask(path, num_classes=2, values={255: 1}).array)) == {0, 1}
    with pytest.raises(ValueError, match="after the value mapping"):
        read_mask(path, num_classes=2, values={0: 1})  # 255 stays 255: out of range


def test_data_check_and_train_with_mask_values(files, tmp_path, capsys):
    root = files.eye_folder(n=8)
    _display_masks(root)
    assert cli.main(["data", "check", str(root), "--region", "eye"]) == 1
    assert "out of range" in capsys.readouterr().out
    assert cli.main(["data", "check", str(root), "--region", "eye", "--mask-values", "128:1,255:2"]) == 0
    assert "OK" in capsys.readouterr().out

    argv = ["train", "--data-dir", str(root), "--region", "eye", "--mask-values", "128:1,255:2"]
    argv += [
        "--steps",
        "1",
        "--batch-size",
        "4",
        "--size",
        "32",
        "--width",
        "4",
        "--quiet",
        "--out",
        str(tmp_path / "r"),
    ]
    assert cli.main(argv) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["mask_values"] == {"128": 1, "255": 2}
    assert RunConfig(**config).mask_values == {128: 1, 255: 2}  # int keys restored from JSON
    assert cli.main([*argv[:5], *argv[7:]]) == 2  # without the mapping the masks are out of range
    assert "out of range" in capsys.readouterr().err


def test_run_config_validates_mask_values(files):
    root = str(files.eye_folder(n=4))
    RunConfig(region="eye", data_dir=root, mask_values={255: 1}).validate()
    for bad in ({}, {255: -1}, {255: 1.5}, {"x": 1}, [(255, 1)], {True: 1}):
        with pytest.raises(ValueError, match="mask_values"):
            RunConfig(region="eye", data_dir=root, mask_values=bad).validate()
    with pytest.raises(ValueError, match="data_dir"):
        RunConfig(region="eye", mask_values={255: 1}).validate()
