"""The out-of-distribution check: non-medical uploads are flagged on every region, held-out phantoms pass,
and the notes say what was done to an upload."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mtdl_kit import REGION_NAMES, get_region
from mtdl_kit.data import load_samples
from mtdl_kit.data.samples import demo_seed
from mtdl_kit.services import upload_sample
from mtdl_kit.services.ood import fit_reference, image_features, ood_check, processing_notes, reference_for


def gradient_png() -> bytes:
    """A 256 × 256 grey left-to-right gradient (the issue's example)."""
    buf = io.BytesIO()
    Image.fromarray(np.tile(np.linspace(0, 255, 256).astype(np.uint8), (256, 1))).save(buf, format="PNG")
    return buf.getvalue()


def shapes_jpeg() -> bytes:
    """A synthetic "holiday photo": random colourful discs and boxes on a sky-blue 320 × 240 JPEG."""
    rng = np.random.default_rng(1)
    im = Image.new("RGB", (320, 240), (135, 206, 235))
    draw = ImageDraw.Draw(im)
    for _ in range(25):
        x, y, r = int(rng.integers(0, 320)), int(rng.integers(0, 240)), int(rng.integers(10, 60))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x - r, y - r, x + r, y + r], fill=colour)
    buf = io.BytesIO()
    im.save(buf, format="JPEG")
    return buf.getvalue()


NON_MEDICAL = {"gradient.png": gradient_png(), "holiday.jpg": shapes_jpeg()}


@pytest.mark.parametrize("region", REGION_NAMES)
@pytest.mark.parametrize("name", list(NON_MEDICAL))
def test_a_non_medical_upload_is_flagged_on_every_region(region, name):
    reg = get_region(region)
    sample, error = upload_sample(name, NON_MEDICAL[name], region, size=128)
    assert error is None, error
    result = ood_check(reg, sample)
    assert result.out_of_distribution, (region, name, result.distance, result.threshold)
    assert result.distance > 1.5 * result.threshold  # not a near miss
    assert "withheld" in result.message and "unlike" in result.message


@pytest.mark.parametrize("region", REGION_NAMES)
def test_held_out_phantoms_pass(region):
    reg = get_region(region)
    ref = reference_for(region)
    bundled = load_samples(region)  # the demo cases: held-out seeds, 128 px, stored as 8-bit PNG
    flagged = [s.meta["case_id"] for s in bundled if ood_check(reg, s, ref).out_of_distribution]
    assert not flagged, f"{region}: held-out demo phantoms flagged: {flagged}"
    generated = [reg.sample(demo_seed(i), size=size) for i in range(4) for size in (64, 128, 256)]
    assert not [s.seed for s in generated if ood_check(reg, s, ref).out_of_distribution]
    # relatedness changes labels, not images: the check passes it, and its message says what the models saw
    result = ood_check(reg, reg.sample(demo_seed(0), size=128, relatedness=0.0), ref)
    assert not result.out_of_distribution and "relatedness 1" in result.message


def test_threshold_is_calibrated_on_held_out_phantoms():
    reg = get_region("chest")
    ref = fit_reference(reg, n_reference=64, n_calibration=8)
    assert ref.n_reference == 64 and ref.n_calibration == 8 * 3
    assert np.isfinite(ref.threshold) and ref.threshold > 0
    strict = fit_reference(reg, n_reference=64, n_calibration=8, percentile=50.0)
    assert strict.threshold < ref.threshold
    with pytest.raises(ValueError, match="too few"):
        fit_reference(reg, n_reference=10)
    with pytest.raises(ValueError, match="percentile"):
        fit_reference(reg, percentile=0)


def test_image_features_refuse_a_wrong_shape():
    assert image_features(np.zeros((1, 128, 128), np.float32)).shape == image_features(np.ones((1, 64, 64))).shape
    assert len(image_features(np.zeros((3, 64, 64)))) == len(image_features(np.zeros((1, 64, 64)))) + 4
    with pytest.raises(ValueError, match="1 or 3 channels"):
        image_features(np.zeros((64, 64)))


def test_processing_notes_say_what_was_done_to_an_upload():
    sample, _ = upload_sample("holiday.jpg", NON_MEDICAL["holiday.jpg"], "cardiac", size=128)
    text = " ".join(processing_notes(get_region("cardiac"), sample, model_size=64))
    assert "JPEG, 320 × 240" in text and "colour to grey" in text
    assert "Letterboxed" in text and "top and bottom" in text
    assert "Resized from 320 × 320 to 128 × 128 px" in text and "64 × 64 px for the models" in text
    assert "no pixel spacing" in text and "assume" in text and "relatedness 1" in text
    brain, _ = upload_sample("holiday.jpg", NON_MEDICAL["holiday.jpg"], "brain", size=128)
    text = " ".join(processing_notes(get_region("brain"), brain, model_size=64))
    assert "read as the sequences FLAIR, T1, T1c" in text and "not for a colour picture" in text
    flair, _ = upload_sample("gradient.png", NON_MEDICAL["gradient.png"], "brain", size=128)
    assert "copied into all three sequence channels" in " ".join(
        processing_notes(get_region("brain"), flair, model_size=64)
    )
    grey, _ = upload_sample("gradient.png", NON_MEDICAL["gradient.png"], "eye", size=128)
    text = " ".join(processing_notes(get_region("eye"), grey, model_size=64))
    assert "three colour channels" in text and "Letterboxed" not in text
    phantom = " ".join(
        processing_notes(get_region("eye"), get_region("eye").sample(demo_seed(1), size=128), model_size=64)
    )
    assert "Read as" not in phantom and "128 × 128 to 64 × 64" in phantom


def test_processing_notes_use_the_spacing_a_dicom_header_gives(tmp_path):
    from mtdl_kit.data.demo import write_ct_dicom

    path = write_ct_dicom(tmp_path / "ct.dcm", np.full((64, 64), 40.0, np.float32), spacing_mm=(0.7, 0.7))
    sample, error = upload_sample("ct.dcm", path.read_bytes(), "abdomen", size=128)
    assert error is None, error
    text = " ".join(processing_notes(get_region("abdomen"), sample, model_size=64))
    assert "from the file's header" in text and "no pixel spacing" not in text
