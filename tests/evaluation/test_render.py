"""What a user reads without the code: the CSV files, the reports' wording and layout, the
oracle as a true upper bound, and every page rendered in headless Chromium (issue 20, 4-5).

The Chromium tests skip when ``chromium`` is not on PATH. Set ``REGIME_TRADER_SCREENSHOTS``
to a folder to keep the PNGs they take (docs/screenshots.md says what they showed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from regime_trader.envs.market import MarketData
from regime_trader.evaluation.oracle import hindsight_oracle
from regime_trader.evaluation.outputs import REGIME_LEGEND
from regime_trader.evaluation.report import save_regime_plot
from regime_trader.evaluation.report_plots import equity_figure, regime_figure
from regime_trader.evaluation.rows import baseline_results
from regime_trader.evaluation.verify import build_verification, write_verification
from regime_trader.evaluation.verify_tables import render_html
from regime_trader.policy.metrics import TRADE_COLUMNS
from regime_trader.scenarios import SCENARIO_KINDS, generate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH")
WIDTH, HEIGHT = 1400, 3000


# --------------------------------------------------------------------------- the oracle


def _scenario_market(kind: str, seed: int, n: int = 600) -> MarketData:
    frame = generate(kind, n, rng=np.random.default_rng([seed, 11]))
    labels = frame.pop("true_regime").to_numpy()
    return MarketData.build(np.zeros((n, 1)), frame, labels, names=["x"])


@pytest.mark.parametrize("cost_bps", [5.0, 25.0])
def test_oracle_beats_buy_and_hold_and_flat_on_every_scenario(cost_bps: float) -> None:
    """Same accounting as every policy (`baseline_results`): never below flat (0) or
    buy-and-hold, on every scenario kind and seed, with costs."""
    for kind in SCENARIO_KINDS:
        for seed in (0, 1, 2):
            market = _scenario_market(kind, seed)
            res = baseline_results(market, 10, len(market) - 3, cost_bps, seed)
            total = {k: float(np.prod(1 + r.returns) - 1) for k, r in res.items()}
            assert total["oracle"] >= -1e-12, (kind, seed)
            for name, value in total.items():  # no long/flat policy beats it
                if set(np.unique(res[name].positions)) <= {0.0, 1.0}:
                    assert total["oracle"] >= value - 1e-9, (kind, seed, name)


def test_oracle_is_the_best_long_flat_path_by_exhaustion() -> None:
    from itertools import product

    from regime_trader.envs import spec

    rng = np.random.default_rng(0)
    for _ in range(60):
        n, cost = int(rng.integers(1, 9)), float(rng.choice([0.0, 5.0, 30.0]))
        growth = 1 + rng.normal(0, 0.003, n)
        best = max(
            np.prod(1 + spec.simulate_positions(np.array(p, float), growth, cost)[0])
            for p in product((0.0, 1.0), repeat=n)
        )
        got = spec.simulate_positions(hindsight_oracle(growth, cost), growth, cost)[0]
        assert np.prod(1 + got) == pytest.approx(best, rel=1e-12)


def test_oracle_does_not_lose_on_the_plateau() -> None:
    """The sketch's oracle (long when the next step gains) lost on the plateau."""
    market = _scenario_market("plateau", 0, 1500)
    res = baseline_results(market, 10, len(market) - 3, 5.0, 0)["oracle"]
    naive = (market.growth.cpu().numpy()[10 : len(market) - 2] > 1).astype(float)
    assert np.prod(1 + res.returns) > 1.0
    assert np.abs(np.diff(res.positions)).sum() < np.abs(np.diff(naive)).sum() / 2


# --------------------------------------------------------------------------- the CSV files


@pytest.fixture(scope="module")
def backtest_dir(tiny_run: Path, series_csv: Path, tmp_path_factory) -> Path:
    from regime_trader.api import backtest_run

    out = tmp_path_factory.mktemp("bt")
    backtest_run(tiny_run, str(series_csv), out, device="cpu")
    return out


