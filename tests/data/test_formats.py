"""Readers of PNG/JPEG/TIFF, DICOM and NIfTI files: round-trip values on files the tests write."""

from __future__ import annotations

import numpy as np
import pytest

from mtdl_kit.data import (
    LUMINANCE,
    WINDOW_PRESETS,
    DataError,
    Geometry,
    apply_window,
    prepare_image,
    read_mask,
    read_raw,
    read_sample,
    read_upload,
    resolve_intensity,
    sniff_format,
    strip_extension,
)
from mtdl_kit.regions import TaskSpec, get_region

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------------------------------
# PNG / JPEG / TIFF
# --------------------------------------------------------------------------------------------------


def test_png_8bit_grey_round_trip_is_exact(files):
    grey = RNG.integers(0, 256, (32, 32), dtype=np.uint8)
    raw = read_raw(files.png("g.png", grey))
    assert raw.format == "PNG" and raw.bits == 8 and np.array_equal(raw.array, grey)
    image, geometry = prepare_image(raw, channels=1, size=32)
    assert geometry.identity and image.shape == (1, 32, 32)
    np.testing.assert_array_equal(image[0], grey.astype(np.float32) / 255.0)


def test_png_16bit_keeps_values_and_uses_percentiles(files):
    g16 = (np.arange(40 * 40).reshape(40, 40) * 2).astype(np.uint16)  # 12-bit-ish data in a 16-bit container
    raw = read_raw(files.png("g16.png", g16))
    assert raw.array.dtype == np.uint16 and raw.bits == 16 and np.array_equal(raw.array, g16)
    assert resolve_intensity(raw) == "percentile"
    image, _ = prepare_image(raw, channels=1, size=40)
    lo, hi = np.percentile(g16.astype(np.float32), [1, 99])
    np.testing.assert_allclose(image[0], np.clip((g16 - lo) / (hi - lo), 0, 1), atol=1e-6)
    assert image.min() == 0.0 and image.max() == 1.0


def test_rgba_is_composited_on_black_or_dropped(files):
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 3] = 200, 100, 127
    raw = read_raw(files.png("rgba.png", rgba))
    assert raw.array.shape == (32, 32, 4)
    composite, _ = prepare_image(raw, channels=3, size=32)
    dropped, _ = prepare_image(raw, channels=3, size=32, rgba="drop")
    np.testing.assert_allclose(composite[:, 0, 0], [200 / 255 * 127 / 255, 100 / 255 * 127 / 255, 0.0], atol=1e-6)
    np.testing.assert_allclose(dropped[:, 0, 0], [200 / 255, 100 / 255, 0.0], atol=1e-6)


def test_channel_conversion_grey_to_rgb_and_rgb_to_luminance(files):
    rgb = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    grey, _ = prepare_image(read_raw(files.png("rgb.png", rgb)), channels=1, size=32)
    np.testing.assert_allclose(grey[0], rgb.astype(np.float32) / 255 @ np.asarray(LUMINANCE, np.float32), atol=1e-6)
    g = RNG.integers(0, 256, (32, 32), dtype=np.uint8)
    three, _ = prepare_image(read_raw(files.png("g.png", g)), channels=3, size=32)
    assert three.shape == (3, 32, 32) and np.array_equal(three[0], three[2])


def test_jpeg_and_tiff_read(files):
    rgb = np.full((48, 40, 3), (180, 90, 30), np.uint8)
    raw = read_raw(files.jpeg("a.jpg", rgb))
    assert raw.format == "JPEG" and raw.array.shape == (48, 40, 3)
    assert np.abs(raw.array.astype(int) - rgb).max() <= 3  # lossy, but a flat colour survives
    t16 = (np.arange(32 * 32).reshape(32, 32) * 40).astype(np.uint16)
    traw = read_raw(files.tiff("b.tif", t16))
    assert traw.format == "TIFF" and np.array_equal(traw.array, t16)


def test_resize_pads_to_square_and_maps_points(files):
    img = np.zeros((40, 20), np.uint8)
    img[10, 5] = 255
    raw = read_raw(files.png("tall.png", img))
    image, geometry = prepare_image(raw, channels=1, size=80)
    assert geometry.offset == (0, 10) and geometry.scale == (2.0, 2.0)
    r, c = geometry.points(np.array([[10.0, 5.0]]))[0]
    assert image[0].max() > 0 and np.unravel_index(image[0].argmax(), image[0].shape) in {
        (int(np.floor(r)), int(np.floor(c))),
        (int(np.ceil(r)), int(np.ceil(c))),
        (int(np.floor(r)), int(np.ceil(c))),
        (int(np.ceil(r)), int(np.floor(c))),
    }
    assert image[0, :, :20].max() == 0.0  # the left padding stays black
    stretch = Geometry.fit((40, 20), 80, "stretch")
    assert stretch.scale == (2.0, 4.0) and stretch.offset == (0, 0)


