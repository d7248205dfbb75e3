"""The registry: names, the info table, and every refusal at construction time."""

from __future__ import annotations

import pytest
from torch import nn
from weighting_toys import NoFeaturesNet, NoSharedNet, PlainNet, ToyNet

from mtdl_kit.weighting import (
    WEIGHTING_INFO,
    Weighting,
    accepted_options,
    available_weightings,
    build_weighting,
    weighting_class,
)

LOSS = ("ew", "fixed", "uw", "dwa", "rlw", "gradnorm")
GRADIENT = ("upgrad", "mgda", "pcgrad", "cagrad", "imtl_g", "aligned_mtl", "nash_mtl")
TASKS = ("seg", "cls", "reg")


def _options(name: str) -> dict:
    return {"weights": dict.fromkeys(TASKS, 1.0)} if name == "fixed" else {}


def test_names_and_order():
    assert available_weightings() == LOSS + GRADIENT
    assert tuple(WEIGHTING_INFO) == available_weightings()


@pytest.mark.parametrize("name", LOSS + GRADIENT)
def test_info_matches_the_class(name):
    info = WEIGHTING_INFO[name]
    cls = weighting_class(name)
    assert info.name == cls.name == name
    assert info.kind == cls.kind and info.levels == cls.levels
    assert info.citation and info.description and info.title
    assert issubclass(cls, Weighting) and cls.__doc__ and len(cls.__doc__) > 200  # geometry, citation, needs
    w = build_weighting(name, TASKS, model=ToyNet(), **_options(name))
    assert w.needs == info.needs
    assert info.kind == ("gradient" if name in GRADIENT else "loss")
    assert info.levels == (("parameters", "features") if name in GRADIENT else ("parameters",))


@pytest.mark.parametrize("name", GRADIENT)
def test_needs_follows_the_level(name):
    assert build_weighting(name, TASKS, model=ToyNet()).needs == "shared_parameters"
    assert build_weighting(name, TASKS, model=ToyNet(), level="features").needs == "shared_features"


def test_names_are_forgiving_about_case_and_dashes():
    assert isinstance(build_weighting("Aligned-MTL", TASKS, model=ToyNet()), weighting_class("aligned_mtl"))


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="Unknown weighting 'famo'") as err:
        build_weighting("famo", TASKS, model=ToyNet())
    for name in available_weightings():
        assert name in str(err.value)


def test_unknown_option_lists_the_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['alhpa'\].*'alpha'"):
        build_weighting("gradnorm", TASKS, model=ToyNet(), alhpa=1.0)
    with pytest.raises(ValueError, match="Accepted options: none"):
        build_weighting("ew", TASKS, model=ToyNet(), temperature=2.0)
    assert accepted_options("cagrad") == ("c", "parallel_chunk_size", "batched", "jacobian")


@pytest.mark.parametrize("name", [n for n in LOSS + GRADIENT if n != "ew"])
def test_fewer_than_two_tasks_is_refused(name):
    with pytest.raises(ValueError, match=f"{name} balances several tasks.*'ew'"):
        build_weighting(name, ["seg"], model=ToyNet(("seg",)), **({"weights": {"seg": 1.0}} if name == "fixed" else {}))


def test_ew_accepts_one_task_and_rejects_duplicates():
    assert build_weighting("ew", ["seg"], model=None).num_tasks == 1
    with pytest.raises(ValueError, match="duplicate"):
        build_weighting("ew", ["seg", "seg"], model=None)
    with pytest.raises(ValueError, match="sequence of task names"):
        build_weighting("ew", "seg", model=None)


@pytest.mark.parametrize("name", LOSS)
def test_loss_based_methods_refuse_the_feature_level(name):
    with pytest.raises(ValueError, match=f"{name} does not support level='features'.*toy model.*level='parameters'"):
        build_weighting(name, TASKS, model=ToyNet(), level="features", **_options(name))


def test_unknown_level():
    with pytest.raises(ValueError, match="unknown level 'rep'"):
        build_weighting("upgrad", TASKS, model=ToyNet(), level="rep")


@pytest.mark.parametrize("name", [*GRADIENT, "gradnorm"])
def test_methods_needing_shared_layers_refuse_a_cascaded_model(name):
    with pytest.raises(ValueError) as err:
        build_weighting(name, TASKS, model=NoSharedNet())
    message = str(err.value)
    assert name in message and "cascaded" in message and "'uw'" in message  # method, model, fix


