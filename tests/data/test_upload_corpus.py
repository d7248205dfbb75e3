"""Every kind of malformed or edge-case upload (tests/file_builders.py) gives its expected outcome.

The same corpus feeds ``benchmarks/bench_bad_inputs.py``, which also runs the heavy cases (tens of
megapixels, a 240 MB volume) and measures time and memory; here each case runs in-process.
Accepted files carry the notes/warnings they must; refusals are one :class:`DataError` naming the
file, the problem and the fix (a non-empty hint), never another exception.
"""

from __future__ import annotations

import pytest
from file_builders import ACCEPTED, corpus, real_files

from mtdl_kit.data import DataError, read_upload

CASES = corpus(heavy=False)


def test_the_corpus_has_at_least_80_kinds():
    assert len(corpus(heavy=True)) >= 80
    assert {c.group for c in CASES} >= {"name", "container", "raster", "DICOM", "NIfTI"}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_upload_gives_its_expected_outcome(case):
    data = case.make()
    if data is None:
        pytest.skip("needs a file or decoder state this installation lacks")
    if case.expect == ACCEPTED:
        sample = read_upload(case.name, data, "cardiac", **case.options)
        said = " ".join(sample.meta["notes"] + sample.meta["warnings"])
        assert case.says in said, said
        assert (
            sample.image.shape == (1, 128, 128) and 0.0 <= float(sample.image.min()) <= float(sample.image.max()) <= 1
        )
        return
    with pytest.raises(DataError) as info:
        read_upload(case.name, data, "cardiac", **case.options)
    error = info.value
    message = str(error)
    assert case.expect in message, message
    assert error.hint and error.problem and "\n" not in message, message  # problem and fix, one line
    assert message.startswith(error.file) and error.file, message  # the file is named first
    assert " object at 0x" not in message, message


REAL = real_files()


def test_pydicom_and_nibabel_sample_files_are_found():
    packages = {package for package, *_ in REAL}
    assert packages == {"pydicom", "nibabel"}
    names = {rel.rsplit("/", 1)[-1] for _, rel, _, _ in REAL}
    assert {"CT_small.dcm", "MR_small.dcm", "example4d.nii.gz", "anatomical.nii"} <= names


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("package", "rel", "path", "expected"), REAL, ids=[f"{p}:{r}" for p, r, _, _ in REAL])
def test_real_sample_file_is_read_or_refused_for_its_reason(package, rel, path, expected):
    data = path.read_bytes()
    if len(data) > 20 * 1024 * 1024:
        pytest.skip("larger than an upload")
    if expected == ACCEPTED:
        sample = read_upload(path.name, data, "cardiac")
        assert sample.image.shape == (1, 128, 128)
        return
    with pytest.raises(DataError) as info:
        read_upload(path.name, data, "cardiac")
    assert expected in str(info.value) and info.value.hint, str(info.value)