def test_mask_resize_is_nearest_neighbour(files):
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 1
    mask[12:20, 12:20] = 2
    raw = read_mask(files.png("m.png", mask), num_classes=3)
    out = Geometry.fit(raw.shape2d, 20).mask(raw.array)
    assert out.dtype == np.int64 and set(np.unique(out).tolist()) == {0, 1, 2}


# --------------------------------------------------------------------------------------------------
# DICOM
# --------------------------------------------------------------------------------------------------


def test_dicom_rescale_slope_intercept_reads_back_in_hu(files):
    stored = (np.arange(32 * 32).reshape(32, 32) % 700).astype(np.int16)
    path = files.dicom("ct.dcm", stored, slope=2, intercept=-1024, spacing=(0.5, 0.5))
    raw = read_raw(path)
    assert raw.units == "HU" and raw.modality == "CT" and raw.spacing_mm == (0.5, 0.5)
    np.testing.assert_array_equal(raw.array, stored.astype(np.float32) * 2 - 1024)
    image, _ = prepare_image(raw, channels=1, size=32, intensity="soft_tissue")
    np.testing.assert_allclose(image[0], np.clip((raw.array - (40 - 200)) / 400, 0, 1), atol=1e-6)


def test_dicom_voi_window_first_value_and_region_preset(files):
    stored = (np.arange(32 * 32).reshape(32, 32) % 700).astype(np.int16)
    path = files.dicom("w.dcm", stored, slope=1, intercept=-1024, window=([-600, 40], [1500, 400]))
    raw = read_raw(path)
    assert raw.window == (-600.0, 1500.0)  # first of the multi-valued centre / width
    assert resolve_intensity(raw) == (-600.0, 1500.0)
    assert resolve_intensity(raw, region_window="soft_tissue") == WINDOW_PRESETS["soft_tissue"]
    abdomen = read_sample(path, "abdomen", tasks=[], size=32)
    assert abdomen.meta["intensity"] == (40.0, 400.0) and abdomen.spacing_mm > 0


def test_window_presets_map_level_to_half():
    for level, width in WINDOW_PRESETS.values():
        hu = np.array([level - width / 2, level, level + width / 2, level + width], np.float32)
        np.testing.assert_allclose(apply_window(hu, level, width), [0.0, 0.5, 1.0, 1.0])


def test_monochrome1_is_inverted(files):
    stored = (np.arange(32 * 32).reshape(32, 32) * 3).astype(np.uint16)
    m1 = read_raw(files.dicom("m1.dcm", stored, modality="CR", photometric="MONOCHROME1"))
    m2 = read_raw(files.dicom("m2.dcm", stored, modality="CR", photometric="MONOCHROME2"))
    assert m1.invert and not m2.invert
    a, _ = prepare_image(m1, channels=1, size=32)
    b, _ = prepare_image(m2, channels=1, size=32)
    np.testing.assert_allclose(a, 1.0 - b, atol=1e-6)


def test_dicom_multiframe_default_middle_and_choice(files):
    frames = np.stack([np.full((32, 32), 10 * k, np.uint16) for k in range(5)])
    path = files.dicom("mf.dcm", frames, modality="MR")
    assert read_raw(path).array[0, 0] == 20 and read_raw(path).meta["frame"] == 2
    assert read_raw(path, frame=4).array[0, 0] == 40


# --------------------------------------------------------------------------------------------------
# NIfTI
# --------------------------------------------------------------------------------------------------


def _volume(shape=(20, 24, 18)) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def test_nifti_2d_and_middle_axial_slice(files):
    vol = _volume()
    raw = read_raw(files.nifti("v.nii.gz", vol))
    # RAS data, axial slice in radiological view: anterior up, patient right on the image's left
    np.testing.assert_array_equal(raw.array, np.flip(vol[:, :, 9].T, (0, 1)))
    assert raw.meta["slice"] == 9 and raw.meta["orientation"] == "RAS"
    two = read_raw(files.nifti("p.nii", vol[:, :, 0]))
    np.testing.assert_array_equal(two.array, np.flip(vol[:, :, 0].T, (0, 1)))
    sag = read_raw(files.nifti("v2.nii", vol), axis="sagittal", slice_index=3)
    np.testing.assert_array_equal(sag.array, np.flip(vol[3].T, (0, 1)))