@pytest.mark.parametrize("name", [*GRADIENT, "gradnorm"])
def test_methods_needing_the_protocol_refuse_other_models(name):
    for model in (PlainNet(), None):
        with pytest.raises(ValueError, match=f"{name}.*shared_parameters"):
            build_weighting(name, TASKS, model=model)


@pytest.mark.parametrize("name", GRADIENT)
def test_feature_level_needs_a_model_with_features(name):
    with pytest.raises(ValueError, match=f"{name} with level='features'.*NoFeaturesNet.*level='parameters'"):
        build_weighting(name, TASKS, model=NoFeaturesNet(), level="features")
    build_weighting(name, TASKS, model=NoFeaturesNet())  # the parameter level works without features


def test_loss_based_methods_work_on_any_model():
    for name in ("ew", "uw", "dwa", "rlw"):
        for model in (NoSharedNet(), PlainNet(), None):
            assert build_weighting(name, TASKS, model=model).needs == "losses"


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (None, "fixed needs weights="),
        ({"seg": 1.0, "cls": 1.0}, r"missing \['reg'\]"),
        ({"seg": 1.0, "cls": 1.0, "reg": 1.0, "dice": 1.0}, r"unknown \['dice'\]"),
        ({"seg": 1.0, "cls": -0.5, "reg": 1.0}, "finite and >= 0.*'cls': -0.5"),
        ({"seg": 1.0, "cls": float("nan"), "reg": 1.0}, "finite and >= 0"),
        ({"seg": 0.0, "cls": 0.0, "reg": 0.0}, "all weights are zero"),
    ],
)
def test_fixed_weights_are_validated(weights, message):
    options = {} if weights is None else {"weights": weights}
    with pytest.raises(ValueError, match=message):
        build_weighting("fixed", TASKS, model=None, **options)


def test_option_values_are_validated():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        build_weighting("dwa", TASKS, model=None, temperature=0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        build_weighting("gradnorm", TASKS, model=ToyNet(), alpha=-1)
    with pytest.raises(ValueError, match="c must be >= 0"):
        build_weighting("cagrad", TASKS, model=ToyNet(), c=-0.1)
    with pytest.raises(ValueError, match="preference must give a positive weight"):
        build_weighting("upgrad", TASKS, model=ToyNet(), preference={"seg": 1.0})
    with pytest.raises(ValueError, match="scale_mode"):
        build_weighting("aligned_mtl", TASKS, model=ToyNet(), scale_mode="max")
    with pytest.raises(ValueError, match="not a trainable shared parameter"):
        build_weighting("gradnorm", TASKS, model=ToyNet(), layer="heads.cls.weight")


def test_nash_mtl_refuses_to_run_without_ecos(monkeypatch):
    import cvxpy

    monkeypatch.setattr(cvxpy, "installed_solvers", lambda: ["CLARABEL", "SCS"])
    with pytest.raises(ImportError, match=r'ECOS.*pip install "torchjd\[nash-mtl\]"'):
        build_weighting("nash_mtl", TASKS, model=ToyNet())


def test_cagrad_refuses_to_run_without_clarabel(monkeypatch):
    import cvxpy

    monkeypatch.setattr(cvxpy, "installed_solvers", lambda: ["ECOS"])
    with pytest.raises(ImportError, match=r'CLARABEL.*pip install "torchjd\[cagrad\]"'):
        build_weighting("cagrad", TASKS, model=ToyNet())


def test_weighting_parameters_never_include_the_model():
    model = ToyNet()
    for name in available_weightings():
        w = build_weighting(name, TASKS, model=model, **_options(name))
        own = list(w.parameters())
        assert all(all(p is not q for q in model.parameters()) for p in own)
        assert sum(p.numel() for p in own) == (3 if name == "uw" else 0)
        assert isinstance(w, nn.Module) and w.model is model


def test_build_aggregator_serves_gradient_methods_only() -> None:
    import torch
    from torchjd.aggregation import UPGrad

    from mtdl_kit.weighting import build_aggregator

    assert isinstance(build_aggregator("upgrad"), UPGrad)
    jac = torch.tensor([[1.0, 0.0], [-0.5, 1.0]])
    assert (jac @ build_aggregator("mgda")(jac) >= -1e-6).all()
    with pytest.raises(ValueError, match="loss weighting"):
        build_aggregator("uw")
    with pytest.raises(ValueError, match="Unknown weighting"):
        build_aggregator("nope")
    with pytest.raises(ValueError, match="scale_mode"):
        build_aggregator("aligned_mtl", scale_mode="max")
