"""The transfer lab's protocol: what every experiment trains and tests under (issue 12, point 1).

One definition of the split sizes, the network size and the stopping rule's settings, shared by the
configurations of experiments A and C (:class:`~mtdl_kit.lab.transfer.TransferConfig`) and E
(:class:`~mtdl_kit.lab.starved.StarvedConfig`), and of their checks. A seed fixes a training subset
(``SUBSET_STRIDE * seed + i`` inside the training split) and the initial weights of what the arms
share; validation and test cases come from fixed, disjoint seeds; every arm stops by the same
validation rule (:class:`~mtdl_kit.stopping.ValidationStopping`). Research and teaching use only —
not for clinical use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: seeds of a training subset are ``SUBSET_STRIDE * seed + i`` inside the training split
SUBSET_STRIDE = 10_000
#: a training subset's seeds stay below this offset, as :class:`~mtdl_kit.data.PhantomDataset` requires of ``base_seed``
_SPLIT_SPAN = 90_000_000

#: protocol fields added after the first cached runs: left out of a cache key while off
_LATER_FIELDS = ("select_after_warmup", "chance_guard")
#: where a lab run may train (:attr:`LabProtocol.device`)
LAB_DEVICES = ("cpu", "cuda", "mps")


#: training cases of a full experiment where the protocol's 256 leave a task at chance (the adopted protocol of
#: 2026-12-05, with :attr:`LabProtocol.chance_guard`). The knee's joint-space width: at 256 cases its single-task
#: networks do not beat the training median (MAE 1.06-1.28 mm against 1.20 mm), at 1,024 they do (0.53-0.73 mm),
#: seeds 0-2 (RESULTS "families-lab-n_train1024-musculoskeletal-headline256"). The brain's grade and tumour area: at
#: 256 cases its single-task networks learn next to nothing (grade AUC 0.45-0.55 against chance 0.50; area MAE
#: 368-413 against the training median's 411-412), at 1,024 the area networks reach 65-120 and the equal-parameter
#: grade network AUC 0.90-0.96, seeds 0 and 4 (RESULTS
#: "families-lab-n_train1024-brain", 2026-12-05, before any brain headline was summarised). The pathology's
#: nuclear-size score and nuclei count: at 256 cases grade AUC 0.52-0.65 and count MAE 9.6-12.8 against the
#: training median's 12.1, at 1,024 AUC 0.90-0.92 and MAE 4.3-5.0 under both rules, seeds 0 and 4 (RESULTS
#: "families-lab-n_train1024-pathology", 2026-12-05, before any pathology headline was trained). The abdomen keeps
#: 256: its single-task malignancy and diameter networks stay at an image-blind guess on 256 and on 1,024 cases
#: (AUC 0.46-0.53, MAE 7.8-8.6 mm against the median's 7.8), seeds 0 and 4 (RESULTS
#: "families-lab-n_train1024-abdomen", 2026-12-06, before any abdomen family was trained), so the larger set buys
#: the baseline nothing. Experiment G uses it; experiment E under ``adopted=True``
#: (:func:`~mtdl_kit.lab.starved.default_starved_config`).
TRAINING_CASES: dict[str, int] = {"musculoskeletal": 1024, "brain": 1024, "pathology": 1024}

#: the small protocol of the quick modes (tests, a first look): a run takes seconds on one CPU thread
QUICK_PROTOCOL: dict[str, Any] = {
    "n_train": 48,
    "n_val": 32,
    "n_test": 64,
    "size": 32,
    "width": 4,
    "max_steps": 60,
    "eval_every": 15,
    "patience": 2,
    "min_evaluations": 2,
    "batch_size": 8,
    "n_boot": 200,
}


@dataclass(frozen=True)
class LabProtocol:
    """The training and evaluation protocol every experiment of the lab shares.

    Attributes:
        n_train: training cases per seed.
        n_val: validation cases (fixed, disjoint seeds).
        n_test: test cases (fixed, disjoint seeds).
        size: image size in pixels.
        width: backbone width of every network.
        max_steps: upper bound on optimisation steps; validation stopping usually ends a run earlier.
        eval_every: validation interval in steps.
        patience: evaluations without improvement before stopping.
        min_evaluations: evaluations before any stop (every run trains at least
            ``min_evaluations * eval_every`` steps, so a slow auxiliary task gets a chance to help).
        batch_size: batch size.
        lr: Adam learning rate.
        n_boot: bootstrap replicates of each contrast.
        select_after_warmup: the first ``min_evaluations`` evaluations cannot become the selected
            checkpoint (:class:`~mtdl_kit.stopping.ValidationStopping`'s ``warmup``). Off in
            experiments A and C, whose cached results predate it; on in experiment E. Left out of a
            configuration's cache key while off, so the earlier caches stay valid.
        chance_guard: the stopping rule's patience starts only once every watched task has beaten its
            validation chance level (:class:`~mtdl_kit.stopping.ValidationStopping`'s ``chance``; the levels
            of the seed's image-blind predictor, :func:`~mtdl_kit.lab.chance.validation_chance`), so a task
            still on a blank-map plateau is not mistaken for a converged one. Off by default and left out of
            the cache key while off, like :attr:`select_after_warmup`; on in experiment G.
        device: where every run trains and is scored: ``"cpu"`` (the default, and every committed result:
            bit-reproducible on one thread), ``"cuda"`` or ``"mps"``. On CUDA, :func:`~mtdl_kit.train.fit`
            trains under autocast (bf16, else fp16), so a GPU's results match the CPU's in distribution, not
            digit for digit; they are cached under their own key (the field is left out of the key only
            while ``"cpu"``). Never ``"auto"``: a comparison states where it ran. A configuration naming a device
            that is not here is valid (its cached runs and tables can be read anywhere); :meth:`train` raises a
            ``ValueError`` naming it at the first network to train.
    """

    n_train: int = 256
    n_val: int = 64
    n_test: int = 256
    size: int = 64
    width: int = 8
    max_steps: int = 1500
    eval_every: int = 50
    patience: int = 8
    min_evaluations: int = 8
    batch_size: int = 16
    lr: float = 2e-3
    n_boot: int = 2000
    select_after_warmup: bool = False
    chance_guard: bool = False
    device: str = "cpu"

    def stopping_rule(self, tasks: Sequence[Any], *, chance: Mapping[str, float] | None = None) -> Any:
        """The validation rule every arm of an experiment stops by: every task's primary validation metric.

        Args:
            tasks: the network's :class:`~mtdl_kit.regions.base.TaskSpec` s.
            chance: task name -> its primary metric's validation chance level; required when
                :attr:`chance_guard` is on (:func:`~mtdl_kit.lab.chance.validation_chance`), ignored when off.
                A NaN level (an AUC on a validation split that lacks a class: undefined for every model
                there) leaves that task unguarded.

        Returns:
            A fresh :class:`~mtdl_kit.stopping.ValidationStopping`.

        Raises:
            ValueError: :attr:`chance_guard` is on and a task has no chance level.
        """
        from mtdl_kit.stopping import ValidationStopping

        if self.chance_guard:
            missing = [t.name for t in tasks if chance is None or t.name not in chance]
            if missing:
                raise ValueError(
                    f"chance_guard is on but tasks {missing} have no validation chance level; pass "
                    "chance=mtdl_kit.lab.chance.validation_chance(...) or turn chance_guard off."
                )
        return ValidationStopping.on_primary_metrics(
            tasks,
            patience=self.patience,
            min_evaluations=self.min_evaluations,
            warmup=self.min_evaluations if self.select_after_warmup else 0,
            chance={t: v for t, v in chance.items() if math.isfinite(v)} if self.chance_guard and chance else None,
        )

    def rule_for(self, tasks: Sequence[Any], train: Any, val: Any, *, region: Any) -> Any:
        """The stopping rule of a run that trains on ``train`` and is validated on ``val``: :meth:`stopping_rule`,
        guarded with the seed's validation chance levels (:func:`~mtdl_kit.lab.chance.validation_chance`, the
        image-blind predictor fit on ``train``) when :attr:`chance_guard` is on.
        """
        from mtdl_kit.lab.chance import validation_chance

        chance = validation_chance(tasks, train, val, region=region) if self.chance_guard else None
        return self.stopping_rule(tasks, chance=chance)

    def train(
        self, model: Any, train: Any, val: Any, *, seed: int, region: Any, rule: Any, **fit_options: Any
    ) -> tuple[Any, float]:
        """Train ``model`` under the protocol: at most :attr:`max_steps`, validated on ``val`` every
        :attr:`eval_every` steps and stopped by ``rule`` (:meth:`stopping_rule`), on :attr:`device`.

        Args:
            fit_options: further :func:`mtdl_kit.train.fit` arguments (e.g. ``weighting``,
                ``callbacks``, a smaller ``batch_size``, a ``snapshot`` file that a killed run continues from).

        Returns:
            ``(history, seconds)``: the seconds of a run continued from a snapshot include those spent before.
        """
        import time

        from mtdl_kit.device import pick_device
        from mtdl_kit.train import fit

        try:
            pick_device(self.device)
        except ValueError as err:
            raise ValueError(
                f"this configuration trains on {self.device!r}, which is not available here; run it where it is, or "
                "with device 'cpu' (cached runs of either are read anywhere: only a network to train needs it)."
            ) from err
        options = {"batch_size": self.batch_size, **fit_options}
        t0 = time.perf_counter()
        history = fit(
            model,
            train,
            steps=self.max_steps,
            lr=self.lr,
            seed=seed,
            eval_data=val,
            eval_every=self.eval_every,
            stopping=rule,
            region=region,
            cosine_every=0,
            progress=False,
            device=self.device,
            **options,
        )
        return history, time.perf_counter() - t0 + float(history.config.get("seconds_before_resume", 0.0))

    def splits(self, region: str, tasks: Sequence[str], seed: int) -> tuple[Any, Any, Any]:
        """The seed's training subset and the fixed validation and test splits of ``region`` (relatedness 1,
        no label noise), each with the labels of ``tasks``.

        Returns:
            ``(train, val, test)`` :class:`~mtdl_kit.data.PhantomDataset` s.
        """
        from mtdl_kit.data import PhantomDataset

        common = {"size": self.size, "tasks": list(tasks), "cache": True}
        train = PhantomDataset(region, self.n_train, split="train", base_seed=SUBSET_STRIDE * seed, **common)
        val = PhantomDataset(region, self.n_val, split="val", **common)
        test = PhantomDataset(region, self.n_test, split="test", **common)
        return train, val, test

    def digest(self, experiment: str, skip: Sequence[str]) -> str:
        """A cache key: the digest of this configuration's fields but ``skip`` (those that do not change a
        run's result: seeds, arms, ``n_boot``), with the region's generator version and the experiment's name.
        """
        import hashlib
        import json
        from dataclasses import asdict

        from mtdl_kit.regions import get_region

        fields = self.key_fields({k: v for k, v in asdict(self).items() if k not in skip})
        fields["generator_version"] = get_region(self.region).generator_version  # type: ignore[attr-defined]
        fields["experiment"] = experiment
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]

    def key_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` without the protocol fields added later that are still at their original value (the flags
        off, the device the CPU), so the caches written before them keep their keys."""
        return {
            k: v
            for k, v in fields.items()
            if not (k in _LATER_FIELDS and v is False) and not (k == "device" and v == "cpu")
        }

    def validate_protocol(self, seeds: Sequence[int]) -> None:
        """Raise ``ValueError`` naming the first bad protocol field or seed list.

        Args:
            seeds: the experiment's training seeds (at least 2, distinct, non-negative, and small
                enough that every training subset stays inside the training split).
        """
        for name in ("n_train", "n_val", "n_test", "max_steps", "eval_every", "patience", "batch_size", "n_boot"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.min_evaluations < 0:
            raise ValueError(f"min_evaluations must be >= 0, got {self.min_evaluations}.")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")
        if len(set(seeds)) != len(seeds) or len(seeds) < 2 or min(seeds) < 0:
            raise ValueError(f"seeds must be at least 2 distinct non-negative integers, got {tuple(seeds)}.")
        if max(seeds) * SUBSET_STRIDE + self.n_train >= _SPLIT_SPAN:
            raise ValueError(f"seeds up to {_SPLIT_SPAN // SUBSET_STRIDE - 1} keep the training subsets in range.")
        if self.device not in LAB_DEVICES:
            raise ValueError(
                f"device must be one of {LAB_DEVICES} (a lab run states where it ran, so not 'auto'), "
                f"got {self.device!r}."
            )
