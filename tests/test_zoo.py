"""The pretrained zoo machinery on a tiny zoo (one region, tiny models, a few steps)."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import fields

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mtdl_kit.cli import main
from mtdl_kit.experiments import train_run
from mtdl_kit.regions import get_region
from mtdl_kit.zoo import (
    MANIFEST,
    Floor,
    ZooEntry,
    ZooError,
    load_pretrained,
    quality_report,
    read_manifest,
    train_zoo,
    verify_zoo,
)

EYE = get_region("eye")
TINY = {
    "recipe": "fixed",
    "steps": 3,
    "size": 32,
    "batch_size": 4,
    "n_train": 8,
    "n_test": 8,
    "width": 4,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A tiny eye zoo: parallel and hybrid on all tasks, then (a second call) single-task baselines."""
    root = tmp_path_factory.mktemp("zoo")
    torch.set_num_threads(1)
    first = train_zoo(["eye"], ["parallel", "hybrid"], root=root, progress=False, **TINY)
    second = train_zoo(["eye"], ["single"], root=root, progress=False, **TINY)
    return root, first + second


@pytest.fixture
def zoo_copy(zoo, tmp_path):
    root, _ = zoo
    copy = tmp_path / "zoo"
    shutil.copytree(root, copy)
    return copy


def test_manifest_entries_complete(zoo):
    root, trained = zoo
    entries = read_manifest(root)
    assert sorted(entries) == sorted(
        ["eye-parallel", "eye-hybrid", "eye-single-disc_cup", "eye-single-glaucoma", "eye-single-cdr"]
    )
    assert [e.key for e in trained] == ["eye-parallel", "eye-hybrid", *(f"eye-single-{t}" for t in EYE.task_names)]
    raw = json.loads((root / MANIFEST).read_text())
    for key, e in entries.items():
        assert set(raw["entries"][key]) == {f.name for f in fields(ZooEntry)}
        path = root / e.file
        assert path.exists() and path.stat().st_size == e.size_bytes
        assert e.sha256 == (root / f"{e.file}.sha256").read_text().split()[0]
        assert e.seed == 0 and e.library_version and e.train_seconds > 0 and e.device == "cpu"
        assert e.config["size"] == 32 and e.config["steps"] == 3 and e.config["family"] == e.family
        expected_tasks = EYE.task_names if e.family != "single" else (key.split("-")[-1],)
        assert e.tasks == expected_tasks
        assert set(e.metrics) == set(e.tasks)
        for task in e.tasks:
            primary = {"segmentation": "dice", "classification": "auc", "regression": "mae"}[EYE.task(task).kind]
            assert primary in e.metrics[task] and e.metrics[task]["n_cases"] == 8
        stored = torch.load(path, weights_only=True)["state_dict"]
        floats = [v for v in stored.values() if v.is_floating_point()]
        assert floats and all(v.dtype == torch.float16 for v in floats)


def test_load_pretrained_round_trip(zoo):
    root, _ = zoo
    entry = read_manifest(root)["eye-parallel"]
    loaded = load_pretrained("eye", "parallel", root=root)
    assert not loaded.training
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    # training is deterministic on the CPU: retrain the same config to get the float32 model
    reference = train_run(entry.run_config(), progress=False).model.eval()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = reference(x), loaded(x)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=2e-2, rtol=2e-2), k


@pytest.mark.parametrize("damage", ["tamper", "delete"])
def test_damaged_file_says_how_to_rebuild(zoo_copy, damage):
    path = zoo_copy / "eye-hybrid.pt"
    if damage == "tamper":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    with pytest.raises(ZooError, match=r"eye-hybrid\.pt.*mtdl-kit zoo train --region eye --family hybrid"):
        load_pretrained("eye", "hybrid", root=zoo_copy)
    problems = verify_zoo(zoo_copy)
    assert len(problems) == 1 and "eye-hybrid.pt" in problems[0]
    assert main(["zoo", "verify", "--root", str(zoo_copy), "--quiet"]) == 1


