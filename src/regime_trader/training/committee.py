"""A committee over seeds as a `Policy`: the mean Q-values of several runs of one config.

`committee_policy(folders)` loads the runs (e.g. the seeds of one walk-forward window,
trained by `train_population`), checks that they differ only in ``train.seed`` (and
tracking), so they share the data, features and scaler, and returns a greedy `Policy`
whose net is `nets.population.Committee` of theirs. Everything that takes a `Policy`
(backtest, calibration, evaluation tables) takes it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from regime_trader.errors import ConfigError
from regime_trader.nets.population import Committee
from regime_trader.policy.policy import Policy, load_folder

#: Fields committee members may differ in.
SEED_FIELDS: dict[str, Any] = {"tracking": True, "train": {"seed"}}


def committee_policy(
    folders: Sequence[str | Path], device: str | torch.device = "cpu", *, label: str = "committee"
) -> Policy:
    """The greedy policy of the mean Q-values of the runs in ``folders``.

    Members' calibrations are ignored (a committee is uncalibrated until it is calibrated
    itself); the config, scaler and bars per year are the first member's (equal in all).

    Raises:
        ConfigError: no folders, a folder that does not load, or members whose configs
            differ in more than ``train.seed``, or whose scalers differ.
    """
    if not folders:
        raise ConfigError("committee_policy: no run folders given")
    members = [load_folder(f, device, check_calibration=False) for f in folders]
    first = members[0]
    shared = first.config.model_dump(mode="json", exclude=SEED_FIELDS)
    for folder, p in zip(folders[1:], members[1:], strict=True):
        if p.config.model_dump(mode="json", exclude=SEED_FIELDS) != shared:
            raise ConfigError(
                f"committee_policy: '{folder}' has another config than '{folders[0]}' "
                "(a committee is over seeds of one config: only train.seed may differ)"
            )
        if p.scaler.to_dict() != first.scaler.to_dict():
            raise ConfigError(f"committee_policy: '{folder}' has another feature scaler")
    net = Committee([p.net for p in members]).to(first.device).eval()
    metadata = {"name": label, "members": [str(f) for f in folders]}
    return replace(first.greedy(label), net=net, metadata=metadata, path=None)
