"""A/B tests: power maths, planted edges, verdicts, sequential alpha spending, end to end."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from regime_trader.errors import ConfigError
from regime_trader.evaluation import abtest_power as ap
from regime_trader.evaluation.abtest import check_compatible
from regime_trader.evaluation.abtest_sequential import (
    SequentialPlan,
    sequential_test,
    spending_boundaries,
)
from regime_trader.evaluation.results import RESULT_COLUMNS
from regime_trader.evaluation.stats import paired_permutation_test
from regime_trader.workflows.abtest import ABSettings, abtest, load_models


def _closed_form_power(d: float, n: int, alpha: float) -> float:
    """Two-sided paired t-test power from the noncentral t distribution."""
    df, nc = n - 1, d * math.sqrt(n)
    crit = sps.t.isf(alpha / 2, df)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


@pytest.mark.parametrize(("d", "n"), [(0.5, 10), (0.8, 20), (1.2, 6), (0.3, 60)])
def test_power_matches_the_noncentral_t(d: float, n: int) -> None:
    assert ap.power(d, n) == pytest.approx(_closed_form_power(d, n, 0.05), abs=1e-6)


def test_runs_needed_and_what_ten_runs_detect() -> None:
    assert ap.runs_needed(0.5) == 34  # n = 33.4 pairs for 80% power at d_z = 0.5
    assert _closed_form_power(0.5, 34, 0.05) >= 0.8 > _closed_form_power(0.5, 33, 0.05)
    d10 = ap.detectable_effect(10)
    assert d10 == pytest.approx(0.996, abs=0.01)  # the plan's 10 runs: only huge effects
    assert _closed_form_power(d10, 10, 0.05) == pytest.approx(0.8, abs=1e-4)
    assert ap.runs_needed(0.0) is None


def test_min_runs_is_where_a_sign_flip_test_can_reach_alpha() -> None:
    assert ap.min_runs(0.05) == 6
    assert paired_permutation_test(np.ones(5), np.zeros(5)).p_value > 0.05
    assert paired_permutation_test(np.ones(6), np.zeros(6)).p_value < 0.05


def _planted(edge: float, n_runs: int = 20, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    champ = rng.normal(0.3, 0.6, n_runs)
    chall = champ + edge + rng.normal(0.0, 0.3, n_runs)
    ra = rng.normal(0.0003, 0.01, 4000)
    rb = ra + edge * 0.01 / math.sqrt(252) + rng.normal(0, 0.002, 4000)
    res = ap.compare(champ, chall, ra, rb, periods_per_year=252, n_boot=500)
    res["verdict"], res["reason"] = ap.verdict(res, res["p_value"])
    return res


def test_planted_edge_is_detected() -> None:
    res = _planted(0.8)
    assert res["verdict"] == "promote", res["reason"]
    assert res["p_value"] < 0.01 and res["wilcoxon"]["p_value"] < 0.01
    assert res["sharpe_ci"]["low"] > 0 and res["effect_size"] > 2


def test_no_edge_is_not_promoted_and_a_worse_challenger_is_kept() -> None:
    assert _planted(0.0)["verdict"] in ("keep", "inconclusive")
    worse = _planted(-0.8)
    assert worse["verdict"] == "keep" and "champion is better" in worse["reason"]


def test_too_few_runs_is_inconclusive() -> None:
    res = _planted(2.0, n_runs=4)
    assert ap.verdict(res, res["p_value"])[0] == "inconclusive"
    assert "too few runs" in ap.verdict(res, res["p_value"])[1]


def test_underpowered_null_says_how_many_runs_are_needed() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, 8)
    res = ap.compare(a, a + rng.normal(0, 1, 8), rng.normal(0, 0.01, 500),
                     rng.normal(0, 0.01, 500), periods_per_year=252, n_boot=200)  # fmt: skip
    verdict, reason = ap.verdict(res, max(res["p_value"], 0.2))
    assert verdict == "inconclusive" and "34 runs needed" in reason


def test_lan_demets_boundaries_match_published_values() -> None:
    """gsDesign / ldbounds: O'Brien-Fleming-type spending, 5 equal looks, alpha 0.05."""
    obf = spending_boundaries([0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(obf, [4.8769, 3.3569, 2.6803, 2.2898, 2.0310], atol=2e-3)
    pocock = spending_boundaries([0.2, 0.4, 0.6, 0.8, 1.0], spending="pocock")
    np.testing.assert_allclose(pocock, [2.438, 2.427, 2.410, 2.397, 2.386], atol=2e-3)
    assert spending_boundaries([1.0])[0] == pytest.approx(1.95996, abs=1e-4)


def test_sequential_boundaries_keep_the_false_positive_rate() -> None:
    """Under H0, stopping at any of 5 looks rejects ~5% of the time (peeking at 1.96: ~14%)."""
    rng = np.random.default_rng(0)
    sims, looks = 20000, 5
    walk = np.cumsum(rng.standard_normal((sims, looks)), axis=1) / np.sqrt(np.arange(1, 6))
    bounds = spending_boundaries(np.arange(1, 6) / 5)
    reject = (np.abs(walk) >= bounds).any(axis=1).mean()
    naive = (np.abs(walk) >= 1.96).any(axis=1).mean()
    assert abs(reject - 0.05) < 0.006 and naive > 0.12


def test_sequential_test_on_a_growing_record() -> None:
    rng = np.random.default_rng(3)
    plan = SequentialPlan(max_periods=500, looks=5)
    a = rng.normal(0.0, 0.01, 500)
    edge = a + 0.004 + rng.normal(0, 0.005, 500)
    early = sequential_test(a[:50], edge[:50], plan)
    assert early.decision == "continue" and early.next_look_at == 100 and not early.stopped
    res = sequential_test(a, edge, plan)
    assert res.decision == "challenger better" and res.look < 5 and res.periods < 500
    null = sequential_test(a, a + rng.normal(0, 0.005, 500), plan)
    assert null.decision in ("no difference", "champion better", "challenger better")
    assert null.stopped
    with pytest.raises(ConfigError, match="differ in length"):
        sequential_test(a[:10], a[:11], plan)
    with pytest.raises(ConfigError, match="10 periods per look"):
        SequentialPlan(max_periods=20, looks=5)


@pytest.mark.slow  # two tiny trainings (session fixtures) and 3 x 6 backtests
def test_abtest_end_to_end(package_a, package_b, run_a, bars_csv, tmp_path) -> None:
    out = tmp_path / "ab"
    settings = ABSettings(runs=6, allow_in_sample=True, start="2000-01-01")  # the whole series
    summary = abtest([package_a, package_b, run_a], str(bars_csv), settings, out=out)
    assert summary["in_sample"] is True
    comps = {c["challenger"]: c for c in summary["comparisons"]}
    assert set(comps) == {"B:run_b", "C:run_a"}
    same = [c for c in summary["comparisons"] if c["challenger"].startswith("C:")][0]
    assert same["identical"] and same["verdict"] == "keep"  # the package is its run
    assert all(c["p_holm"] >= c["p_value"] - 1e-12 for c in summary["comparisons"])
    on_disk = json.loads((out / "abtest.json").read_text())
    assert on_disk["models"][0]["package_sha256"] and on_disk["models"][2]["kind"] == "run"
    import pandas as pd

    rows = pd.read_parquet(out / "results.parquet")
    assert list(rows.columns) == list(RESULT_COLUMNS) and len(rows) == 18
    spans = rows.groupby("policy")[["start", "end"]].apply(lambda f: tuple(map(tuple, f.values)))
    assert spans.nunique() == 1  # every model traded the same windows


def test_abtest_refuses_bad_input(package_a, run_a, bars_csv, tmp_path) -> None:
    with pytest.raises(ConfigError, match="at least two models"):
        abtest([package_a], str(bars_csv), ABSettings())
    other = Path(shutil.copytree(run_a, tmp_path / "other"))
    text = (other / "config.yaml").read_text().replace("bb_std: 2.0", "bb_std: 2.5")
    (other / "config.yaml").write_text(text)
    with pytest.raises(ConfigError, match="features section"):
        check_compatible(load_models([package_a, other]))
    with pytest.raises(ConfigError, match="neither a model package nor a run folder"):
        load_models([package_a, tmp_path])
