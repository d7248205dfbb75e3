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
    from mtdl_kit.exercises.families import DELTA_M_EXAMPLES

    mtl, base = DELTA_M_EXAMPLES[0]
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


# ------------------------------------------------------------------ the region lessons' label rule
#: the solution of exercise 2 of each region lesson (notebooks/10_brain.py ... 17_other.py)
RULES = {
    "brain": lambda m: int(m["necrotic_share"] > 0.2),
    "eye": lambda m: int(m["cdr"] > 0.6),
    "chest": lambda m: int(m["ctr"] > 0.5),
    "cardiac": lambda m: 0 if m["remodelling_index"] < 2.4 else 2 if m["remodelling_index"] > 3.6 else 1,
    "abdomen": lambda m: int(m["solid_share"] > 0.5),
    "musculoskeletal": lambda m: sum(m["jsw_medial"] < t for t in (4.5, 3.5, 2.5, 1.5)),
    "pathology": lambda m: 0 if m["mean_nuclear_area_um2"] < 45 else 1 if m["mean_nuclear_area_um2"] < 75 else 2,
    "other": lambda m: int(1.3 * m["asymmetry"] + 0.1 * m["border"] + 0.5 * m["diameter_score"] > 3.95),
}

#: a plausible mistake per region: a threshold in the wrong place
WRONG_THRESHOLD = {
    "brain": lambda m: int(m["necrotic_share"] > 0.3),
    "eye": lambda m: int(m["cdr"] > 0.5),
    "chest": lambda m: int(m["ctr"] > 0.55),
    "cardiac": lambda m: 0 if m["remodelling_index"] < 2.0 else 2 if m["remodelling_index"] > 3.6 else 1,
    "abdomen": lambda m: int(m["solid_share"] > 0.6),
    "musculoskeletal": lambda m: sum(m["jsw_medial"] < t for t in (5.0, 4.0, 3.0, 2.0)),
    "pathology": lambda m: 0 if m["mean_nuclear_area_um2"] < 55 else 1 if m["mean_nuclear_area_um2"] < 75 else 2,
    "other": lambda m: int(1.3 * m["asymmetry"] + 0.1 * m["border"] + 0.5 * m["diameter_score"] > 3.5),
}


@pytest.mark.parametrize("region", sorted(RULES))
def test_region_rule_accepts_the_lesson_solution(region: str, capsys: pytest.CaptureFixture[str]) -> None:
    ex.check_region_rule(RULES[region], region=region)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("region", sorted(RULES))
def test_region_rule_rejects_a_wrong_threshold(region: str) -> None:
    rule = get_region(region).coupling.rule
    with pytest.raises(ex.ExerciseError, match="the rule at relatedness 1 is") as info:
        ex.check_region_rule(WRONG_THRESHOLD[region], region=region)
    assert rule in str(info.value), "the hint quotes the region's own rule"


@pytest.mark.parametrize("region", sorted(RULES))
def test_region_rule_rejects_a_constant_and_reversed_classes(region: str) -> None:
    n = get_region(region).task(get_region(region).coupling.classification).num_outputs
    with pytest.raises(ex.ExerciseError, match="your rule gives"):
        ex.check_region_rule(lambda m: 0, region=region)
    with pytest.raises(ex.ExerciseError, match="your rule gives"):
        ex.check_region_rule(lambda m: n - 1 - RULES[region](m), region=region)


def test_region_rule_rejects_a_class_name_or_an_index_out_of_range() -> None:
    with pytest.raises(ex.ExerciseError, match="class index"):
        ex.check_region_rule(lambda m: "HGG" if m["necrotic_share"] > 0.2 else "LGG", region="brain")
    with pytest.raises(ex.ExerciseError, match="class index"):
        ex.check_region_rule(lambda m: 2, region="eye")


def test_region_rule_stub_error_propagates() -> None:
    def stub(measured: dict[str, float]) -> int:
        raise NotImplementedError("Exercise: the label rule")

    with pytest.raises(NotImplementedError):
        ex.check_region_rule(stub, region="chest")


