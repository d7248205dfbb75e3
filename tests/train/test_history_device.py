from __future__ import annotations

import math

import pytest
import torch

from mtdl_kit.device import pick_device, pick_precision
from mtdl_kit.history import History


def test_history_series_last_and_round_trip(tmp_path):
    h = History(config={"a": 1})
    h.add_many(0, 0, "loss", {"x": 2.0, "y": 3.0})
    h.add(1, 0, "loss", "x", 1.5)
    assert h.series("loss", "x") == [(0, 2.0), (1, 1.5)]
    assert h.last("loss", "y") == 3.0 and math.isnan(h.last("loss", "z"))
    assert h.steps == 2 and h.names("loss") == ["x", "y"]
    h.save(tmp_path / "h.json")
    again = History.load(tmp_path / "h.json")
    assert again.rows == h.rows and again.config == h.config
    with pytest.raises(ValueError, match="allowed kinds"):
        h.add(0, 0, "bogus", "x", 1.0)


def test_device_auto_is_cpu_here_and_bad_names_fail():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert pick_device("auto").type == expected
    with pytest.raises(ValueError, match="allowed values"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")


def test_precision():
    cpu = torch.device("cpu")
    assert pick_precision(cpu).label == "fp32"
    assert pick_precision(cpu, amp=False).label == "fp32"
    with pytest.raises(ValueError, match="CUDA"):
        pick_precision(cpu, amp=True)
    if torch.cuda.is_available():
        assert pick_precision(torch.device("cuda")).label in ("bf16", "fp16")
