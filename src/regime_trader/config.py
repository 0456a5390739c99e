"""Configuration: one frozen pydantic model per stage; YAML only stores it.

Every field has a description; `Config.from_yaml` turns validation failures into a
`ConfigError` that names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    model_validator,
)

from regime_trader.config_sections import FeatureConfig, Frozen, RegimeConfig
from regime_trader.errors import ConfigError

Budget = Literal["tiny", "small", "full"]


class DataConfig(Frozen):
    """Which series to load and how to split it chronologically."""

    source: str = Field(
        "spx", description="Bundled dataset name or path to a CSV/CSV.gz/Parquet file."
    )
    start: str | None = Field(None, description="Drop bars before this date (inclusive start).")
    end: str | None = Field(None, description="Drop bars after this date (inclusive end).")
    train_end: str | None = Field(
        None,
        description="Last date of the training split (inclusive); give it with val_end. "
        "None: split by `fractions` of the bars, so any series works.",
    )
    val_end: str | None = Field(
        None, description="Last date of the validation split (inclusive); test is the rest."
    )
    fractions: tuple[float, float, float] = Field(
        (0.7, 0.15, 0.15),
        description="Train/validation/test shares of the bars (after the feature warm-up) "
        "when no dates are given.",
    )

    @model_validator(mode="after")
    def _check_split(self) -> DataConfig:
        """Both split dates or neither; fractions are three shares summing to 1."""
        if (self.train_end is None) != (self.val_end is None):
            raise ValueError(
                f"give both train_end and val_end, or neither (got train_end={self.train_end!r}, "
                f"val_end={self.val_end!r}); without dates the split uses fractions"
            )
        if any(f < 0 for f in self.fractions) or abs(sum(self.fractions) - 1) > 1e-6:
            raise ValueError(f"fractions {list(self.fractions)} must be >= 0 and sum to 1")
        return self


class EnvConfig(Frozen):
    """Execution and episode settings shared by the Gymnasium and the batched env."""

    window: int = Field(30, ge=1, description="Bars of features in one observation window.")
    cost_bps: float = Field(
        5.0, ge=0, description="Cost per unit of traded notional, in basis points."
    )
    allow_short: bool = Field(False, description="If true, 'sell' goes short instead of flat.")
    fill: Literal["next_open", "close"] = Field(
        "next_open",
        description="Decision at bar t fills at the open of t+1 (default) or the close of t.",
    )
    episode_len: int = Field(256, ge=2, description="Decision steps per training episode.")
    reward_scale: float = Field(
        100.0, gt=0, description="Multiplier from net step return to reward."
    )
    sizing: Literal["full", "vol_target"] = Field(
        "full", description="Size of a held side: 1, or volatility targeting (docs/sizing.md)."
    )
    target_vol: float = Field(0.15, gt=0, description="vol_target: annualised volatility aimed at.")
    vol_window: int = Field(20, ge=2, description="vol_target: log returns in the realised vol.")
    max_leverage: float = Field(
        1.0, gt=0, le=10, description="vol_target: largest size of a held side."
    )


class AgentConfig(Frozen):
    """Double DQN hyper-parameters."""

    net: Literal["mlp", "enhanced", "ensemble"] = Field(
        "mlp",
        description="Q-network: baseline MLP, EnhancedDQN or EnsembleTrader (docs/architecture.md).",
    )
    d_model: int = Field(32, ge=4, description="EnhancedDQN width (embedding, pathways, LSTM).")
    heads: int = Field(2, ge=1, description="EnhancedDQN attention heads (must divide d_model).")
    lstm_layers: int = Field(1, ge=1, description="EnhancedDQN stacked LSTM layers.")
    lstm_steps: int = Field(
        4,
        ge=1,
        description="EnhancedDQN: the last bars of the window that go past attention into the "
        "pathways and the LSTM (each has attended to the whole window; docs/architecture.md).",
    )
    ensemble_mode: Literal["weighted", "switching"] = Field(
        "weighted", description="How EnsembleTrader combines its specialists while training."
    )
    regime_loss_weight: float = Field(
        0.1,
        ge=0,
        description="Weight of the regime detector's cross-entropy (nets with a detector).",
    )
    hidden: tuple[int, ...] = Field(
        (128, 128), description="Hidden layer sizes of the MLP (net: mlp)."
    )
    lr: float = Field(5e-4, gt=0, description="Adam learning rate.")
    adam_betas: tuple[float, float] = Field(
        (0.9, 0.999), description="Adam's moment decay rates (beta1, beta2)."
    )
    adam_eps: float = Field(1e-8, gt=0, description="Adam's epsilon.")
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor.")
    tau: float = Field(0.005, gt=0, le=1, description="Soft target update rate per gradient step.")
    batch_size: int = Field(128, ge=1, description="Transitions per gradient step.")
    train_freq: int = Field(
        16, ge=1, description="Env steps per gradient step (replay ratio = batch/train_freq)."
    )
    buffer_size: int = Field(200_000, ge=1000, description="Replay capacity in transitions.")
    learning_starts: int = Field(
        2_000, ge=0, description="Env steps collected before learning starts."
    )
    eps_start: float = Field(
        1.0, ge=0, le=1, description="Initial epsilon of the epsilon-greedy policy."
    )
    eps_end: float = Field(0.05, ge=0, le=1, description="Final epsilon.")
    eps_fraction: float = Field(
        0.3, gt=0, le=1, description="Share of training over which epsilon decays."
    )
    max_grad_norm: float = Field(10.0, gt=0, description="Gradient clipping norm.")


class RewardConfig(Frozen):
    """Reward shaping (plan Phase 3). Terms are in return units, before ``env.reward_scale``."""

    kind: Literal["pnl", "regime"] = Field(
        "pnl",
        description="'pnl': net step return; 'regime': the plan's regime-aware reward (docs/rewards.md).",
    )
    uptrend_scale: float = Field(
        1.5, ge=0, description="Multiplier of the step return in an uptrend."
    )
    missed_uptrend_penalty: float = Field(
        2e-4, ge=0, description="Penalty per step spent out of the market during an uptrend."
    )
    downtrend_positive_scale: float = Field(
        1.5, ge=0, description="Multiplier of gains in a downtrend."
    )
    downtrend_negative_scale: float = Field(
        0.75, ge=0, description="Multiplier of losses in a downtrend."
    )
    cost_scale: float = Field(
        1.0, ge=0, description="Extra multiple of the env's own trading cost (0: none)."
    )
    overtrading_penalty: float = Field(
        1e-4,
        ge=0,
        description="Penalty per position change (a hold, or a buy while long, is no trade); "
        "Markov: it depends only on the position and the action (docs/rewards.md).",
    )

    @model_validator(mode="before")
    @classmethod
    def _removed_fields(cls, raw: object) -> object:
        """Point configs written before the Markov fix at the replacement."""
        old = [
            k for k in ("overtrading_window", "max_trades") if isinstance(raw, dict) and k in raw
        ]
        if old:
            raise ValueError(
                f"'{old[0]}' was removed: the over-trading term is now overtrading_penalty per "
                "position change, no window (docs/rewards.md); delete the field"
            )
        return raw


class ReplayConfig(Frozen):
    """Replay sampling over index storage."""

    kind: Literal["uniform", "prioritized", "regime"] = Field(
        "uniform",
        description="Uniform, prioritized (sum tree) or regime-aware (per-regime trees, quotas).",
    )
    alpha: float = Field(0.6, ge=0, le=1, description="Priority exponent (0: uniform).")
    beta_start: float = Field(
        0.4, ge=0, le=1, description="Importance-weight exponent at the start."
    )
    beta_end: float = Field(
        1.0, ge=0, le=1, description="Importance-weight exponent at the end of training."
    )
    priority_eps: float = Field(
        1e-3, gt=0, description="Added to |TD error| so no priority is zero."
    )
    regime_quotas: tuple[float, float, float, float] = Field(
        (0.25, 0.25, 0.25, 0.25),
        description="Share of each batch drawn from uptrend, downtrend, plateau, oscillating transitions.",
    )


class CurriculumConfig(Frozen):
    """Curriculum from simple synthetic scenarios to the full real series (plan Phase 3)."""

    enabled: bool = Field(
        False, description="Train through the plan's four stages instead of real data only."
    )
    stage_fractions: tuple[float, float, float, float] = Field(
        (0.1, 0.2, 0.3, 0.4),
        description="Share of training steps in Basic, Intermediate, Advanced, Expert.",
    )
    synthetic_bars: int = Field(
        2_000, ge=300, description="Bars of each synthetic scenario series."
    )
    noise_scale: float = Field(
        0.25,
        ge=0,
        description="Synthetic noise = stage noise level x this (plan levels 0.01-0.04).",
    )


class TrackingConfig(Frozen):
    """Experiment tracking: MLflow when installed, else JSON lines in the run folder."""

    backend: Literal["auto", "mlflow", "jsonl", "none"] = Field(
        "auto", description="'auto': MLflow if importable, else JSON lines."
    )
    uri: str | None = Field(
        None, description="MLflow tracking URI (default: SQLite file runs/mlflow.db)."
    )
    experiment: str = Field("regime-trader", description="MLflow experiment name.")


BUDGET_STEPS: dict[str, int] = {"tiny": 20_000, "small": 150_000, "full": 3_000_000}


class TrainConfig(Frozen):
    """Training loop settings."""

    total_steps: int = Field(BUDGET_STEPS["small"], ge=1, description="Environment steps in total.")
    n_envs: int = Field(16, ge=1, description="Episodes run at once in the batched env.")
    eval_every: int = Field(20_000, ge=1, description="Env steps between validation backtests.")
    seed: int = Field(0, description="Seed for every random source.")
    device: str = Field("auto", description="'auto', 'cpu' or 'cuda[:N]'.")
    threads: int = Field(
        1,
        ge=0,
        description="torch CPU threads (0: torch's default). One is fastest for small nets.",
    )
    checkpoint_seconds: float = Field(
        60.0,
        ge=0,
        description="Also write checkpoint.pt when this many seconds passed since the last one, "
        "so a kill loses at most that much training (0: only after validations).",
    )


class Config(Frozen):
    """The whole run: one section per stage."""

    data: DataConfig = DataConfig()
    features: FeatureConfig = FeatureConfig()
    regimes: RegimeConfig = RegimeConfig()
    env: EnvConfig = EnvConfig()
    agent: AgentConfig = AgentConfig()
    reward: RewardConfig = RewardConfig()
    replay: ReplayConfig = ReplayConfig()
    curriculum: CurriculumConfig = CurriculumConfig()
    tracking: TrackingConfig = TrackingConfig()
    train: TrainConfig = TrainConfig()

    @classmethod
    def from_dict(cls, raw: dict, *, source: str = "<config>") -> Config:
        """Validate a nested dict; errors name the source and the field."""
        try:
            return cls.model_validate(raw or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"{source}: field '{field}': {err['msg']}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> Config:
        """Load a YAML file written by `to_yaml` (or by hand)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file '{path}' not found")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
        if raw is not None and not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections (data, env, agent, ...)")
        return cls.from_dict(raw or {}, source=str(path))

    def to_yaml(self) -> str:
        """Serialise to YAML (round-trips through `from_yaml`)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def override(self, **sections: dict) -> Config:
        """A copy with some fields of some sections replaced, e.g. ``override(train={"seed": 1})``."""
        raw = self.model_dump(mode="json")
        for name, fields in sections.items():
            raw[name] = {**raw[name], **fields}
        return Config.from_dict(raw)

    def with_budget(self, budget: Budget) -> Config:
        """Apply a named budget (tiny, small, full) to the training length."""
        steps = BUDGET_STEPS[budget]
        return self.override(train={"total_steps": steps, "eval_every": max(steps // 10, 1000)})
