from __future__ import annotations

import pytest
import torch

from mtdl_kit.checkpoint import CheckpointError, load_checkpoint, rebuild_model, save_checkpoint, sha256_file


@pytest.fixture
def saved(tmp_path, small_model):
    model = small_model(seed=1)
    path = tmp_path / "model.pt"
    digest = save_checkpoint(model, path, meta={"note": "test"})
    return model, path, digest


def test_round_trip(saved, small_model):
    model, path, digest = saved
    assert sha256_file(path) == digest
    assert (path.parent / "model.pt.sha256").read_text().startswith(digest)
    fresh = small_model(seed=2)
    ckpt = load_checkpoint(path, fresh)
    assert ckpt["meta"] == {"note": "test"}
    x = torch.rand(2, 3, 64, 64)
    model.eval()
    fresh.eval()
    with torch.no_grad():
        a, b = model(x), fresh(x)
    assert all(torch.equal(a[k], b[k]) for k in a)
    rebuilt = rebuild_model(path).eval()
    with torch.no_grad():
        c = rebuilt(x)
    assert all(torch.equal(a[k], c[k]) for k in a)
    assert not list(path.parent.glob(".*.tmp")), "no temporary file left behind"


def test_tampered_file(saved):
    _, path, _ = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.pt: sha256 .* modified or truncated"):
        load_checkpoint(path)


def test_truncated_file(saved):
    _, path, _ = saved
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="modified or truncated"):
        load_checkpoint(path)
    # even with a matching digest, a truncated archive is reported by name, not as a raw traceback
    with pytest.raises(CheckpointError, match=r"model\.pt: cannot be read"):
        load_checkpoint(path, sha256=sha256_file(path))


def test_wrong_architecture(saved, small_model):
    _, path, _ = saved
    with pytest.raises(
        CheckpointError, match=r"different architecture.*family: model 'hybrid' vs checkpoint 'parallel'"
    ):
        load_checkpoint(path, small_model("hybrid"))


def test_missing_sidecar_and_file(saved, tmp_path):
    _, path, _ = saved
    (path.parent / "model.pt.sha256").unlink()
    with pytest.raises(CheckpointError, match="no sha256"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