def test_verify_passes_then_catches_a_changed_metric(zoo, zoo_copy, capsys):
    root, _ = zoo
    assert verify_zoo(root) == []
    assert main(["zoo", "verify", "--root", str(root), "--region", "eye", "--quiet"]) == 0
    raw = json.loads((zoo_copy / MANIFEST).read_text())
    raw["entries"]["eye-parallel"]["metrics"]["disc_cup"]["dice"] += 0.2
    (zoo_copy / MANIFEST).write_text(json.dumps(raw))
    problems = verify_zoo(zoo_copy)
    assert len(problems) == 1 and "eye-parallel.pt: disc_cup dice recomputed" in problems[0]
    assert main(["zoo", "verify", "--root", str(zoo_copy), "--quiet"]) == 1
    assert "PROBLEM eye-parallel.pt" in capsys.readouterr().out


def test_task_subsets(zoo):
    root, _ = zoo
    single = load_pretrained("eye", "single", "glaucoma", root=root)
    assert [t.name for t in single.tasks] == ["glaucoma"]
    assert [t.name for t in load_pretrained("eye", "hybrid", EYE.task_names, root=root).tasks] == list(EYE.task_names)
    with pytest.raises(ValueError, match=r"available task sets: \['disc_cup,glaucoma,cdr'\]"):
        load_pretrained("eye", "parallel", ["glaucoma", "disc_cup"], root=root)
    with pytest.raises(ValueError, match="family 'single' needs one task"):
        load_pretrained("eye", "single", root=root)
    with pytest.raises(ValueError, match="no task 'optic_nerve'"):
        load_pretrained("eye", "parallel", "optic_nerve", root=root)
    with pytest.raises(ZooError, match="mtdl-kit zoo train --region eye --family cascaded"):
        load_pretrained("eye", "cascaded", root=root)
    with pytest.raises(ZooError, match="no parallel model for region 'chest'"):
        load_pretrained("chest", "parallel", root=root)


