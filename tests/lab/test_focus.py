"""The focus crop (mtdl_kit.lab.focus): a window centred on the finding, inside the image, carried by experiment G's
configuration for classification and regression networks only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtdl_kit.lab.families import default_families_config
from mtdl_kit.lab.families.config import Network, networks_of
from mtdl_kit.lab.families.runs import train_network
from mtdl_kit.lab.focus import FocusCrop, crop_window, finding_centre
from mtdl_kit.regions import get_region


def test_the_finding_centre_is_the_centroid_of_its_classes_only() -> None:
    mask = np.zeros((20, 30), dtype=np.int64)
    mask[2:18, 2:28] = 1  # the organ: not the finding
    mask[10:13, 20:23] = 2
    mask[13, 21] = 3
    assert finding_centre(mask, (2, 3)) == (11, 21)
    with pytest.raises(ValueError, match="no finding to crop around"):
        finding_centre(mask, (4,))


@given(row=st.integers(0, 63), col=st.integers(0, 47), crop=st.integers(1, 48), height=st.just(64), width=st.just(48))
def test_the_window_lies_inside_the_image_and_holds_the_centre(
    row: int, col: int, crop: int, height: int, width: int
) -> None:
    top, left = crop_window((row, col), crop, (height, width))
    assert 0 <= top <= height - crop and 0 <= left <= width - crop
    assert top <= row < top + crop and left <= col < left + crop
    if crop // 2 <= row <= height - crop + crop // 2 and crop // 2 <= col <= width - crop + crop // 2:
        assert (top, left) == (row - crop // 2, col - crop // 2)  # centred wherever it fits


def test_a_window_larger_than_the_image_is_refused() -> None:
    with pytest.raises(ValueError, match="between 1 and the image's side"):
        crop_window((5, 5), 65, (64, 64))


def test_the_crop_keeps_the_whole_abdominal_lesion_and_every_label() -> None:
    cfg = default_families_config("abdomen", focus_crop=64)
    full = default_families_config("abdomen")
    cropped, whole = cfg.splits("abdomen", cfg.task_names(), 0)[2], full.splits("abdomen", full.task_names(), 0)[2]
    for i in range(12):
        a, b = cropped[i], whole[i]
        assert a["image"].shape == (1, 64, 64) and a["liver_lesion"].shape == (64, 64)
        assert int((a["liver_lesion"] >= 2).sum()) == int((b["liver_lesion"] >= 2).sum()) > 0
        assert int(a["malignancy"]) == int(b["malignancy"]) and float(a["lesion_diameter"]) == float(
            b["lesion_diameter"]
        )
        # the window is the image's own pixels around the lesion's centroid
        top, left = crop_window(finding_centre(b["liver_lesion"].numpy(), (2, 3)), 64, (256, 256))
        assert np.array_equal(a["image"].numpy(), b["image"][:, top : top + 64, left : left + 64].numpy())


def test_the_crop_refuses_targets_it_cannot_carry() -> None:
    knee = get_region("musculoskeletal")
    with pytest.raises(ValueError, match="cannot carry the targets"):
        FocusCrop([], knee.tasks, ("bones", (1,)), 32)
    abdomen = get_region("abdomen")
    with pytest.raises(ValueError, match="is not one of the cases' tasks"):
        FocusCrop([], abdomen.select_tasks(["malignancy"]), abdomen.finding_mask, 32)


def test_the_configuration_refuses_a_crop_it_cannot_make() -> None:
    with pytest.raises(ValueError, match="eye names none"):
        default_families_config("eye", focus_crop=32)
    with pytest.raises(ValueError, match=r"multiple of 16 .* below the image.s 256 px"):
        default_families_config("abdomen", focus_crop=256)
    with pytest.raises(ValueError, match="multiple of 16"):
        default_families_config("abdomen", focus_crop=40)
    with pytest.raises(ValueError, match="keep it in tasks"):
        default_families_config("abdomen", focus_crop=64, tasks=("malignancy", "lesion_diameter"))


def test_the_crop_changes_the_cache_key_and_its_absence_does_not() -> None:
    headline = default_families_config("abdomen")
    assert default_families_config("abdomen", focus_crop=0).key() == headline.key()
    assert default_families_config("abdomen", focus_crop=64).key() != headline.key()


def test_a_cropped_segmentation_network_is_refused_before_it_trains() -> None:
    cfg = default_families_config("abdomen", quick=True, size=64, focus_crop=32)
    with pytest.raises(ValueError, match="classification and regression networks only"):
        train_network(cfg, Network("single", ("liver_lesion",)), seed=0)


def test_a_cropped_single_task_network_trains_and_scores_on_the_crop() -> None:
    cfg = default_families_config("abdomen", quick=True, size=64, focus_crop=32)
    run = train_network(cfg, networks_of(cfg, "single@width")["malignancy"], seed=0)
    assert 0.0 <= run.metrics["malignancy"]["auc"] <= 1.0 and run.records is not None
    assert run.metrics["malignancy"]["n_cases"] == cfg.n_test


def test_every_named_finding_is_classes_of_a_segmentation_task() -> None:
    from mtdl_kit.lab.families.config import change_label, change_words
    from mtdl_kit.regions import REGION_NAMES

    named = {name: get_region(name).finding_mask for name in REGION_NAMES if get_region(name).finding_mask}
    assert set(named) == {"abdomen"}
    for name, (task, classes) in named.items():
        (spec,) = get_region(name).select_tasks([task])
        assert spec.kind == "segmentation" and classes and all(0 < c < spec.num_outputs for c in classes)
    assert change_words(change_label({"focus_crop": 64})) == "focus_crop = 64"


def _variant_table(folder, label: str, rows: list[tuple]) -> None:
    """An abdomen diagnostic's table as ``load_families_variant`` reads it: ``(arm, seed, task, metric, headline,
    variant)`` rows."""
    import pandas as pd

    columns = ["arm", "seed", "task", "metric", "headline", "variant"]
    pd.DataFrame(rows, columns=columns).to_csv(folder / f"transfer_g_abdomen_headline_{label}.csv", index=False)


def test_the_gain_exercise_accepts_the_mean_of_variant_minus_headline_only(tmp_path) -> None:
    from mtdl_kit.exercises import ExerciseError, check_variant_gain

    _variant_table(
        tmp_path,
        "focus_crop64",
        [
            ("single@params", 0, "malignancy", "auc", 0.50, 0.90),
            ("single@width", 0, "malignancy", "auc", 0.48, 0.94),
            ("single@params", 0, "lesion_diameter", "mae", 8.6, 3.0),
            ("single@width", 4, "lesion_diameter", "mae", 8.4, 3.4),
        ],
    )
    assert check_variant_gain(0.43, "abdomen", "focus_crop64", "malignancy", root=tmp_path) == pytest.approx(0.43)
    assert check_variant_gain(5.3, "abdomen", "focus_crop64", "lesion_diameter", root=tmp_path) == pytest.approx(5.3)
    with pytest.raises(ExerciseError, match=r"sign is reversed.*flip it"):
        check_variant_gain(-5.3, "abdomen", "focus_crop64", "lesion_diameter", root=tmp_path)
    with pytest.raises(ExerciseError, match="you computed"):
        check_variant_gain(
            0.9, "abdomen", "focus_crop64", "malignancy", root=tmp_path
        )  # the variant's mean, not the gain
    with pytest.raises(ExerciseError, match="finite number"):
        check_variant_gain(float("nan"), "abdomen", "focus_crop64", "malignancy", root=tmp_path)
    with pytest.raises(ValueError, match="has no task 'liver_lesion'"):
        check_variant_gain(0.0, "abdomen", "focus_crop64", "liver_lesion", root=tmp_path)


def test_the_gain_exercise_averages_the_single_or_the_multi_task_networks_when_asked(tmp_path) -> None:
    from mtdl_kit.exercises import ExerciseError, check_variant_gain

    gains = [
        ("single@params", 0.47, 0.46),
        ("single@width", 0.50, 0.52),
        ("parallel", 0.49, 0.98),
        ("hybrid", 0.63, 0.98),
    ]
    rows = [(arm, 0, "malignancy", "auc", before, after) for arm, before, after in gains]
    _variant_table(tmp_path, "n_train1024", rows)

    def check(answer: float, networks: str = "all") -> float:
        return check_variant_gain(answer, "abdomen", "n_train1024", "malignancy", networks=networks, root=tmp_path)

    assert check(0.005, "single-task") == pytest.approx(0.005)
    assert check(0.42, "multi-task") == pytest.approx(0.42)
    assert check(0.2125) == pytest.approx(0.2125)
    with pytest.raises(ExerciseError, match="only the single-task arms"):  # the mean over every network
        check(0.2125, "single-task")
    with pytest.raises(ValueError, match="not one of"):
        check(0.0, "single")
    _variant_table(tmp_path, "n_train1024", rows[:2])
    with pytest.raises(ValueError, match="no multi-task network"):
        check(0.0, "multi-task")


def test_the_gain_exercise_counts_the_segmentation_baseline_serving_both_rules_once(tmp_path) -> None:
    """single@params and single@width share the segmentation network: listed twice, averaged once."""
    import pandas as pd

    from mtdl_kit.exercises import ExerciseError, check_variant_gain
    from mtdl_kit.lab.families import distinct_networks

    rows = [
        ("single@params", 0, "liver_lesion", "dice", 0.82, 0.86),
        ("single@width", 0, "liver_lesion", "dice", 0.82, 0.86),
        ("parallel", 0, "liver_lesion", "dice", 0.70, 0.72),
    ]
    _variant_table(tmp_path, "n_train1024", rows)
    assert check_variant_gain(0.03, "abdomen", "n_train1024", "liver_lesion", root=tmp_path) == pytest.approx(0.03)
    with pytest.raises(ExerciseError, match="counts once"):  # the shared network counted twice: 0.1 / 3
        check_variant_gain(0.1 / 3, "abdomen", "n_train1024", "liver_lesion", root=tmp_path)
    assert check_variant_gain(
        0.04, "abdomen", "n_train1024", "liver_lesion", networks="single-task", root=tmp_path
    ) == pytest.approx(0.04)

    columns = ["arm", "seed", "task", "metric", "headline", "variant"]
    table = pd.DataFrame([*rows, ("single@width", 4, "liver_lesion", "dice", 0.82, 0.86)], columns=columns)
    assert list(distinct_networks(table)["arm"]) == ["single@params", "parallel", "single@width"]
