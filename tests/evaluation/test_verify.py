"""Tests for the verification report (synthetic tidy tables, no training)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regime_trader.evaluation.metrics import compute_metrics
from regime_trader.evaluation.results import RESULT_COLUMNS, RETURN_COLUMNS
from regime_trader.evaluation.verify import ALL, build_verification, write_verification
from regime_trader.evaluation.verify_tables import DECIMALS, TABLES

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


def test_planted_edge_is_found() -> None:
    rows, rets = synthetic_tables(edge=0.002)
    report = build_verification(rows, rets, n_boot=300, seed=1)
    assert report["settings"]["candidates"] == ["enhanced"]
    per_series = [r for r in report["verdict"] if r["scope"] != ALL]
    assert len(per_series) == 3
    for rec in [_overall(report), *per_series]:
        assert rec["sharpe_diff"] > 0 and rec["ci_low"] > 0  # the CI excludes 0
        assert rec["p_holm"] < 0.05 and rec["verdict"] == "better"
    assert report["settings"]["holm_on"] == "permutation"
    assert _overall(report)["poi"] > 0.5 and _overall(report)["wins"] == 27


def test_identical_policy_is_not_significant() -> None:
    rows, rets = synthetic_tables(edge=0.0)
    report = build_verification(rows, rets, n_boot=300, seed=1)
    for rec in report["verdict"]:
        assert rec["sharpe_diff"] == pytest.approx(0.0, abs=1e-12)
        assert not rec["ci_low"] > 0 and not rec["ci_high"] < 0
        assert rec["p_perm"] == 1.0 and rec["verdict"] == "no significant difference"


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
    tables = _markdown_tables(md_path.read_text(encoding="utf-8"))
    checked = 0
    for heading, key, columns in TABLES.values():
        body = tables[heading]
        assert len(body) == len(report[key]) > 0
        for cells, record in zip(body, report[key], strict=True):
            for cell, col in zip(cells, columns, strict=True):
                values = [record[k] for k in col.keys]
                if col.fmt == "text":
                    assert cell == str(values[0])
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
    assert "No prices were given" in text


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
    assert "aaa price by regime" in text and "No prices were given" not in text