def test_cli_list(zoo, tmp_path, capsys):
    root, _ = zoo
    assert main(["zoo", "list", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "eye-parallel" in out and "disc_cup dice=" in out and "5 model(s)" in out
    assert main(["zoo", "list", "--root", str(tmp_path / "empty")]) == 1
    assert main(["zoo", "verify", "--root", str(tmp_path / "empty"), "--quiet"]) == 1


def test_bad_arguments_fail_fast(tmp_path):
    with pytest.raises(ValueError, match="allowed families"):
        train_zoo(["eye"], ["sequential"], root=tmp_path, progress=False)
    with pytest.raises(ValueError, match="size must be"):
        train_zoo(["eye"], ["parallel"], root=tmp_path, progress=False, size=8)
    assert not (tmp_path / MANIFEST).exists()


@pytest.mark.parametrize("family", ["cascaded", "interacted"])
def test_fp16_checkpoint_of_matched_families_rebuilds(tmp_path, family):
    from mtdl_kit.checkpoint import rebuild_model, save_checkpoint
    from mtdl_kit.models import build_model

    model = build_model(family, EYE.tasks, EYE.in_channels, width=4, seed=3, region="eye").eval()
    path = tmp_path / f"{family}.pt"
    save_checkpoint(model, path, dtype=torch.float16)
    rebuilt = rebuild_model(path).eval()
    assert rebuilt.options["sub_width"] == model.options["sub_width"]
    assert all(p.dtype == torch.float32 for p in rebuilt.parameters())
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = model(x), rebuilt(x)
    assert all(torch.allclose(a[k], b[k], atol=2e-2, rtol=2e-2) for k in a)


def test_resume_keeps_models_whose_config_predates_a_new_field(zoo_copy):
    """A RunConfig field added later (with its default) does not make ``train_zoo`` retrain the zoo."""
    manifest = json.loads((zoo_copy / MANIFEST).read_text())
    for entry in manifest["entries"].values():
        entry["config"].pop("lr_schedule")  # as written before the field existed
    (zoo_copy / MANIFEST).write_text(json.dumps(manifest))
    before = {k: e.sha256 for k, e in read_manifest(zoo_copy).items()}
    kept = train_zoo(["eye"], ["parallel"], root=zoo_copy, progress=False, **TINY)
    assert [e.sha256 for e in kept] == [before["eye-parallel"]] and kept[0].train_seconds == pytest.approx(
        read_manifest(zoo_copy)["eye-parallel"].train_seconds
    )
    changed = train_zoo(["eye"], ["parallel"], root=zoo_copy, progress=False, **{**TINY, "steps": 4})
    assert changed[0].config["steps"] == 4, "a changed setting still retrains"


def test_lab_recipe_trains_by_validation_stopping_and_records_the_seed_ranges(tmp_path):
    """``recipe="lab"`` (the default): 128 px (256 for the abdomen) and the lab's validation stopping; the
    manifest holds the seed ranges."""
    import inspect

    from mtdl_kit.zoo import FIXED_RECIPE, LAB_RECIPE, RECIPES

    assert inspect.signature(train_zoo).parameters["recipe"].default == "lab"
    assert RECIPES["lab"].size == 128 and LAB_RECIPE.n_val > 0 and FIXED_RECIPE.n_val == 0
    assert LAB_RECIPE.size_for("abdomen") == 256 and LAB_RECIPE.size_for("eye") == 128
    tiny = {**TINY, "recipe": "lab", "steps": 12, "size": 32}
    (entry,) = train_zoo(["eye"], ["parallel"], root=tmp_path, progress=False, **tiny)
    assert entry.config["n_val"] == LAB_RECIPE.n_val and entry.config["size"] == 32  # the override wins
    seeds = entry.phantom_seeds()
    assert set(seeds) == {"train", "val", "test"} and len(seeds["val"]) == LAB_RECIPE.n_val
    assert not set(seeds["train"]) & set(seeds["val"]) and not set(seeds["val"]) & set(seeds["test"])
    # 12 steps with an evaluation every 100: only the final one, so the run reaches the cap
    assert entry.training == {"steps_run": 12, "best_step": 12, "evaluations": 1, "stopped_early": False}
    assert read_manifest(tmp_path)["eye-parallel"].training == entry.training
    kept = train_zoo(["eye"], ["parallel"], root=tmp_path, progress=False, skip_existing=True, **tiny)
    assert kept[0].sha256 == entry.sha256, "resumable: a model trained with the same recipe is kept"
    with pytest.raises(ValueError, match="Unknown zoo recipe 'fast'"):
        train_zoo(["eye"], ["parallel"], root=tmp_path, recipe="fast", progress=False)


def test_a_recipe_trains_a_region_at_its_own_size_unless_a_size_is_given(tmp_path):
    """``at_region_size``: each region at the larger of the recipe's size and the region's ``default_size``
    (the lab's abdomen: 256 px); an explicit size holds for all."""
    from dataclasses import replace

    from mtdl_kit.regions import get_region
    from mtdl_kit.zoo import ZooRecipe

    recipe = ZooRecipe(steps=2, size=32, batch_size=4, n_train=8, n_test=8, at_region_size=True)
    assert recipe.size_for("abdomen") == get_region("abdomen").default_size == 256
    assert recipe.size_for("eye") == get_region("eye").default_size == 128
    assert ZooRecipe(steps=2, size=160, at_region_size=True).size_for("eye") == 160, "the larger of the two"
    assert replace(recipe, at_region_size=False).size_for("abdomen") == 32
    tiny = {"width": 4, "device": "cpu", "progress": False}
    (got,) = train_zoo(["eye"], ["parallel"], root=tmp_path / "a", recipe=recipe, **tiny)
    assert got.image_size == 128
    (forced,) = train_zoo(["abdomen"], ["parallel"], root=tmp_path / "b", recipe=recipe, size=64, **tiny)
    assert forced.image_size == 64


def test_a_model_trained_to_the_cap_reads_as_budget_only_with_a_late_best_evaluation():
    """Without the early stop every run reaches the cap; "still improving" needs its best evaluation within the
    lab rule's patience window (8 evaluations) of the end."""
    from mtdl_kit.zoo.floors import _still_improving_at_cap

    def entry(best_step, stopped_early=False, patience=41):
        training = {"steps_run": 4000, "best_step": best_step, "evaluations": 40, "stopped_early": stopped_early}
        config = {"size": 128, "patience": patience, "eval_every": 100, "n_val": 64, "steps": 4000}
        return ZooEntry(
            "eye", "parallel", EYE.task_names, config, 0, "0", {}, "f.pt", "0" * 64, 1, 1.0, "cpu", training
        )

    assert _still_improving_at_cap(entry(3900))
    assert not _still_improving_at_cap(entry(900)), "to the cap with an early best: not a budget limit"
    assert not _still_improving_at_cap(entry(3900, stopped_early=True))
    assert _still_improving_at_cap(entry(3300, patience=8)), "the lab rule: not stopped means a best in the window"
    assert entry(900).trained_to_cap and not entry(900, patience=8).trained_to_cap


def test_a_manifest_entry_without_the_optional_training_record_still_reads(zoo):
    """Entries written before ``training`` existed (fixed-step recipes) read with ``training=None``."""
    _, entries = zoo
    data = entries[0].to_json()
    assert data["training"] is None  # the fixed recipe has no validation stopping
    data.pop("training")
    assert ZooEntry.from_json(data) == entries[0]
    data.pop("sha256")
    with pytest.raises(ValueError, match=r"lacks the fields \['sha256'\]"):
        ZooEntry.from_json(data)


def _add_entries_in_a_process(root: str, entry_json: dict, start: int) -> None:
    from mtdl_kit.zoo import ZooEntry, add_entry

    for i in range(start, start + 20):
        add_entry(root, ZooEntry.from_json({**entry_json, "file": f"model-{i}.pt"}))


def test_add_entry_from_concurrent_processes_keeps_every_entry(zoo, tmp_path):
    """Two trainers sharing one zoo folder (``zoo train`` once per core) never drop each other's entries."""
    import multiprocessing

    _, entries = zoo
    template = entries[0].to_json()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_entries_in_a_process, args=(str(tmp_path), template, s)) for s in (0, 20)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert set(read_manifest(tmp_path)) == {f"model-{i}" for i in range(40)}


def test_miss_diagnoses_read_each_miss_against_the_rest_of_the_zoo(tmp_path):
    """Every missed bar gets a reading: budget, family cost, task limit (and family cost) or other tasks help."""
    from mtdl_kit.zoo import miss_diagnoses, write_manifest

    def entry(family, tasks, metrics, training=None):
        file = f"eye-{family}.pt" if family != "single" else f"eye-single-{tasks[0]}.pt"
        return ZooEntry(
            "eye", family, tuple(tasks), {"size": 128}, 0, "0", metrics, file, "0" * 64, 1, 1.0, "cpu", training
        )

    ended = {"steps_run": 1000, "best_step": 400, "evaluations": 10, "stopped_early": True}
    capped = {**ended, "steps_run": 4000, "best_step": 4000, "stopped_early": False}
    entries = [
        entry(
            "parallel",
            EYE.task_names,
            {
                "disc_cup": {"dice": 0.80, "dice/disc": 0.95, "dice/cup": 0.65},
                "glaucoma": {"auc": 0.85},
                "cdr": {"mae": 0.05},
            },
            ended,
        ),
        entry(
            "hybrid",
            EYE.task_names,
            {"disc_cup": {"dice": 0.90}, "glaucoma": {"auc": 0.70}, "cdr": {"mae": 0.08}},
            capped,
        ),
        entry(
            "interacted",
            EYE.task_names,
            {"disc_cup": {"dice": 0.90}, "glaucoma": {"auc": 0.82}, "cdr": {"mae": 0.15}},
            ended,
        ),
        entry("single", ["disc_cup"], {"disc_cup": {"dice": 0.90}}, ended),
        entry("single", ["glaucoma"], {"glaucoma": {"auc": 0.80}}, ended),
        entry("single", ["cdr"], {"cdr": {"mae": 0.15}}, ended),
    ]
    write_manifest(tmp_path, {e.key: e for e in entries})
    got = {(r["key"], r["task"]): r for r in miss_diagnoses(tmp_path)}
    assert set(got) == {
        ("eye-parallel", "disc_cup"),
        ("eye-parallel", "glaucoma"),
        ("eye-hybrid", "glaucoma"),
        ("eye-interacted", "glaucoma"),
        ("eye-interacted", "cdr"),
        ("eye-single-glaucoma", "glaucoma"),
        ("eye-single-cdr", "cdr"),
    }
    assert got["eye-parallel", "disc_cup"]["reading"] == "family cost"
    assert "single-task network meets the bar (0.9)" in got["eye-parallel", "disc_cup"]["diagnosis"]
    assert "its weakest class is cup (Dice 0.65; the others ≥ 0.95)" in got["eye-parallel", "disc_cup"]["diagnosis"]
    assert got["eye-parallel", "glaucoma"]["reading"] == "task limit"  # 0.85 beats the single-task 0.80
    assert "the parallel network does better" in got["eye-parallel", "glaucoma"]["diagnosis"]
    assert got["eye-hybrid", "glaucoma"]["reading"] == "budget"  # capped overrides, the comparison stays
    assert "4000-step cap" in got["eye-hybrid", "glaucoma"]["diagnosis"]
    assert "further off" in got["eye-hybrid", "glaucoma"]["diagnosis"]  # 0.70 below the single-task 0.80
    # the single-task network misses too, but another family meets it: the interacted network's own cost
    assert got["eye-interacted", "cdr"]["reading"] == "family cost"
    assert got["eye-interacted", "cdr"]["compare"] == "eye-parallel: 0.05"
    assert "misses it too (0.15), but 2 other multi-task network(s)" in got["eye-interacted", "cdr"]["diagnosis"]
    assert got["eye-single-glaucoma", "glaucoma"]["reading"] == "task limit"
    assert "best eye-parallel, 0.85" in got["eye-single-glaucoma", "glaucoma"]["diagnosis"]
    assert got["eye-single-cdr", "cdr"]["reading"] == "other tasks help"
    assert got["eye-single-cdr", "cdr"]["compare"] == "eye-parallel: 0.05"


def test_import_region_swaps_a_complete_region_in_and_refuses_an_incomplete_one(zoo_copy, tmp_path, capsys):
    """``zoo import``: a region retrained in its own folder replaces the zoo's entries of that region only."""
    from mtdl_kit.zoo import ZooError, import_region, write_manifest

    target = tmp_path / "shipped"
    old = read_manifest(zoo_copy)["eye-parallel"]
    stale_subset = ZooEntry.from_json({**old.to_json(), "tasks": ["disc_cup", "glaucoma"], "file": "eye-parallel-x.pt"})
    other_region = ZooEntry.from_json({**old.to_json(), "region": "chest", "file": "chest-parallel.pt"})
    write_manifest(target, {e.key: e for e in (stale_subset, other_region)})
    with pytest.raises(ZooError, match=r"'eye-cascaded', 'eye-interacted'\] are not trained yet.*--skip-existing"):
        import_region(zoo_copy, target, "eye")
    assert main(["zoo", "import", "--from", str(zoo_copy), "--region", "eye", "--root", str(target)]) == 1
    assert "not trained yet" in capsys.readouterr().err

    train_zoo(["eye"], ["cascaded", "interacted"], root=zoo_copy, progress=False, **TINY)
    assert main(["zoo", "import", "--from", str(zoo_copy), "--region", "eye", "--root", str(target)]) == 0
    assert "imported 7 eye model(s) (32 px)" in capsys.readouterr().out
    after = read_manifest(target)
    assert "chest-parallel" in after and "eye-parallel-x" not in after  # other regions kept, old subsets gone
    assert {k for k, e in after.items() if e.region == "eye"} == {k for k in read_manifest(zoo_copy)}
    assert verify_zoo(target, regions=["eye"], progress=False) == []  # files copied with their digests

    (zoo_copy / "eye-hybrid.pt").write_bytes(b"damaged")
    with pytest.raises(ZooError, match=r"eye-hybrid\.pt: missing or not the file the manifest records"):
        import_region(zoo_copy, target, "eye")
    with pytest.raises(ZooError, match="the same folder"):
        import_region(target, target, "eye")


def test_composite_reading_finds_the_term_a_prediction_ignores():
    """A prediction that is the exact score reads every term (≈ 1); one blind to a term reads it ≈ 0."""
    import numpy as np

    from mtdl_kit.zoo import composite_reading

    rng = np.random.default_rng(0)
    terms = {"a": rng.integers(0, 3, 200).astype(float), "c": rng.integers(1, 7, 200).astype(float)}
    weights = {"a": 1.3, "c": 0.5}
    exact = 1.3 * terms["a"] + 0.5 * terms["c"]
    full = composite_reading(exact, terms, weights, n_boot=200).set_index("term")
    np.testing.assert_allclose(full["read"], [1.0, 1.0], atol=1e-9)
    blind = composite_reading(0.5 * terms["c"] + rng.normal(0, 0.1, 200), terms, weights, n_boot=200).set_index("term")
    a = blind.loc["a"]
    assert abs(a["read"]) < 0.1 and a["ci_low"] < a["coefficient"] < a["ci_high"]
    assert blind.loc["c", "read"] == pytest.approx(1.0, abs=0.05)
    assert full.loc["a", "mae_without"] == pytest.approx(1.3 * np.abs(terms["a"] - np.median(terms["a"])).mean())
    with pytest.raises(ValueError, match="No values for the term"):
        composite_reading(exact, {"a": terms["a"]}, weights)
    with pytest.raises(ValueError, match="one value per case"):
        composite_reading(exact[:10], terms, weights)


def test_zoo_composite_readings_score_the_same_cases_as_the_manifest(tmp_path):
    """Each skin model with the ABCD-like score gets one row per term, and its MAE is the manifest's."""
    from mtdl_kit.zoo import zoo_composite_readings

    torch.set_num_threads(1)
    trained = train_zoo(["other"], ["single"], root=tmp_path, progress=False, **TINY)
    (entry,) = [e for e in trained if e.tasks == ("abcd",)]
    readings = zoo_composite_readings(tmp_path, n_boot=50)
    assert list(readings["term"]) == ["asymmetry", "border", "colours", "diameter_score"]
    assert set(readings["key"]) == {entry.key} and set(readings["task"]) == {"abcd"}
    assert readings["mae"].iloc[0] == pytest.approx(entry.metrics["abcd"]["mae"], rel=1e-3)


def test_unstopped_run_retrains_a_stopped_model_to_its_cap(tmp_path, zoo):
    """``unstopped_run``: the recorded config without the early stop runs every step and evaluates throughout."""
    from mtdl_kit.zoo import ZooRecipe, unstopped_run

    recipe = ZooRecipe(
        steps=12, size=32, batch_size=4, n_train=8, n_test=8, n_val=4, eval_every=2, patience=1, min_evaluations=0
    )
    (entry,) = train_zoo(["eye"], ["parallel"], root=tmp_path, recipe=recipe, width=4, device="cpu", progress=False)
    run = unstopped_run("eye-parallel", tmp_path)
    assert run["steps_run"] == 12 and run["key"] == "eye-parallel"
    assert entry.training["steps_run"] <= 12
    assert sorted({step for step, _, _ in run["curve"]}) == [2, 4, 6, 8, 10, 12], "every evaluation, to the cap"
    assert run["best_step"] in {2, 4, 6, 8, 10, 12}
    assert set(run["metrics"]) == set(entry.tasks) and run["metrics"]["glaucoma"]["n_cases"] == 8
    with pytest.raises(KeyError, match="No zoo model 'eye-cascaded'"):
        unstopped_run("eye-cascaded", tmp_path)
    root, _ = zoo  # the fixture's models are trained for a fixed number of steps
    with pytest.raises(ValueError, match="fixed number of steps"):
        unstopped_run("eye-parallel", root)


def test_a_recipe_without_the_early_stop_trains_to_its_cap(tmp_path):
    """``patience=None`` (the ``lab-to-cap`` recipe): every run goes to its step cap and keeps its best evaluation."""
    from mtdl_kit.zoo import LAB_RECIPE, RECIPES, ZooRecipe

    assert RECIPES["lab-to-cap"].patience is None
    assert {**vars(RECIPES["lab-to-cap"]), "patience": LAB_RECIPE.patience} == vars(LAB_RECIPE), "only the stop differs"
    recipe = ZooRecipe(
        steps=12, size=32, batch_size=4, n_train=8, n_test=8, n_val=4, eval_every=2, patience=None, min_evaluations=0
    )
    (entry,) = train_zoo(["eye"], ["parallel"], root=tmp_path, recipe=recipe, width=4, device="cpu", progress=False)
    assert entry.config["patience"] == 12 // 2 + 1, "recorded as a patience longer than the run"
    assert entry.training["steps_run"] == 12 and entry.training["stopped_early"] is False
    assert entry.training["evaluations"] == 6


def test_the_rebuild_command_names_the_recipe_a_model_was_trained_with():
    from mtdl_kit.zoo import LAB_RECIPE, rebuild_command
    from mtdl_kit.zoo.training import recipe_of

    lab = {
        "steps": 4000, "size": 256, "batch_size": LAB_RECIPE.batch_size, "n_train": 1024, "n_test": LAB_RECIPE.n_test,
        "n_val": 64, "eval_every": 100, "patience": 8, "min_evaluations": 6,
    }  # fmt: skip
    assert recipe_of("abdomen", lab) == "lab"
    assert recipe_of("eye", lab) is None, "the eye's lab models are 128 px"
    assert recipe_of("abdomen", {**lab, "patience": 41}) == "lab-to-cap"
    assert recipe_of("abdomen", {**lab, "patience": 12}) is None
    assert (
        rebuild_command("brain", "single", "lab-to-cap")
        == "mtdl-kit zoo train --recipe lab-to-cap --region brain --family single"
    )
    assert rebuild_command("brain", "single", "lab") == rebuild_command("brain", "single", None)


@given(
    threshold=st.floats(-1e3, 1e3, allow_nan=False),
    value=st.floats(-1e3, 1e3, allow_nan=False),
    higher_is_better=st.booleans(),
)
def test_a_floor_is_met_on_its_own_side_and_at_the_bar(threshold, value, higher_is_better):
    floor = Floor("m", threshold, higher_is_better, "")
    assert floor.met_by(threshold) is True, "a value at the bar meets it"
    assert floor.met_by(None) is None, "an undefined metric is neither met nor missed"
    better = value > threshold if higher_is_better else value < threshold
    if value != threshold:
        assert floor.met_by(value) is better
    assert floor.bar == f"{'≥' if higher_is_better else '≤'} {threshold:g}"


def test_the_chance_report_sets_every_bar_against_the_image_blind_predictor(zoo) -> None:
    from mtdl_kit.evaluation.chance import chance_level
    from mtdl_kit.experiments import run_datasets
    from mtdl_kit.regions import get_region
    from mtdl_kit.zoo.chance import chance_report

    root, _ = zoo
    rows = chance_report(root)
    assert [(r["key"], r["task"], r["metric"]) for r in rows] == [
        (r["key"], r["task"], r["metric"]) for r in quality_report(root)
    ]
    eye = get_region("eye")
    cfg = next(iter(read_manifest(root).values())).run_config()
    train, test = run_datasets(cfg, list(eye.task_names))
    expected = chance_level(eye.tasks, train, test, region=eye).metrics
    for r in rows:
        level = expected[r["task"]][r["metric"]]
        assert r["chance"] == pytest.approx(level) or (r["chance"] is None and math.isnan(level))
        if r["chance"] is not None:
            assert r["bar_above_chance"] == (
                not Floor(r["metric"], r["threshold"], r["higher_is_better"], "").met_by(r["chance"])
            )
        if r["chance"] is not None and r["value"] is not None:
            better = r["value"] > r["chance"] if r["higher_is_better"] else r["value"] < r["chance"]
            assert r["beats_chance"] == better
    one = rows[0]["key"]
    assert {r["key"] for r in chance_report(root, keys=[one])} == {one}