# ------------------------------------------------------------------ the relatedness crossover
def _interaction_per_seed(run: str = "eye_headline"):
    from mtdl_kit.verdicts import crossover_seeds

    t = crossover_seeds(run)
    return t, 0.5 * ((t["A:related"] - t["A:unrelated"]) + (t["B:related"] - t["B:unrelated"]))


@pytest.mark.parametrize("run", ["eye_headline", "eye_replication"])
def test_crossover_interaction_accepts_the_lesson_solution(run: str, capsys: pytest.CaptureFixture[str]) -> None:
    from mtdl_kit.verdicts import seed_bootstrap, verdict_of

    _, per_seed = _interaction_per_seed(run)
    got = ex.check_crossover_interaction(seed_bootstrap(per_seed), run)
    assert got.value == pytest.approx(verdict_of(f"transfer_c_{run}", contrast="interaction").value)
    assert "✅" in capsys.readouterr().out


def test_crossover_interaction_rejects_common_mistakes() -> None:
    from mtdl_kit.verdicts import seed_bootstrap, verdict_of

    t, per_seed = _interaction_per_seed()
    with pytest.raises(ex.ExerciseError, match="average"):
        ex.check_crossover_interaction(seed_bootstrap(2 * per_seed))
    with pytest.raises(ex.ExerciseError, match="sign"):
        ex.check_crossover_interaction(seed_bootstrap(-per_seed))
    with pytest.raises(ex.ExerciseError, match="one rule"):
        ex.check_crossover_interaction(seed_bootstrap(t["A:related"] - t["A:unrelated"]))
    unpaired = 0.5 * (
        (np.sort(t["A:related"].to_numpy()) - t["A:unrelated"].to_numpy())
        + (t["B:related"].to_numpy() - t["B:unrelated"].to_numpy())
    )
    with pytest.raises(ex.ExerciseError, match="paired"):  # same mean, seeds mixed up: another interval
        ex.check_crossover_interaction(seed_bootstrap(unpaired))
    lab = verdict_of("transfer_c_eye_headline", contrast="interaction")
    with pytest.raises(ex.ExerciseError, match="hierarchical"):
        ex.check_crossover_interaction((lab.value, lab.ci_low, lab.ci_high))
    with pytest.raises(ex.ExerciseError, match="three numbers"):
        ex.check_crossover_interaction(per_seed.mean())


def test_contrast_weights_accept_the_right_design(capsys: pytest.CaptureFixture[str]) -> None:
    got = ex.check_contrast_weights({"B:shuffled": 1, "B:none": -1, "A:none": 0}, "B: shuffled - none")
    assert got == {"B:shuffled": 1.0, "B:none": -1.0}
    ex.check_contrast_weights(
        {"A:related": 0.5, "B:related": 0.5, "A:unrelated": -0.5, "B:unrelated": -0.5}, "interaction"
    )
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize(
    ("question", "answer", "hint"),
    [
        ("B: shuffled - none", {"B:none": 1, "B:shuffled": -1}, "reverse the signs"),
        ("B: shuffled - none", {"B:shuffled": 1, "A:none": -1}, "you compare"),
        ("B: shuffled - none", {"B:shuffled": 1}, "sum to 0"),
        ("B: shuffled - none", {"B:shuffled": 2, "B:none": -2}, "a difference of two arms"),
        ("interaction", {"A:related": 1, "A:unrelated": -1, "B:related": 1, "B:unrelated": -1}, "½ each"),
        ("interaction", {"A:related": 1, "A:unrelated": -1}, "you compare"),
        ("interaction", {"A:related": 0.5, "A:unrelated": -0.5, "B:related": -0.5, "B:unrelated": 0.5}, "not with"),
        ("interaction", {"A:glaucoma": 1}, "not arms"),
    ],
)
def test_contrast_weights_reject_a_wrong_design(question: str, answer: dict, hint: str) -> None:
    with pytest.raises(ex.ExerciseError, match=hint):
        ex.check_contrast_weights(answer, question)


def test_contrast_weights_unknown_question() -> None:
    with pytest.raises(ValueError, match="Unknown question"):
        ex.check_contrast_weights({"A:none": 1}, "A: none - nothing")