def test_nifti_non_ras_affine_is_reoriented_like_as_closest_canonical(files):
    import nibabel as nib

    vol = _volume()
    ras = read_raw(files.nifti("ras.nii.gz", vol))
    las = read_raw(files.nifti("las.nii.gz", vol[::-1].copy(), np.diag([-1.0, 1, 1, 1])))
    np.testing.assert_array_equal(ras.array, las.array)  # the flipped x axis is undone
    assert las.meta["orientation"] == "LAS"
    permuted = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, -1, 0], [0, 0, 0, 1.0]])
    path = files.nifti("perm.nii", vol, permuted)
    canonical = nib.as_closest_canonical(nib.load(path)).get_fdata()
    for axis, number in (("axial", 2), ("coronal", 1), ("sagittal", 0)):
        raw = read_raw(path, axis=axis, slice_index=2)
        np.testing.assert_allclose(raw.array, np.flip(np.take(canonical, 2, axis=number).T, (0, 1)))


def test_nifti_4d_needs_a_volume(files):
    data = np.stack([np.full((20, 20, 4), v, np.int16) for v in range(3)], axis=-1)
    path = files.nifti("four.nii.gz", data)
    with pytest.raises(DataError, match=r"4-D with shape \(20, 20, 4, 3\).*volume="):
        read_raw(path)
    assert read_raw(path, volume=2).array[0, 0] == 2


# --------------------------------------------------------------------------------------------------
# Samples, uploads, sniffing
# --------------------------------------------------------------------------------------------------


def test_read_sample_with_mask_and_labels(files):
    img = RNG.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 1
    sample = read_sample(
        files.png("i.png", img),
        "eye",
        masks={"disc_cup": files.png("m.png", mask)},
        labels={"glaucoma": "glaucoma suspect", "cdr": 0.7},
        size=64,
    )
    assert sample.image.shape == (3, 64, 64) and sample.region == "eye"
    assert sample.targets["disc_cup"].shape == (64, 64) and int(sample.targets["glaucoma"]) == 1
    np.testing.assert_allclose(sample.targets["cdr"], [0.7])
    knee = get_region("musculoskeletal")
    pts = read_sample(
        files.png("k.png", img[..., 0]), knee, tasks=["landmarks"], labels={"landmarks": [[0, 0]] * 4}, size=80
    ).targets["landmarks"]
    np.testing.assert_allclose(pts, [[0.5, 0.5]] * 4)  # pixel centres scale with the image (x2)


def test_custom_tasks_without_region(files):
    tasks = [TaskSpec("lesion", "segmentation", 2, "lesion"), TaskSpec("kind", "classification", 3, "type")]
    mask = np.zeros((32, 32), np.uint8)
    mask[4:9, 4:9] = 1
    s = read_sample(
        files.png("us.png", np.full((32, 32), 90, np.uint8)),
        tasks=tasks,
        channels=1,
        masks={"lesion": files.png("usm.png", mask)},
        labels={"kind": 2},
        size=32,
    )
    assert s.region == "custom" and int(s.targets["kind"]) == 2 and s.targets["lesion"].sum() == 25


def test_read_upload_png_and_dicom(files):
    png = files.png("u.png", RNG.integers(0, 256, (50, 30), dtype=np.uint8)).read_bytes()
    s = read_upload("folder/u.png", png, "eye")
    assert s.image.shape == (3, 128, 128) and s.targets == {} and s.meta["source"] == "u.png"
    dcm = files.dicom("u.dcm", np.zeros((32, 32), np.int16), slope=1, intercept=-1000).read_bytes()
    s = read_upload("scan.dcm", dcm, "abdomen", size=64)
    assert s.image.shape == (1, 64, 64) and float(s.image.max()) == 0.0  # -1000 HU is black in soft tissue


@pytest.mark.parametrize(
    ("head", "name", "fmt"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "a.png", "PNG"),
        (b"\xff\xd8\xff\xe0" + bytes(40), "a.jpeg", "JPEG"),
        (b"II*\x00" + bytes(40), "a.tif", "TIFF"),
        (bytes(128) + b"DICM" + bytes(40), "IM0001", "DICOM"),
        (bytes(128) + b"DICM" + bytes(40), "1.2.840.1", "DICOM"),
    ],
)
def test_sniff_format_by_content(head, name, fmt):
    assert sniff_format(head, name) == fmt


def test_strip_extension():
    assert strip_extension("case_1.nii.gz") == "case_1"
    assert strip_extension("a.PNG") == "a"
    assert strip_extension("1.2.840.10008") == "1.2.840.10008"
