"""One torchrun process of tests/train/test_ddp.py: train 3 steps, save this rank's weights.

Usage: ``torchrun --standalone --nproc_per_node=2 ddp_worker.py OUT_DIR WEIGHTING``
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist

from mtdl_kit.data import PhantomDataset
from mtdl_kit.models import build_model
from mtdl_kit.regions import get_region
from mtdl_kit.train import fit


def main(out_dir: str, weighting: str) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    eye = get_region("eye")
    # different initial weights per rank: fit() must broadcast rank 0's weights first
    model = build_model("parallel", eye.tasks, 3, width=4, seed=rank, region="eye")
    history = fit(
        model,
        PhantomDataset("eye", 16, size=64),
        steps=3,
        batch_size=4,
        weighting=weighting,
        progress=False,
        cosine_every=0,
    )
    if history.config["world_size"] != world:
        raise SystemExit(f"fit() saw world_size {history.config['world_size']}, torchrun started {world}")
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, os.path.join(out_dir, f"{rank}.pt"))
    # both ranks reach this point before the group is torn down: on a loaded 2-core machine one rank
    # destroying the group while the other still had gloo work in flight aborted with
    # "terminate called without an active exception" (clean-clone CI, 2026-12-03)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:3])