def test_null_reading(capsys: pytest.CaptureFixture[str]) -> None:
    from mtdl_kit.verdicts import CROSSOVER_CONTRASTS, crossover_seeds, seed_contrast, verdict

    est = seed_contrast(crossover_seeds(), CROSSOVER_CONTRASTS["B: shuffled - none"])
    assert est.word == "no detectable difference"
    bound = max(abs(est.ci_low), abs(est.ci_high))
    ex.check_null_reading("no detectable difference", bound, est)
    assert "✅" in capsys.readouterr().out
    with pytest.raises(ex.ExerciseError, match="says 'no detectable difference'"):
        ex.check_null_reading("better", None, est)
    with pytest.raises(ex.ExerciseError, match="largest effect"):
        ex.check_null_reading("no detectable difference", est.value, est)
    with pytest.raises(ex.ExerciseError, match="not a verdict"):
        ex.check_null_reading("same", bound, est)
    ex.check_null_reading("better", None, verdict(0.3, 0.1, 0.5, unit=""))  # no null result: no bound asked


def test_check_cascade_contrast_accepts_the_labs_value_and_names_the_slip(tmp_path):
    import pandas as pd

    from mtdl_kit.exercises import ExerciseError, check_cascade_contrast

    pd.DataFrame(
        [
            {"budget": 256, "contrast": "mask_only@dice_0.70 - mask_only@true", "value": -0.12},
            {"budget": 16, "contrast": "mask_only@dice_0.70 - mask_only@true", "value": -0.05},
            {"budget": 256, "contrast": "robustness@dice_0.70", "value": 0.04},
        ]
    ).to_csv(tmp_path / "transfer_d_eye_headline_summary.csv", index=False)
    contrast = "mask_only@dice_0.70 - mask_only@true"
    assert check_cascade_contrast(-0.12, "eye_headline", contrast, 256, root=tmp_path) == pytest.approx(-0.12)
    with pytest.raises(ExerciseError, match="sign is reversed"):
        check_cascade_contrast(0.12, "eye_headline", contrast, 256, root=tmp_path)
    with pytest.raises(ExerciseError, match="keep budget == 256"):
        check_cascade_contrast(-0.05, "eye_headline", contrast, 256, root=tmp_path)
    with pytest.raises(ValueError, match="two-arm contrast"):
        check_cascade_contrast(0.04, "eye_headline", "robustness@dice_0.70", 256, root=tmp_path)


def test_check_mean_weight_averages_one_row_per_seed(tmp_path):
    import pandas as pd

    from mtdl_kit.exercises import ExerciseError, check_mean_weight

    rows = [
        {"seed": seed, "condition": "gradnorm-raw", "task": "cdr", "metric": metric, "weight_mean": weight}
        for seed, weight in ((0, 0.1), (1, 0.3))
        for metric in ("mae", "n_cases", "r2")
    ]
    rows.append({"seed": 0, "condition": "ew-raw", "task": "cdr", "metric": "mae", "weight_mean": 1.0})
    pd.DataFrame(rows).to_csv(tmp_path / "starved_eye_headline_runs.csv", index=False)
    assert check_mean_weight(0.2, "eye_headline", "gradnorm-raw", "cdr", root=tmp_path) == pytest.approx(0.2)
    with pytest.raises(ExerciseError, match=r"the runs give 0\.2000"):
        check_mean_weight(0.6 / 2.5, "eye_headline", "gradnorm-raw", "cdr", root=tmp_path)
    with pytest.raises(ExerciseError, match="finite number"):
        check_mean_weight("0.2", "eye_headline", "gradnorm-raw", "cdr", root=tmp_path)
    with pytest.raises(ValueError, match="No runs of condition"):
        check_mean_weight(0.2, "eye_headline", "uw-raw", "cdr", root=tmp_path)


