"""Every malformed input gives one DataError naming the file, the problem and what is accepted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from dicom_helpers import unreadable_transfer_syntax
from file_builders import png_header_only

from mtdl_kit.data import MAX_FILE_BYTES, DataError, check_dataset, open_dataset, read_mask, read_raw, read_upload

GREY = (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)


# Each case: (id, writer(files) -> (callable raising, file name expected in the message), message fragment)
def _empty(f):
    p = f.path("empty.png")
    p.write_bytes(b"")
    return lambda: read_raw(p), "empty.png"


def _wrong_extension(f):
    p = f.path("photo.png")
    p.write_bytes(f.jpeg("real.jpg", np.stack([GREY] * 3, -1)).read_bytes())
    return lambda: read_raw(p), "photo.png"


def _unknown_format(f):
    p = f.path("notes.png")
    p.write_text("this is not an image")
    return lambda: read_raw(p), "notes.png"


def _gif(f):
    from PIL import Image

    p = f.path("anim.gif")
    Image.fromarray(GREY).save(p, format="GIF")
    return lambda: read_raw(p), "anim.gif"


def _truncated_png(f):
    p = f.png("cut.png", np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    p.write_bytes(p.read_bytes()[:200])
    return lambda: read_raw(p), "cut.png"


def _truncated_jpeg(f):
    p = f.jpeg("cut.jpg", np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return lambda: read_raw(p), "cut.jpg"


def _one_pixel(f):
    p = f.png("dot.png", np.zeros((1, 1), np.uint8))
    return lambda: read_raw(p), "dot.png"


def _bomb(f):
    p = f.path("bomb.png")
    p.write_bytes(png_header_only(9_000, 8_000))  # 72 megapixels: refused by our limit, before decoding
    return lambda: read_raw(p), "bomb.png"


def _bomb_huge(f):
    p = f.path("huge_bomb.png")
    p.write_bytes(png_header_only(100_000, 100_000))  # refused by Pillow's own guard while opening
    return lambda: read_raw(p), "huge_bomb.png"


def _too_many_bytes(f):
    p = f.png("big.png", GREY)
    return lambda: read_raw(p, max_bytes=10), "big.png"


def _upload_too_large(f):
    data = b"\x89PNG\r\n\x1a\n" + bytes(MAX_FILE_BYTES)
    return lambda: read_upload("huge.png", data, "eye"), "huge.png"


def _dicom_no_pixels(f):
    p = f.dicom("report.dcm", None)
    return lambda: read_raw(p), "report.dcm"


def _dicom_no_decoder(f):
    ts = unreadable_transfer_syntax()
    if ts is None:
        pytest.skip("every tested compressed transfer syntax has a decoder here")
    p = f.dicom(
        "jls.dcm", np.zeros((32, 32), np.int16), transfer_syntax=ts, encapsulated=b"\xff\xd8\xff\xf7" + bytes(64)
    )
    return lambda: read_raw(p), "jls.dcm"


def _dicom_corrupt_j2k(f):
    from pydicom.uid import JPEG2000Lossless

    p = f.dicom("j2k.dcm", np.zeros((32, 32), np.int16), transfer_syntax=JPEG2000Lossless, encapsulated=bytes(64))
    return lambda: read_raw(p), "j2k.dcm"


def _dicom_without_marker(f):
    p = f.path("raw.dcm")
    p.write_bytes(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + bytes(200))
    return lambda: read_raw(p), "raw.dcm"


def _dicom_truncated(f):
    p = f.dicom("cut.dcm", np.zeros((64, 64), np.int16), slope=1, intercept=0)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 3000])
    return lambda: read_raw(p), "cut.dcm"


def _dicom_bad_frame(f):
    p = f.dicom("mf.dcm", np.zeros((3, 32, 32), np.uint16), modality="MR")
    return lambda: read_raw(p, frame=7), "mf.dcm"


def _nifti_4d(f):
    p = f.nifti("bold.nii.gz", np.zeros((20, 20, 4, 5), np.float32))
    return lambda: read_raw(p), "bold.nii.gz"


def _nifti_nan(f):
    vol = np.zeros((20, 20, 5), np.float32)
    vol[3, 3, 2] = np.nan
    p = f.nifti("nan.nii", vol)
    return lambda: read_raw(p), "nan.nii"


def _nifti_inf(f):
    vol = np.zeros((20, 20, 5), np.float32)
    vol[3, 3, 2] = np.inf
    p = f.nifti("inf.nii.gz", vol)
    return lambda: read_raw(p), "inf.nii.gz"


def _nifti_truncated(f):
    p = f.nifti("cut.nii.gz", np.random.default_rng(0).normal(size=(30, 30, 30)).astype(np.float32))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return lambda: read_raw(p), "cut.nii.gz"


def _nifti_bad_slice(f):
    p = f.nifti("v.nii", np.zeros((20, 20, 5), np.int16))
    return lambda: read_raw(p, slice_index=9), "v.nii"


def _analyze_pair(f):
    import nibabel as nib

    p = f.path("pair.img")
    nib.save(nib.Nifti1Pair(np.zeros((20, 20, 3), np.int16), np.eye(4)), p)
    hdr = p.with_suffix(".hdr")
    return lambda: read_raw(hdr), "pair.hdr"


def _non_utf8_name(f):
    raw = os.fsencode(f.root) + b"/caf\xe9.png"
    with open(raw, "wb") as fh:
        fh.write(f.png("ok.png", GREY).read_bytes())
    return lambda: read_raw(os.fsdecode(raw)), "caf\\xe9.png"


def _mask_jpeg(f):
    p = f.jpeg("mask.jpg", np.stack([GREY] * 3, -1))
    return lambda: read_mask(p, num_classes=2), "mask.jpg"


def _mask_colour(f):
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[4:10, 4:10] = (255, 0, 0)
    p = f.png("mask_rgb.png", rgb)
    return lambda: read_mask(p, num_classes=3), "mask_rgb.png"


def _mask_out_of_range(f):
    m = np.zeros((32, 32), np.uint8)
    m[5:9, 5:9] = 255
    p = f.png("mask255.png", m)
    return lambda: read_mask(p, num_classes=2), "mask255.png"


def _mask_fractional(f):
    m = np.zeros((20, 20, 3), np.float32)
    m[2:5, 2:5, 1] = 0.5
    p = f.nifti("soft.nii.gz", m)
    return lambda: read_mask(p, num_classes=2), "soft.nii.gz"


def _upload_not_bytes(f):
    return lambda: read_upload("a.png", "not bytes", "eye"), "a.png"


BAD_FILES = [
    (_empty, "empty (0 bytes)"),
    (_wrong_extension, "content is JPEG but the extension '.png' says PNG"),
    (_unknown_format, "unknown or corrupt file format"),
    (_gif, "GIF files are not supported"),
    (_truncated_png, "corrupt or truncated"),
    (_truncated_jpeg, "corrupt or truncated"),
    (_one_pixel, "only 1x1 pixels"),
    (_bomb, "above the 64-megapixel limit"),
    (_bomb_huge, "decompression bomb"),
    (_too_many_bytes, "above the limit of 10 bytes"),
    (_upload_too_large, "above the limit of 20 MB"),
    (_dicom_no_pixels, "no pixel data"),
    (_dicom_no_decoder, "no installed decoder handles it"),
    (_dicom_corrupt_j2k, "cannot decode the pixel data"),
    (_dicom_without_marker, "'DICM' marker"),
    (_dicom_truncated, "corrupt or truncated"),
    (_dicom_bad_frame, "frame 7 does not exist"),
    (_nifti_4d, "4-D with shape (20, 20, 4, 5)"),
    (_nifti_nan, "1 NaN and 0 infinite"),
    (_nifti_inf, "0 NaN and 1 infinite"),
    (_nifti_truncated, "truncated"),
    (_nifti_bad_slice, "slice 9 does not exist"),
    (_analyze_pair, ".hdr/.img pair"),
    (_non_utf8_name, "not valid UTF-8"),
    (_mask_jpeg, "masks must not be JPEG"),
    (_mask_colour, "colour (RGB)"),
    (_mask_out_of_range, "values={255: 1}"),
    (_mask_fractional, "non-integer values"),
    (_upload_not_bytes, "expected the uploaded bytes"),
]


@pytest.mark.parametrize(("writer", "fragment"), BAD_FILES, ids=[w.__name__.strip("_") for w, _ in BAD_FILES])
def test_bad_file_gives_one_clear_data_error(files, writer, fragment):
    call, shown = writer(files)
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert fragment in message, message
    assert shown in message, message  # the file is named
    assert isinstance(info.value, ValueError) and "\n" not in message


# --------------------------------------------------------------------------------------------------
# Dataset-level problems
# --------------------------------------------------------------------------------------------------


def _folder(files, n=3, size=32):
    root = files.eye_folder("ds", n=n, size=size)
    return root


def _missing_mask_declared(files):
    root = _folder(files)
    (root / "masks" / "case01.png").unlink()
    files.csv(
        "ds/labels.csv", ["case_id", "glaucoma", "cdr", "mask"], [[f"case{i:02d}", 0, 0.3, "yes"] for i in range(3)]
    )
    return root, "missing mask"


def _mask_without_image(files):
    root = _folder(files)
    files.png("ds/masks/ghost.png", np.zeros((32, 32), np.uint8))
    return root, "mask without image"


def _label_column_absent(files):
    root = _folder(files)
    files.csv("ds/labels.csv", ["case_id", "diag", "cdr"], [[f"case{i:02d}", 0, 0.3] for i in range(3)])
    return root, "no column 'glaucoma'"


def _label_non_numeric(files):
    root = _folder(files)
    files.csv("ds/labels.csv", ["case_id", "glaucoma", "cdr"], [["case00", 0, "high"], ["case01", 1, 0.5]])
    return root, "'high' is not numeric"


def _class_out_of_range(files):
    root = _folder(files)
    files.csv("ds/labels.csv", ["case_id", "glaucoma", "cdr"], [["case00", 3, 0.4]])
    return root, "class 3 is out of range"


def _duplicate_case_ids(files):
    root = _folder(files)
    files.jpeg("ds/images/case00.jpg", np.zeros((32, 32, 3), np.uint8))
    return root, "duplicate case id 'case00'"


def _duplicate_csv_rows(files):
    root = _folder(files)
    files.csv("ds/labels.csv", ["case_id", "glaucoma", "cdr"], [["case00", 0, 0.4], ["case00", 1, 0.5]])
    return root, "duplicate case id 'case00' (also line 2)"


def _empty_folder(files):
    root = files.root / "nothing"
    (root / "images").mkdir(parents=True)
    return root, "the folder is empty"


def _no_layout(files):
    root = files.root / "random"
    root.mkdir()
    (root / "readme.txt").write_text("hi")
    return root, "no recognised dataset layout"


def _csv_not_utf8(files):
    root = _folder(files)
    (root / "labels.csv").write_bytes("case_id,glaucoma,cdr\ncase00,0,0.4\ncafé,1,0.5\n".encode("latin-1"))
    return root, "not UTF-8 text"


def _bad_split(files):
    root = _folder(files)
    files.csv("ds/labels.csv", ["case_id", "glaucoma", "cdr", "split"], [["case00", 0, 0.4, "holdout"]])
    return root, "split 'holdout'"


def _json_invalid(files):
    root = files.root / "msd"
    root.mkdir()
    (root / "dataset.json").write_text('{"training": [}')
    return root, "not valid JSON"


def _json_missing_image(files):
    root = files.root / "msd"
    root.mkdir()
    (root / "dataset.json").write_text(
        json.dumps(
            {"training": [{"image": "./imagesTr/a.nii.gz", "label": "./labelsTr/a.nii.gz", "glaucoma": 1, "cdr": 0.5}]}
        )
    )
    return root, "not found"


def _npz_without_arrays(files):
    p = files.path("mnist.npz")
    np.savez(p, something=np.zeros(3))
    return p, "no {train,val,test}_images"


def _npz_label_out_of_range(files):
    p = files.path("mnist.npz")
    np.savez(p, train_images=np.zeros((4, 28, 28), np.uint8), train_labels=np.array([[0], [1], [5], [1]]))
    return p, "out of range"


BAD_DATASETS = [
    _missing_mask_declared,
    _mask_without_image,
    _label_column_absent,
    _label_non_numeric,
    _class_out_of_range,
    _duplicate_case_ids,
    _duplicate_csv_rows,
    _empty_folder,
    _no_layout,
    _csv_not_utf8,
    _bad_split,
    _json_invalid,
    _json_missing_image,
    _npz_without_arrays,
    _npz_label_out_of_range,
]


@pytest.mark.parametrize("writer", BAD_DATASETS, ids=[w.__name__.strip("_") for w in BAD_DATASETS])
def test_bad_dataset_raises_on_open_and_is_listed_by_check(files, writer):
    root, fragment = writer(files)
    region, tasks = ("eye", ["glaucoma"]) if Path(root).suffix == ".npz" else ("eye", None)
    with pytest.raises(DataError, match=None) as info:
        open_dataset(root, region, tasks=tasks)
    assert fragment in str(info.value), str(info.value)
    problems = check_dataset(root, region, tasks=tasks)
    assert any(fragment in p for p in problems), problems


def test_mask_size_and_corrupt_image_found_on_decoding(files):
    root = _folder(files, n=4)
    files.png("ds/masks/case01.png", np.zeros((20, 32), np.uint8))  # wrong size
    (root / "images" / "case02.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(30))  # corrupt
    ds = open_dataset(root, "eye")  # structure is fine: contents are decoded on access
    with pytest.raises(DataError, match=r"case01\.png: the mask is 20x32 pixels but its image .* is 32x32"):
        ds.sample(1)
    with pytest.raises(DataError, match=r"case02\.png: cannot"):
        ds[2]


def test_check_dataset_lists_several_problems_at_once(files):
    root = _folder(files, n=5)
    files.png("ds/masks/case01.png", np.zeros((20, 32), np.uint8))  # mask size != image size
    (root / "images" / "case02.png").write_bytes(b"")  # empty image
    files.png("ds/masks/orphan.png", np.zeros((32, 32), np.uint8))  # mask without image
    files.png("ds/masks/case03.png", np.full((32, 32), 7, np.uint8))  # class index out of range
    files.csv(
        "ds/labels.csv",
        ["case_id", "glaucoma", "cdr"],
        [["case00", 2, 0.3], ["case01", 0, 0.4], ["case04", "maybe", 0.5], ["case09", 0, 0.1]],
    )
    problems = check_dataset(root, "eye")
    expected = [
        "case01.png: the mask is 20x32",
        "case02.png: the file is empty",
        "mask without image: no case 'orphan'",
        "class index [7] out of range",
        "'maybe' is not an integer class index",
        "class 2 is out of range",
        "case 'case09' has no image",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(expected), problems


@pytest.mark.filterwarnings("ignore")
def test_corrupted_bytes_give_data_error_or_an_image(files):
    """Random damage to valid files (flipped bytes, truncation, overwritten runs) never escapes as another error."""
    rng = np.random.default_rng(7)
    sources = [
        files.png("a.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)),
        files.png("b.png", rng.integers(0, 4000, (40, 40)).astype(np.uint16)),
        files.jpeg("c.jpg", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)),
        files.tiff("d.tif", rng.integers(0, 256, (40, 40), dtype=np.uint8)),
        files.dicom(
            "e.dcm", rng.integers(-999, 999, (3, 32, 32)).astype(np.int16), slope=1, intercept=0, window=(40, 400)
        ),
        files.nifti("f.nii.gz", rng.normal(size=(20, 20, 8)).astype(np.float32)),
        files.nifti("g.nii", rng.integers(0, 3, (20, 20, 8)).astype(np.int16)),
    ]
    for source in sources:
        data = source.read_bytes()
        for trial in range(15):
            damaged = bytearray(data)
            if trial % 3 == 0:
                for _ in range(int(rng.integers(1, 20))):
                    damaged[int(rng.integers(0, len(damaged)))] = int(rng.integers(0, 256))
            elif trial % 3 == 1:
                damaged = damaged[: int(rng.integers(0, len(damaged)))]
            else:
                i = int(rng.integers(0, len(damaged)))
                damaged[i : i + 100] = rng.integers(0, 256, 100).astype(np.uint8).tobytes()
            target = files.path(f"damaged/{source.name}")
            target.write_bytes(bytes(damaged))
            try:
                raw = read_raw(target)
            except DataError:
                continue
            assert raw.array.ndim in (2, 3) and min(raw.shape2d) >= 16