def test_equity_csv_starts_every_strategy_at_one_and_names_regimes(
    backtest_dir: Path, series_csv: Path
) -> None:
    import json

    eq = pd.read_csv(backtest_dir / "equity.csv", index_col="timestamp", parse_dates=True)
    metrics = json.loads((backtest_dir / "metrics.json").read_text(encoding="utf-8"))
    strategies = [k for k in metrics if k != "period"]
    assert (eq[strategies].iloc[0] == 1.0).all()  # one start row, all at 1.0
    for name in strategies:  # the last row is the final equity
        assert eq[name].iloc[-1] == pytest.approx(1 + metrics[name]["total_return"], rel=1e-9)
    assert set(eq["regime"].dropna()) <= set(REGIME_LEGEND)  # names, not codes
    assert eq["position"].isna().tolist() == [False] * (len(eq) - 1) + [True]
    bars = pd.read_csv(series_csv, index_col=0, parse_dates=True)
    fill = pd.to_datetime(eq["fill_time"])
    nxt = bars.index[bars.index.get_indexer(eq.index) + 1]
    assert (fill.to_numpy() == nxt.to_numpy()).all()  # next-open fills


def test_trades_csv_times_and_prices_are_the_fills(backtest_dir: Path, series_csv: Path) -> None:
    trades = pd.read_csv(backtest_dir / "trades.csv")
    assert list(trades.columns) == list(TRADE_COLUMNS) and len(trades) > 0
    bars = pd.read_csv(series_csv, index_col=0, parse_dates=True)
    entry = pd.DatetimeIndex(pd.to_datetime(trades["entry_time"]))
    decided = pd.DatetimeIndex(pd.to_datetime(trades["entry_decision_time"]))
    assert (bars.index.get_indexer(entry) == bars.index.get_indexer(decided) + 1).all()
    np.testing.assert_allclose(trades["entry_price"], bars["open"].reindex(entry).to_numpy())
    closed = trades.dropna(subset=["exit_time"])
    exits = pd.DatetimeIndex(pd.to_datetime(closed["exit_time"]))
    np.testing.assert_allclose(closed["exit_price"], bars["open"].reindex(exits).to_numpy())


# --------------------------------------------------------------------------- figures


def _overlaps(a: object, b: object) -> bool:
    return bool(a.overlaps(b))  # type: ignore[attr-defined]


def test_legends_sit_outside_the_axes() -> None:
    idx = pd.date_range("2020-01-01", periods=200, freq="D")
    eq = pd.DataFrame({"strategy": np.linspace(1, 2, 200), "buy_and_hold": 1.0}, index=idx)
    fig = equity_figure(eq)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert not any(_overlaps(box, ax.get_window_extent(renderer)) for ax in fig.axes)
    assert [t.get_text() for t in legend.get_texts()] == ["agent", "buy-and-hold"]


def test_regime_plot_title_and_log_axis(tmp_path: Path) -> None:
    """`regimes --plot`: no "with trades" without trades; a log axis over a long history."""
    idx = pd.date_range("1990-01-01", periods=3000, freq="B")
    close = pd.Series(10.0 * np.exp(np.linspace(0, np.log(40), 3000)), index=idx)
    regimes = pd.Series(np.repeat(["uptrend", "plateau", "downtrend"], 1000), index=idx)
    empty = pd.DataFrame(columns=list(TRADE_COLUMNS))
    fig = regime_figure(close, regimes, empty)
    ax = fig.axes[0]
    assert ax.get_title() == "Close price by regime" and ax.get_yscale() == "log"
    short = regime_figure(close.iloc[:50], regimes.iloc[:50], empty)
    assert short.axes[0].get_yscale() == "linear"
    png = save_regime_plot(tmp_path / "r.png", close, regimes)
    _assert_not_blank(png, min_size=(800, 300), max_background=0.99)  # a figure: mostly white


def test_regime_plot_of_a_long_history_is_logarithmic(monkeypatch, tmp_path: Path) -> None:
    """`regimes --plot`: 12 years that only doubled still get a log axis; 2 years do not."""
    from regime_trader.evaluation import report

    real = report.regime_figure
    scales: list[str] = []

    def spy(*args: object, **kw: object) -> object:
        fig = real(*args, **kw)  # type: ignore[arg-type]
        scales.append(fig.axes[0].get_yscale())
        return fig

    monkeypatch.setattr(report, "regime_figure", spy)
    for bars in (3100, 500):  # business days: about 12 years, then 2
        idx = pd.date_range("2000-01-01", periods=bars, freq="B")
        close = pd.Series(np.linspace(100.0, 200.0, bars), index=idx)
        report.save_regime_plot(tmp_path / f"{bars}.png", close, pd.Series(0, index=idx))
    assert scales == ["log", "linear"]


# --------------------------------------------------------------------------- page wording


