"""Dataset layouts (folder + CSV, Decathlon dataset.json, MedMNIST npz), partial labels and training on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mtdl_kit import cli
from mtdl_kit.data import DataError, check_dataset, collate, default_root, load_samples, open_dataset
from mtdl_kit.regions import TaskSpec, get_region


@pytest.mark.parametrize("region", ["eye", "musculoskeletal"])
def test_bundled_store_reads_back_exactly(region):
    root = default_root() / region
    if not root.exists():
        pytest.skip("bundled samples not written (run `mtdl-kit samples`)")
    ds = open_dataset(root, region)
    assert ds.layout == "csv" and len(ds) == len(load_samples(region, verify=False))
    for i, ref in enumerate(load_samples(region, verify=False)[:4]):
        s = ds.sample(i)
        assert s.meta["case_id"] == ref.meta["case_id"]
        np.testing.assert_array_equal(s.image, ref.image)
        assert set(s.targets) == set(ref.targets)
        for name, target in ref.targets.items():
            np.testing.assert_allclose(s.targets[name], target, rtol=1e-6)


def test_partial_labels_give_present_flags_and_zero_fill(files):
    root = files.eye_folder(n=6, without_mask=(1, 4), without_class=(2,))
    ds = open_dataset(root, "eye", size=32)
    assert ds.label_counts() == {"disc_cup": 4, "glaucoma": 5, "cdr": 6}
    item = ds[1]
    assert item["case_id"] == "case01" and not bool(item["disc_cup__present"]) and bool(item["glaucoma__present"])
    assert item["disc_cup"].shape == (32, 32) and int(item["disc_cup"].abs().sum()) == 0
    batch = next(iter(DataLoader(ds, batch_size=6)))  # the default collation works: every item has every key
    assert batch["disc_cup__present"].tolist() == [True, False, True, True, False, True]
    assert batch["glaucoma__present"].tolist() == [True, True, False, True, True, True]
    assert batch["case_id"] == [f"case{i:02d}" for i in range(6)]


def test_collate_fills_missing_targets(files):
    root = files.eye_folder(n=4, without_mask=(0,), without_class=(1,))
    ds = open_dataset(root, "eye", size=32, fill_missing=False)
    assert "disc_cup" not in ds[0] and "glaucoma" not in ds[1]
    batch = collate([ds[i] for i in range(4)])
    assert batch["disc_cup"].shape == (4, 32, 32) and batch["disc_cup__present"].tolist() == [False, True, True, True]
    assert batch["glaucoma__present"].tolist() == [True, False, True, True] and batch["glaucoma"][1] == 0
    loader = DataLoader(ds, batch_size=2, collate_fn=collate)
    assert sum(len(b["case_id"]) for b in loader) == 4


def test_task_map_class_names_split_column_and_custom_columns(files):
    root = files.eye_folder(n=4)
    files.csv(
        "eye_ds/labels.csv",
        ["id", "diagnosis", "cdr", "split"],
        [["case00", "normal", 0.3, "train"], ["case01", "Glaucoma suspect", 0.7, "train"], ["case02", 0, 0.4, "test"]],
    )
    ds = open_dataset(root, "eye", tasks="glaucoma,cdr", task_map={"id": "case_id", "diagnosis": "glaucoma"})
    assert [int(ds.sample(i).targets["glaucoma"]) for i in range(3)] == [0, 1, 0]
    assert "glaucoma" not in ds.sample(3).targets  # case03 has an image but no row: unlabelled
    train, test = ds.split()
    assert train.case_ids == ["case00", "case01", "case03"] and test.case_ids == ["case02"]
    with pytest.raises(ValueError, match="not a task column"):
        open_dataset(root, "eye", task_map={"diagnosis": "glaucomaa"})


def test_mask_column_with_paths_isic_style(files):
    """ISIC 2017 keeps masks as <id>_segmentation.png (0/255) in their own folder: a mask column points at them."""
    rows = []
    for i in range(3):
        files.jpeg(f"isic/images/ISIC_{i:07d}.jpg", np.full((40, 50, 3), 120, np.uint8))
        mask = np.zeros((40, 50), np.uint8)
        mask[10:30, 10:40] = 255
        rel = f"GroundTruth/ISIC_{i:07d}_segmentation.png"
        files.png(f"isic/{rel}", mask)
        rows.append([f"ISIC_{i:07d}", f"{i % 2:.1f}", "0.0", rel if i != 2 else ""])
    files.csv("isic/labels.csv", ["image_id", "melanoma", "seborrheic_keratosis", "mask"], rows)
    ds = open_dataset(
        files.root / "isic",
        "other",
        tasks=["lesion", "melanoma"],
        task_map={"image_id": "case_id"},
        mask_values={0: 0, 255: 1},
        size=32,
    )
    assert ds.label_counts() == {"lesion": 2, "melanoma": 3}
    s = ds.sample(1)
    assert int(s.targets["melanoma"]) == 1 and s.targets["lesion"].max() == 1 and s.image.shape == (3, 32, 32)


def test_seeded_split_is_fixed_and_disjoint(files):
    ds = open_dataset(files.eye_folder(n=10), "eye", size=32)
    a_train, a_test = ds.split(test_fraction=0.3)
    _, b_test = ds.split(test_fraction=0.3)
    assert a_test.case_ids == b_test.case_ids and len(a_test) == 3 and len(a_train) == 7
    assert set(a_train.case_ids).isdisjoint(a_test.case_ids)


def test_custom_task_set_without_region(files):
    """A BUSI-like breast-ultrasound set: grey images, lesion masks saved as 0/255, three classes."""
    tasks = [
        TaskSpec("lesion", "segmentation", 2, "lesion mask", class_names=("background", "lesion")),
        TaskSpec("pathology", "classification", 3, "normal / benign / malignant"),
    ]
    for i in range(3):
        files.png(f"busi/images/b{i}.png", np.full((40, 48), 40 * i, np.uint8))
        mask = np.zeros((40, 48), np.uint8)
        mask[10:20, 10 : 20 + i] = 255
        files.png(f"busi/masks/b{i}.png", mask)
    files.csv("busi/labels.csv", ["case_id", "pathology"], [["b0", 0], ["b1", 1], ["b2", 2]])
    with pytest.raises(ValueError, match="pass tasks as a list of TaskSpec"):
        open_dataset(files.root / "busi")
    ds = open_dataset(files.root / "busi", tasks=tasks, channels=1, size=32, mask_values={0: 0, 255: 1})
    item = ds[2]
    assert item["image"].shape == (1, 32, 32) and int(item["pathology"]) == 2
    assert set(item["lesion"].unique().tolist()) == {0, 1}
    assert check_dataset(files.root / "busi", tasks=tasks, channels=1, mask_values={255: 1, 0: 0}) == []
    problems = check_dataset(files.root / "busi", tasks=tasks, channels=1)
    assert len(problems) == 3 and all("values={255: 1}" in p for p in problems)


def test_decathlon_dataset_json_with_volumes(files):
    affine = np.diag([-0.8, 0.8, 2.0, 1.0])  # LAS, anisotropic
    entries = []
    for i in range(3):
        hu = np.full((32, 32, 6), -1000, np.int16)
        hu[8:24, 8:24, :] = 60 + 20 * i  # "liver"
        label = np.zeros((32, 32, 6), np.uint8)
        label[8:24, 8:24, :] = 1
        label[12:16, 12:16, :] = 2
        label[12:16, 15, :] = 3  # the lesion's enhancing component (abdomen generator v2)
        files.nifti(f"msd/imagesTr/liver_{i}.nii.gz", hu, affine)
        files.nifti(f"msd/labelsTr/liver_{i}.nii.gz", label, affine)
        entries.append(
            {
                "image": f"./imagesTr/liver_{i}.nii.gz",
                "label": f"./labelsTr/liver_{i}.nii.gz",
                "malignancy": i % 2,
                "lesion_diameter": 10.0 + i,
                "slice": 2,
            }
        )
    entries[2].pop("malignancy")  # partially labelled
    doc = {
        "name": "tiny",
        "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "liver", "2": "lesion (non-enhancing)", "3": "lesion (enhancing)"},
        "training": entries,
    }
    (files.root / "msd" / "dataset.json").write_text(json.dumps(doc))
    ds = open_dataset(files.root / "msd", "abdomen", size=32)
    assert ds.layout == "decathlon" and ds.case_ids == ["liver_0", "liver_1", "liver_2"]
    s = ds.sample(1)
    assert s.image.shape == (1, 32, 32) and s.meta["format"] == "NIfTI"
    assert set(np.unique(s.targets["liver_lesion"]).tolist()) == {0, 1, 2, 3}
    assert s.image.min() == 0.0 and abs(float(s.image.max()) - (80 - (40 - 200)) / 400) < 1e-6  # soft-tissue window
    assert s.spacing_mm == pytest.approx(0.8)
    assert "malignancy" not in ds.sample(2).targets and not bool(ds[2]["malignancy__present"])
    assert check_dataset(files.root / "msd", "abdomen", size=32) == []
    # LiTS / Decathlon Task03_Liver: three labels (no enhancing class) -> refused for the region's 4 classes, read
    # with a three-class task set and the region's CT window (docs/bring_your_own_data.md, "LiTS")
    doc["labels"] = {"0": "background", "1": "liver", "2": "tumour"}
    for e in entries:
        e.pop("malignancy", None), e.pop("lesion_diameter")
    (files.root / "msd" / "dataset.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match="lists 3 classes"):
        open_dataset(files.root / "msd", "abdomen", size=32)
    lits = [TaskSpec("liver_lesion", "segmentation", 3, "LiTS", class_names=("background", "liver", "tumour"))]
    three = open_dataset(files.root / "msd", "abdomen", tasks=lits, size=32, mask_values={3: 2})
    assert set(np.unique(three.sample(1).targets["liver_lesion"]).tolist()) == {0, 1, 2}
    assert abs(float(three.sample(1).image.max()) - (80 - (40 - 200)) / 400) < 1e-6


def test_decathlon_4d_image_with_3d_label(files):
    """BraTS-style: a multi-modal 4-D image, a 3-D label; ``volume`` picks the modality."""
    image = np.stack([np.full((24, 24, 4), 10.0 * m, np.float32) for m in range(2)], axis=-1)
    image[..., 1] += np.arange(24)[:, None, None]
    label = np.zeros((24, 24, 4), np.uint8)
    label[5:15, 5:15] = 2
    files.nifti("brats/imagesTr/b0.nii.gz", image)
    files.nifti("brats/labelsTr/b0.nii.gz", label)
    entry = {"image": "imagesTr/b0.nii.gz", "label": "labelsTr/b0.nii.gz", "grade": 1, "volume": 1}
    (files.root / "brats" / "dataset.json").write_text(json.dumps({"training": [entry]}))
    s = open_dataset(files.root / "brats", "brain", tasks="tumour,grade", size=32).sample(0)
    assert s.image.std() > 0 and set(np.unique(s.targets["tumour"]).tolist()) == {0, 2}
    entry.pop("volume")
    (files.root / "brats" / "dataset.json").write_text(json.dumps({"training": [entry]}))
    with pytest.raises(DataError, match=r"4-D with shape \(24, 24, 4, 2\)"):
        open_dataset(files.root / "brats", "brain", tasks="tumour,grade", size=32).sample(0)


def test_medmnist_npz(files):
    rng = np.random.default_rng(0)
    path = files.path("pneumonia.npz")
    np.savez_compressed(
        path,
        train_images=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        train_labels=rng.integers(0, 2, (10, 1)),
        val_images=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        val_labels=rng.integers(0, 2, (2, 1)),
        test_images=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        test_labels=rng.integers(0, 2, (4, 1)),
    )
    ds = open_dataset(path, "chest", size=32)  # the chest region's only classification task is chosen
    assert [t.name for t in ds.tasks] == ["cardiomegaly"] and len(ds) == 16
    item = ds[0]
    assert item["image"].shape == (1, 32, 32) and item["case_id"] == "train_00000"
    train, test = ds.split()
    assert len(train) == 10 and len(test) == 4
    assert len(open_dataset(path, "chest", split="val")) == 2
    with pytest.raises(ValueError, match="classification labels only"):
        open_dataset(path, "chest", tasks="lungs_heart,cardiomegaly")
    custom = [TaskSpec("pneumonia", "classification", 2, "pneumonia")]
    ds = open_dataset(path, tasks=custom, channels=3, task_map={"label": "pneumonia"}, size=32)
    assert ds[3]["image"].shape == (3, 32, 32) and ds[3]["pneumonia"].dtype == torch.int64


def test_training_on_partial_labels_uses_masked_losses(files):
    import torch.nn.functional as F

    from mtdl_kit.losses import compute_losses, make_losses
    from mtdl_kit.models import build_model
    from mtdl_kit.train import fit

    eye = get_region("eye")
    root = files.eye_folder(n=8, without_mask=(1, 4), without_class=(2, 5, 6))
    ds = open_dataset(root, "eye", size=32, cache=True)
    model = build_model("parallel", eye.tasks, eye.in_channels, width=4, seed=0, region="eye")
    history = fit(model, ds, steps=3, batch_size=4, progress=False, cosine_every=0, seed=0)
    assert history.steps == 3
    for task in ("disc_cup", "glaucoma", "cdr"):
        assert all(np.isfinite(v) for _, v in history.series("loss", task))
    batch = next(iter(DataLoader(ds, batch_size=8)))
    with torch.no_grad():
        outputs = model(batch["image"])
        losses = compute_losses(make_losses(eye.tasks, eye), outputs, batch)
    keep = batch["glaucoma__present"]
    assert keep.tolist() == [True, True, False, True, True, False, False, True]
    expected = F.cross_entropy(outputs["glaucoma"][keep], batch["glaucoma"][keep])
    assert torch.allclose(losses["glaucoma"], expected)  # the unlabelled (zero-filled) cases are left out
    assert not torch.allclose(losses["glaucoma"], F.cross_entropy(outputs["glaucoma"], batch["glaucoma"]))


def test_train_run_and_cli_on_a_folder(files, tmp_path, capsys):
    from mtdl_kit.experiments import RunConfig, train_run

    root = files.eye_folder(n=8, without_mask=(3,), without_class=(0,))
    cfg = RunConfig(region="eye", family="parallel", steps=2, batch_size=4, size=32, width=4, data_dir=str(root))
    result = train_run(cfg, progress=False)
    assert set(result.metrics) == {"disc_cup", "glaucoma", "cdr"}
    assert len(result.records.case_ids) == 2  # round(0.2 * 8) test cases
    assert cli.main(["data", "check", str(root), "--region", "eye"]) == 0
    assert "OK" in capsys.readouterr().out
    (root / "images" / "case05.png").write_bytes(b"")
    files.png("eye_ds/masks/stray.png", np.zeros((32, 32), np.uint8))
    assert cli.main(["data", "check", str(root), "--region", "eye"]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s)" in out and "case05.png: the file is empty" in out and "mask without image" in out
    assert cli.main(["data", "check", str(tmp_path / "missing"), "--region", "eye"]) == 1
    (root / "images" / "case05.png").unlink()
    (root / "masks" / "stray.png").unlink()
    (root / "masks" / "case05.png").unlink()
    files.csv(
        "eye_ds/labels.csv", ["case_id", "diag", "vcdr"], [[f"case{i:02d}", i % 2, 0.5] for i in range(8) if i != 5]
    )
    argv = ["train", "--data-dir", str(root), "--region", "eye", "--task-map", "diag=glaucoma,vcdr=cdr"]
    argv += [
        "--steps",
        "2",
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
    assert config["data_dir"] == str(root) and config["task_map"] == {"diag": "glaucoma", "vcdr": "cdr"}
    assert cli.main([*argv[:-1], str(tmp_path / "r2"), "--tasks", "glaucoma,nope"]) == 2