def test_check_replicated_accepts_only_what_holds_on_every_seed_set(tmp_path):
    import pandas as pd

    from mtdl_kit.exercises import ExerciseError, check_replicated

    def write(run, rows):
        pd.DataFrame(
            [
                {
                    "task": "landmarks",
                    "metric": "mre_mm",
                    "condition": c,
                    "contrast": f"{c} - ew-raw",
                    "value": v,
                    "ci_low": lo,
                    "ci_high": hi,
                }
                for c, v, lo, hi in rows
            ]
        ).to_csv(tmp_path / f"starved_musculoskeletal_{run}_summary.csv", index=False)

    write("a", [("uw-raw", 10.0, 5.0, 14.0), ("dwa-raw", 2.0, 0.5, 3.0), ("upgrad-raw", -1.0, -2.0, 0.5)])
    write("b", [("uw-raw", 8.0, 3.0, 12.0), ("dwa-raw", 1.0, -0.5, 2.0), ("upgrad-raw", -1.0, -2.0, 0.5)])
    runs = ("musculoskeletal_a", "musculoskeletal_b")
    assert check_replicated({"uw-raw"}, runs, task="landmarks", root=tmp_path) == {"uw-raw"}
    with pytest.raises(ExerciseError, match="dwa-raw is not 'better' in every run"):
        check_replicated({"uw-raw", "dwa-raw"}, runs, task="landmarks", root=tmp_path)  # significant once only
    with pytest.raises(ExerciseError, match="uw-raw is 'better' in every run"):
        check_replicated(set(), runs, task="landmarks", root=tmp_path)
    with pytest.raises(ExerciseError, match="not conditions"):
        check_replicated({"pcgrad-raw"}, runs, task="landmarks", root=tmp_path)
    with pytest.raises(ExerciseError, match="set of condition names"):
        check_replicated("uw-raw", runs, task="landmarks", root=tmp_path)
    assert check_replicated([], runs, task="landmarks", word="worse", root=tmp_path) == set()


def test_check_replicated_reads_experiment_gs_contrasts_by_name():
    """Lesson 17's exercise 7 and RESULTS "families-lab-notes": of the skin's Δm verdicts only the full-width
    cascade's "better" holds on both seed sets; the hybrid's equal-width one (headline only) does not."""
    from mtdl_kit.exercises import ExerciseError, check_replicated

    runs = ("other_headline", "other_replication")
    want = check_replicated({"cascaded@width - single@width"}, runs, task="delta_m", table="transfer_g", by="contrast")
    assert want == {"cascaded@width - single@width"}
    with pytest.raises(ExerciseError, match="hybrid - single@width is not 'better' in every run"):
        check_replicated(
            {"cascaded@width - single@width", "hybrid - single@width"},
            runs,
            task="delta_m",
            table="transfer_g",
            by="contrast",
        )
    shared = check_replicated(
        {
            "parallel - single@params",
            "hybrid - single@params",
            "parallel - single@width",
            "hybrid - single@width",
            "cascaded@width - single@width",
        },
        runs,
        task="melanoma",
        table="transfer_g",
        by="contrast",
    )  # the melanoma gain on a shared trunk, and the full-width cascade's, come back on fresh seeds
    assert "hybrid - single@params" in shared


def test_check_replicated_keeps_only_the_cascades_score_gains_on_the_pathology():
    """Lesson 16's exercise 7: of the pathology's six nuclear-size score gains on the headline seeds, only the two
    cascades' hold on the fresh seeds; the parallel network's and the hybrid's (intervals from 0.000) do not."""
    from mtdl_kit.exercises import ExerciseError, check_replicated

    runs = ("pathology_headline", "pathology_replication")
    cascades = {"cascaded@params - single@params", "cascaded@width - single@width"}
    assert check_replicated(cascades, runs, task="grade", table="transfer_g", by="contrast") == cascades
    for headline_only in ("parallel - single@params", "hybrid - single@params", "hybrid - single@width"):
        with pytest.raises(ExerciseError, match=f"{headline_only} is not 'better' in every run"):
            check_replicated(cascades | {headline_only}, runs, task="grade", table="transfer_g", by="contrast")
    with pytest.raises(ExerciseError):
        check_replicated({"cascaded@params - single@params"}, runs, task="grade", table="transfer_g", by="contrast")