def _tables(windows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from test_verify import synthetic_tables  # the verification tests' tidy tables

    return synthetic_tables(series=("aaa", "bbb"), windows=windows, seeds=2, bars=60)


def test_wording_follows_the_kind_of_results() -> None:
    for windows, walk_forward in ((1, False), (3, True)):
        rows, rets = _tables(windows)
        report = build_verification(rows, rets, n_boot=100)
        text = render_html(report, rets)
        assert report["settings"]["walk_forward"] is walk_forward
        assert ("walk-forward" in text) is walk_forward
        assert ("window" in text.split("<h2>")[0]) is walk_forward  # the intro


def test_empty_groups_are_left_out_with_a_reason() -> None:
    rows, rets = _tables(1)
    rows = rows.assign(avoidance=np.nan)  # buy-and-hold never fell 1% on downtrend bars
    text = render_html(build_verification(rows, rets, n_boot=100), rets)
    assert "Downtrend avoidance is left out: buy-and-hold lost less than 1%" in text
    assert "The oracle was not scored on these runs." in text


# --------------------------------------------------------------------------- rendered pages


def _assert_not_blank(
    png: Path, min_size: tuple[int, int] = (WIDTH, HEIGHT), max_background: float = 0.95
) -> None:
    img = Image.open(png).convert("RGB")
    assert img.size[0] >= min_size[0] and img.size[1] >= min_size[1], img.size
    pixels = np.asarray(img).reshape(-1, 3)
    assert png.stat().st_size > 20_000
    colours = np.unique(pixels[:: max(1, len(pixels) // 200_000)], axis=0)
    assert len(colours) > 50, "a single colour or close to it"
    background = (pixels == pixels[0]).all(axis=1).mean()
    assert background < max_background, f"{background:.1%} of the image is one colour"


def _screenshot(page: Path, png: Path, tmp: Path) -> Path:
    profile = tmp / "chromium-profile"
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}",
        page.resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    keep = os.environ.get("REGIME_TRADER_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)
    return png


@needs_chromium
def test_report_page_renders(backtest_dir: Path, tmp_path: Path) -> None:
    page = backtest_dir / "report.html"
    text = page.read_text(encoding="utf-8")
    heads = ("Headline", "All strategies", "Results by regime", "Equity")
    order = [text.index(f"<h2>{h}") for h in heads]
    assert order == sorted(order)
    assert "best simple rule" in text and "buy-and-hold" in text
    assert "buy_and_hold</td>" not in text and "prices=" not in text
    # the MLP has no detector: no regime probabilities or accuracy presented as measured
    assert "Regime accuracy" not in text and "p_uptrend" not in text
    _assert_not_blank(_screenshot(page, tmp_path / "report.png", tmp_path))


@pytest.fixture(scope="module")
def verification_page(tiny_run: Path, series_csv: Path, tmp_path_factory) -> Path:
    from regime_trader.workflows.suite import evaluate_suite

    out = tmp_path_factory.mktemp("ev")
    evaluate_suite(
        [f"agent={tiny_run}"], out, data=[str(series_csv)], scenarios="uptrend,plateau",
        seeds=(0,), n_bars=400,
    )  # fmt: skip
    html_path, _, _ = write_verification(out, out, reference="buy_and_hold", n_boot=200)
    return html_path


def test_verification_page_reads_in_order(verification_page: Path) -> None:
    text = verification_page.read_text(encoding="utf-8")
    heads = ["Headline", "Periods tested", "Verdict", "Uptrend capture and", "Upper bound"]
    order = [text.index(f"<h2>{h}") for h in heads]
    assert order == sorted(order)
    assert "walk-forward" not in text and "prices=" not in text  # `evaluate` results
    report = build_verification(*_read(verification_page.parent), reference="buy_and_hold")
    stress = [p for p in report["periods"] if p["kind"] == "stress"]
    assert stress and all(f"{p['start']}</td>" in text for p in stress)  # stress dates shown
    assert all(r["policy"] != "oracle" for r in report["scenarios"] + report["regimes"])
    assert {r["policy"] for r in report["upper_bound"]} == {"oracle"}


def _read(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from regime_trader.evaluation.results import read_results

    return read_results(folder)


@needs_chromium
def test_verification_page_renders(verification_page: Path, tmp_path: Path) -> None:
    _assert_not_blank(_screenshot(verification_page, tmp_path / "verification.png", tmp_path))
