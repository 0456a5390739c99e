"""Tests for the verification report (synthetic tidy tables, no training)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regime_trader.errors import ConfigError
from regime_trader.evaluation.report_plots import policy_label
from regime_trader.evaluation.results import RESULT_COLUMNS, RETURN_COLUMNS
from regime_trader.evaluation.verify import ALL, build_verification, write_verification
from regime_trader.evaluation.verify_tables import DECIMALS, EMPTY, TEXT_FORMATS, tables
from regime_trader.policy.metrics import compute_metrics

REGIMES = ("uptrend", "downtrend", "plateau", "oscillating")


def _policy_returns(
    rng: np.random.Generator, market: np.ndarray, edge: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{policy: (returns, positions)}`` for one run; 'enhanced' = original + ``edge``."""
    n = market.size
    pos = (rng.random(n) < 0.6).astype(np.float64)
    original = pos * market
    out = {
        "original": (original, pos),
        "enhanced": (original + edge, pos),
        "buy_and_hold": (market, np.ones(n)),
    }
    return out


def _row_metrics(r: np.ndarray, p: np.ndarray) -> dict[str, float]:
    m = compute_metrics(r, p, bars_per_year=252.0)
    return {k: m[k] for k in RESULT_COLUMNS if k in m}


def synthetic_tables(
    edge: float = 0.0, *, series: tuple[str, ...] = ("aaa", "bbb", "ccc"), windows: int = 3,
    seeds: int = 3, bars: int = 120,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Tidy results and returns tables of three policies over series x windows x seeds."""
    rng = np.random.default_rng(7)
    rows, rets = [], []
    for s in series:
        for w in range(windows):
            stamps = pd.bdate_range("2020-01-01", periods=bars) + pd.offsets.BDay(w * bars)
            for seed in range(seeds):
                market = rng.normal(0.0004, 0.01, bars)
                labels = np.asarray(REGIMES)[np.repeat(rng.integers(0, 4, bars // 10), 10)]
                pols = _policy_returns(rng, market, edge)
                bh_up = np.prod(1 + market[labels == "uptrend"]) - 1
                bh_dn = np.prod(1 + market[labels == "downtrend"]) - 1
                for policy, (r, p) in pols.items():
                    key = {"series": s, "kind": "real", "window": w, "seed": seed}
                    base = {
                        **key,
                        "policy": policy,
                        "start": str(stamps[0]),
                        "end": str(stamps[-1]),
                    }
                    rows.append({**base, "regime": "all", "bars": bars, **_row_metrics(r, p)})
                    for reg in REGIMES:
                        m = labels == reg
                        rec = {
                            **base,
                            "regime": reg,
                            "bars": int(m.sum()),
                            **_row_metrics(r[m], p[m]),
                        }
                        comp = np.prod(1 + r[m]) - 1
                        rec["capture"] = comp / bh_up if reg == "uptrend" and bh_up > 0 else np.nan
                        rec["avoidance"] = (
                            1 - comp / bh_dn if reg == "downtrend" and bh_dn < 0 else np.nan
                        )
                        rows.append(rec)
                    rets.append(pd.DataFrame({
                        "series": s, "window": w, "seed": seed, "policy": policy,
                        "step": np.arange(bars), "timestamp": stamps, "ret": r, "position": p,
                    }))  # fmt: skip
    frame = pd.DataFrame(rows)
    for c in RESULT_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    return frame[list(RESULT_COLUMNS)], pd.concat(rets, ignore_index=True)[list(RETURN_COLUMNS)]


def _overall(report: dict, cand: str = "enhanced") -> dict:
    return next(r for r in report["verdict"] if r["candidate"] == cand and r["scope"] == ALL)


SIX = ("aaa", "bbb", "ccc", "ddd", "eee", "fff")


def test_planted_edge_is_found() -> None:
    """Six series: whole-series sign flips reach p = 2/64; per series, 3 windows cannot."""
    rows, rets = synthetic_tables(edge=0.002, series=SIX)
    report = build_verification(rows, rets, n_boot=300, seed=1)
    assert report["settings"]["candidates"] == ["enhanced"]
    overall = _overall(report)
    assert overall["sharpe_diff"] > 0 and overall["ci_low"] > 0  # the CI excludes 0
    assert overall["p_perm"] == pytest.approx(2 / 64) and overall["verdict"] == "better"
    assert overall["test_unit"] == "series" and overall["n_cells"] == 18
    per_series = [r for r in report["verdict"] if r["scope"] != ALL]
    assert len(per_series) == 6
    for rec in per_series:  # 3 cells: the smallest two-sided p is 0.25, never below alpha
        assert rec["sharpe_diff"] > 0 and rec["p_holm"] is None
        assert rec["verdict"] == "untested (too few cells)" and "cannot reach" in rec["holm_note"]
    assert report["settings"]["holm_on"].startswith("series sign-flip")
    assert overall["poi"] > 0.5 and overall["wins"] == 54


def test_three_series_cannot_reach_alpha_and_say_so() -> None:
    rows, rets = synthetic_tables(edge=0.002)
    overall = _overall(build_verification(rows, rets, n_boot=300, seed=1))
    assert overall["p_perm"] == pytest.approx(0.25) and overall["can_reach_alpha"] is False
    assert overall["verdict"] == "no significant difference"


def test_identical_policy_is_not_significant() -> None:
    rows, rets = synthetic_tables(edge=0.0)
    report = build_verification(rows, rets, n_boot=300, seed=1)
    for rec in report["verdict"]:
        assert rec["sharpe_diff"] == pytest.approx(0.0, abs=1e-12)
        assert not (rec["ci_low"] or 0) > 0 and not (rec["ci_high"] or 0) < 0
        assert rec["p_perm"] == 1.0
        assert rec["verdict"] in ("no significant difference", "untested (too few cells)")


def test_unknown_reference_names_the_policies() -> None:
    rows, rets = synthetic_tables(series=("aaa",), windows=1, seeds=1)
    with pytest.raises(ValueError, match="policies found: original, enhanced"):
        build_verification(rows, rets, reference="baseline")


def _numbers(cell: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", cell)]


def _markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """``{heading: body rows as cells}`` of every table in a Markdown document."""
    out: dict[str, list[list[str]]] = {}
    for block in text.split("\n## ")[1:]:
        heading, _, rest = block.partition("\n")
        lines = [ln for ln in rest.splitlines() if ln.startswith("|")]
        out[heading] = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    return out


def test_markdown_numbers_equal_json(tmp_path: Path) -> None:
    rows, rets = synthetic_tables(edge=0.0005, windows=2)
    html_path, md_path, json_path = write_verification(
        (rows, rets), tmp_path / "v", n_trials=12, n_boot=200
    )
    report = json.loads(json_path.read_text(encoding="utf-8"))
    md_tables = _markdown_tables(md_path.read_text(encoding="utf-8"))
    checked = 0
    md_text = md_path.read_text(encoding="utf-8")
    for name, (heading, key, columns) in tables(report).items():
        if not report[key]:  # left out, with the line saying why
            assert not md_tables.get(heading) and EMPTY[name] in md_text
            continue
        body = md_tables[heading]
        assert len(body) == len(report[key]) > 0
        for cells, record in zip(body, report[key], strict=True):
            for cell, col in zip(cells, columns, strict=True):
                values = [record[k] for k in col.keys]
                if col.fmt in TEXT_FORMATS:
                    shown = policy_label(values[0]) if col.fmt == "policy" else str(values[0])
                    assert cell == shown
                    continue
                if any(v is None for v in values):
                    assert "n/a" in cell
                    continue
                scale = 100.0 if col.fmt == "pct" else 1.0
                tol = 0.5 * 10.0 ** -DECIMALS.get(col.fmt, 0) + 1e-9
                got = _numbers(cell)
                assert len(got) == len(values), (cell, values)
                for g, v in zip(got, values, strict=True):
                    assert abs(g - v * scale) <= tol, (heading, col.label, cell, v)
                    checked += 1
    assert checked > 100
    assert _overall(report)["dsr"] is not None
    text = html_path.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 5 and "<script" not in text
    assert "Price charts are not drawn" in text and "prices=" not in text


def test_price_figure_with_prices(tmp_path: Path) -> None:
    rows, rets = synthetic_tables(series=("aaa",), windows=1, seeds=3, bars=60)
    stamps = pd.DatetimeIndex(rets["timestamp"].unique())
    prices = {
        "aaa": pd.DataFrame(
            {"close": np.linspace(100, 110, len(stamps)), "regime": "uptrend"}, index=stamps
        )
    }
    html_path, _, _ = write_verification((rows, rets), tmp_path, prices=prices, n_boot=100)
    text = html_path.read_text(encoding="utf-8")
    assert "aaa price by regime" in text and "Price charts are not drawn" not in text


def test_verify_survives_what_the_work_can_produce() -> None:
    """Real and stress rows of one series, a policy that never trades, and a missing
    reference: a report or a one-line ConfigError, never a crash after the work is done."""
    rows, rets = synthetic_tables(edge=0.001, series=SIX, windows=2, seeds=2)
    flat = rows[rows["policy"] == "original"].copy()
    flat["policy"] = "never_trades"
    for col in ("sharpe", "total_return", "trades", "exposure"):
        flat[col] = 0.0
    flat_rets = rets[rets["policy"] == "original"].assign(policy="never_trades", ret=0.0)
    rows, rets = pd.concat([rows, flat], ignore_index=True), pd.concat([rets, flat_rets])
    stress = rows[rows["series"] == "aaa"].assign(series="aaa (stress)", kind="stress")
    stress_rets = rets[rets["series"] == "aaa"].assign(series="aaa (stress)")
    all_rows = pd.concat([rows, stress], ignore_index=True)
    all_rets = pd.concat([rets, stress_rets], ignore_index=True)
    report = build_verification(
        all_rows, all_rets, candidates=["never_trades"], n_trials=5, n_boot=200, seed=0
    )
    assert _overall(report, "never_trades")["dsr"] is None  # no variance: no deflated Sharpe
    with pytest.raises(ConfigError, match="policies found"):
        build_verification(all_rows, all_rets, reference="nobody")
    with pytest.raises(ConfigError, match="policies found"):
        build_verification(all_rows, all_rets, candidates=["nobody"])
