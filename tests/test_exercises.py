"""Every exercise check accepts the reference solution and rejects a wrong answer with its hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtdl_kit import exercises as ex
from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region


def _vertical(mask: np.ndarray) -> float:
    rows = np.flatnonzero(mask.any(axis=1))
    return float(rows[-1] - rows[0] + 1) if rows.size else 0.0


def test_pcgrad_accepts_reference(capsys: pytest.CaptureFixture[str]) -> None:
    ex.check_pcgrad_projection(ex.reference_pcgrad_projection)
    assert "✅" in capsys.readouterr().out


def test_pcgrad_rejects_unprojected_gradient() -> None:
    with pytest.raises(ex.ExerciseError, match="conflict"):
        ex.check_pcgrad_projection(lambda gi, gj: gi)


def test_pcgrad_rejects_norm_instead_of_squared_norm() -> None:
    def wrong(gi: torch.Tensor, gj: torch.Tensor) -> torch.Tensor:
        dot = torch.dot(gi, gj)
        return gi - dot / gj.norm() * gj if dot < 0 else gi

    with pytest.raises(ex.ExerciseError, match="squared norm"):
        ex.check_pcgrad_projection(wrong)


def test_pcgrad_rejects_always_projecting() -> None:
    with pytest.raises(ex.ExerciseError, match="unchanged"):
        ex.check_pcgrad_projection(lambda gi, gj: gi - torch.dot(gi, gj) / torch.dot(gj, gj) * gj)


def test_stub_error_propagates() -> None:
    def stub(gi: torch.Tensor, gj: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("Exercise: PCGrad")

    with pytest.raises(NotImplementedError):
        ex.check_pcgrad_projection(stub)


def test_cdr_accepts_reference(capsys: pytest.CaptureFixture[str]) -> None:
    ex.check_cdr_from_mask(lambda m: _vertical(m == 2) / _vertical(m >= 1))
    assert "✅" in capsys.readouterr().out


def test_cdr_rejects_horizontal_ratio() -> None:
    with pytest.raises(ex.ExerciseError, match="heights"):
        ex.check_cdr_from_mask(lambda m: _vertical((m == 2).T) / _vertical((m >= 1).T))


def test_cdr_rejects_area_ratio() -> None:
    with pytest.raises(ex.ExerciseError, match="vertical"):
        ex.check_cdr_from_mask(lambda m: float((m == 2).sum() / (m >= 1).sum()))


def _delta_m(mtl: dict[str, float], base: dict[str, float]) -> float:
    from mtdl_kit.metrics import higher_is_better

    terms = [(1 if higher_is_better(k) else -1) * (mtl[k] - base[k]) / base[k] * 100 for k in mtl]
    return float(np.mean(terms))


def test_delta_m_accepts_reference(capsys: pytest.CaptureFixture[str]) -> None:
    ex.check_delta_m(_delta_m)
    assert "✅" in capsys.readouterr().out


def test_delta_m_reference_matches_hand_value() -> None:
    # dice +5 %, auc -2.17 %, mae (lower is better) -25 % -> mean -7.39 %
    mtl, base = ex.DELTA_M_EXAMPLES[0]
    assert ex.reference_delta_m(mtl, base) == pytest.approx((5.0 - 100 * 0.02 / 0.92 - 25.0) / 3)


def test_delta_m_rejects_missing_sign_flip() -> None:
    def wrong(mtl: dict[str, float], base: dict[str, float]) -> float:
        return float(np.mean([(mtl[k] - base[k]) / base[k] * 100 for k in mtl]))

    with pytest.raises(ex.ExerciseError, match="lower is better"):
        ex.check_delta_m(wrong)


def test_delta_m_rejects_fraction() -> None:
    with pytest.raises(ex.ExerciseError, match="percentage"):
        ex.check_delta_m(lambda m, b: _delta_m(m, b) / 100)


def _shares(width: int) -> dict[str, float]:
    eye = get_region("eye")
    out = {}
    for family in ("parallel", "cascaded"):
        c = build_model(family, eye.tasks, eye.in_channels, width=width).parameter_count()
        out[family] = c["shared"] / c["total"]
    return out


def test_parameter_share_accepts_reference(capsys: pytest.CaptureFixture[str]) -> None:
    ex.check_family_parameter_share(_shares(8), width=8)
    assert "✅" in capsys.readouterr().out


def test_parameter_share_rejects_percentage() -> None:
    answer = {k: 100 * v for k, v in _shares(8).items() if k == "parallel"}
    with pytest.raises(ex.ExerciseError, match="not a percentage"):
        ex.check_family_parameter_share(answer, width=8)


def test_parameter_share_rejects_wrong_value() -> None:
    with pytest.raises(ex.ExerciseError, match="parameter_count"):
        ex.check_family_parameter_share({"cascaded": 0.5}, width=8)


def test_prediction(capsys: pytest.CaptureFixture[str]) -> None:
    assert ex.check_prediction("a", observed="a", options=("a", "b"))
    assert "✅" in capsys.readouterr().out
    assert not ex.check_prediction("b", observed="a", options=("a", "b"), explanation="because")
    assert "because" in capsys.readouterr().out
    with pytest.raises(ex.ExerciseError, match="one of"):
        ex.check_prediction(None, observed="a", options=("a", "b"))
    # strict: a deterministic fact answered wrongly fails the exercise
    assert ex.check_prediction("a", observed="a", options=("a", "b"), strict=True)
    with pytest.raises(ex.ExerciseError, match="computation gives 'a'"):
        ex.check_prediction("b", observed="a", options=("a", "b"), explanation="because", strict=True)
