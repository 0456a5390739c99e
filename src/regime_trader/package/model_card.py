"""`MODEL_CARD.md`: a generated description of a packaged model (Mitchell et al. 2019 sections)."""

from __future__ import annotations

from typing import Any

from torch import nn

from regime_trader.policy.rule import DecisionRule

INTENDED_USE = (
    "Research, backtests and paper trading of a long/flat (or long/short) policy on the bar "
    "frequency and kind of market it was trained on. Each decision is made at a bar's close "
    "and meant to fill at the next bar (`env.fill`)."
)
LIMITS = (
    "- Trained on one series and period; regimes unlike the training bars (see the regime "
    "shares) are out of distribution.",
    "- Backtest figures ignore slippage beyond `env.cost_bps`, market impact, borrow costs "
    "and partial fills.",
    "- A single test period is one draw: compare models with `regime-trader abtest` (paired "
    "windows) before promoting one.",
    "- Not investment advice; no guarantee of future returns.",
)


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _diagram(meta: dict[str, Any], net: nn.Module) -> str:
    sig = meta["signature"]
    window = sig["inputs"]["network"]["window"]
    flow = (
        f"OHLCV bars -> features ({meta['features']['count']}, lookback "
        f"{meta['features']['lookback']}) -> scaler -> window {window}\n"
        f"  + position [B, 1] -> {meta['training']['net']} Q-network -> Q [B, 3]\n"
        "  -> decision rule (calibration) -> action, target position"
    )
    return f"```\n{flow}\n```\n\n```\n{net}\n```"


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _evaluation(meta: dict[str, Any]) -> list[str]:
    metrics = meta.get("metrics") or {}
    lines = []
    val = metrics.get("validation")
    if val:
        lines.append(
            f"- Validation: best Sharpe {_fmt(val['best_sharpe'])} at "
            f"{val['best_at_env_steps']} env steps ({val['evaluations']} evaluations)."
        )
    test = (metrics.get("test") or {}).get("strategy")
    if test:
        keys = ("sharpe", "total_return", "max_drawdown", "num_trades", "exposure")
        lines.append("- Test: " + ", ".join(f"{k} {_fmt(test.get(k))}" for k in keys) + ".")
    for name, ci in (metrics.get("test_ci") or {}).items():
        lines.append(
            f"- {name}: {_fmt(ci['estimate'])}, 95% CI [{_fmt(ci['low'])}, {_fmt(ci['high'])}] "
            "(stationary block bootstrap over the test bars)."
        )
    return lines or ["- No evaluation in the run folder (run `regime-trader backtest`)."]


def _rule_text(rule: DecisionRule) -> str:
    if rule.is_identity:
        return "uncalibrated: greedy argmax of the Q-values, full position."
    return f"calibrated ({rule.to_dict()})."


def render(meta: dict[str, Any], net: nn.Module, rule: DecisionRule) -> str:
    """The Markdown model card of a package from its metadata, network and rule."""
    sig, feats, tr = meta["signature"], meta["features"], meta["training"]
    shares = (meta.get("data") or {}).get("regime_shares", {}).get("train")
    share_text = ", ".join(f"{k} {v:.0%}" for k, v in shares.items()) if shares else "unknown"
    fp = (meta.get("data") or {}).get("train", {}) or {}
    sections: list[tuple[str, list[str]]] = [
        (
            "Inputs",
            [
                f"- {sig['inputs']['bars']}; at least {sig['inputs']['min_bars']} bars.",
                f"- Features ({feats['count']}): {', '.join(feats['names'])}.",
                f"- Network input: window {sig['inputs']['network']['window']} and position "
                f"{sig['inputs']['network']['position']}.",
            ],
        ),
        (
            "Outputs",
            [
                f"- `decide(bars)` columns: {', '.join(sig['outputs']['decide'])}.",
                f"- Network: {sig['outputs']['network']}.",
                f"- Decision rule: {_rule_text(rule)}",
            ],
        ),
        (
            "Model",
            [
                f"- Network `{tr['net']}`, {meta['parameters']:,} parameters; double DQN, "
                f"{tr['total_steps']:,} env steps, seed {tr['seed']}; reward `{tr['reward']}`, "
                f"costs {tr['cost_bps']} bps, fills `{tr['fill']}`, short selling "
                f"{'allowed' if tr['allow_short'] else 'off'}.",
                "",
                _diagram(meta, net),
            ],
        ),
        (
            "Training data",
            [
                f"- Source `{(meta.get('data') or {}).get('source')}`; training bars "
                f"{fp.get('first')} to {fp.get('last')} ({fp.get('bars')} bars, sha256 "
                f"`{fp.get('sha256')}`).",
                f"- Regime shares (training bars): {share_text}.",
            ],
        ),
        ("Intended use", [INTENDED_USE]),
        ("Limits", list(LIMITS)),
        ("Evaluation", _evaluation(meta)),
    ]
    head = (
        f"# Model card: {meta['name']} {meta['version']}\n\n"
        f"Created {meta['created']} by regime-trader {meta['environment']['regime_trader']} "
        f"(package format {meta['format_version']})."
    )
    body = ["\n".join([f"## {title}", "", *lines]) for title, lines in sections]
    return "\n\n".join([head, *body]) + "\n"
