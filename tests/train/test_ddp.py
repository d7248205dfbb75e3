"""Two CPU processes (gloo) started by ``torchrun``, as a user would: replicas stay identical.

The workers are real ``torchrun`` children with a clean environment, not ``mp.spawn`` children of
the pytest process: spawn children inherit pytest's ``sys.path`` and re-import its main module, and
in a full CI run that state (not the library) made workers fail. Gloo is pinned to the loopback
interface (``GLOO_SOCKET_IFNAME=lo``): both processes are on this machine, and on a sandboxed CI
host the interface gloo derives from the host name may not route between them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _run_torchrun(out_dir: Path, weighting: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MASTER_", "RANK", "WORLD_", "LOCAL_"))}
    env.update({"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "MTDL_KIT_WARMUP": "0"})
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(WORKER),
        str(out_dir),
        weighting,
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("weighting", ["ew", "upgrad"])
def test_two_process_replicas_end_identical(tmp_path, weighting):
    run = _run_torchrun(tmp_path, weighting)
    output = f"--- stdout ---\n{run.stdout[-4000:]}\n--- stderr ---\n{run.stderr[-8000:]}"
    assert run.returncode == 0, f"torchrun exited {run.returncode}\n{output}"
    a = torch.load(tmp_path / "0.pt", weights_only=True)
    b = torch.load(tmp_path / "1.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    from mtdl_kit.models import build_model
    from mtdl_kit.regions import get_region

    initial = build_model("parallel", get_region("eye").tasks, 3, width=4, seed=0, region="eye").state_dict()
    assert any(not torch.equal(initial[k], a[k]) for k in a), "training changed the weights"
