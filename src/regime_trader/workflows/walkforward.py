"""`regime-trader walkforward`: rolling-origin train / validate / embargo / test over series.

Each job is one (series, window, seed). It trains the **original** agent (the plan's MLP
double DQN: P&L reward, uniform replay, no curriculum) and the **regime-aware** agent
(`presets.REGIME_AWARE`: EnhancedDQN, regime reward, regime replay, curriculum) from one config, so
both get the same budget, seed, bars, envs and update schedule; fits the regime-aware run's
decision rule on its validation bars (**calibrated**); then scores all three and the
baselines on the window's test bars. Nothing looks at test bars before that last step.

Windows (rows of the series): window ``w`` of ``W`` tests on the ``test_bars`` rows ending
``(W - 1 - w) * test_bars`` rows before the end; before them come ``val_bars`` validation
rows and ``train_bars`` training rows (rolling, fixed length). The split puts an embargo of
``env.window`` rows after train and after validation (inside those blocks).

Jobs run in local processes (``backend="local"``, ``workers`` at a time, one thread each)
or as Ray tasks (``backend="ray"``, ``address`` for a cluster). A job writes its rows into
``jobs/<series>-w<w>-s<seed>/rows.parquet`` atomically, so a re-run skips finished jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regime_trader.config import Config
from regime_trader.data import load_ohlcv
from regime_trader.errors import ConfigError, DataError
from regime_trader.evaluation.results import write_results
from regime_trader.policy.calibration import write_trials
from regime_trader.policy.policy import Policy
from regime_trader.policy.prepare import load_frame, prepare
from regime_trader.presets import ORIGINAL, REGIME_AWARE
from regime_trader.scenarios import SCENARIO_KINDS, generate
from regime_trader.training import train
from regime_trader.utils.device import resolve_device
from regime_trader.utils.io import atomic_write, atomic_write_json
from regime_trader.workflows.runs import calibrate_run
from regime_trader.workflows.suite import SCENARIO_BARS, Markets, agent_policies, evaluate_part

DONE = ".trained"  # marker: the run folder holds a finished training


@dataclass(frozen=True)
class Window:
    """Dates (inclusive) of one rolling-origin window."""

    number: int
    start: str
    train_end: str
    val_end: str
    end: str
    test_start: str = ""  # first test decision bar (after the embargo that follows validation)


@dataclass(frozen=True)
class Job:
    series: str
    window: Window
    seed: int
    config: dict  # the base config (Config.to_dict()), budget applied
    out: str
    scenarios: tuple[str, ...] = ()  # synthetic kinds the job's agents are also scored on
    unit: int = 0  # number of (series, window) among all jobs: the key of synthetic rows


def make_windows(
    index: pd.DatetimeIndex,
    n_windows: int,
    train_bars: int,
    val_bars: int,
    test_bars: int,
    embargo: int = 0,
) -> list[Window]:
    """The rolling-origin windows of a series (see the module doc): each tests on exactly
    ``test_bars`` rows, after ``embargo`` rows that follow its validation rows.

    Raises:
        DataError: the series is too short for ``n_windows`` windows.
    """
    need = train_bars + val_bars + embargo + n_windows * test_bars
    if min(n_windows, train_bars, val_bars, test_bars) < 1:
        raise ConfigError("walkforward: windows, train, val and test bars must be >= 1")
    if len(index) < need:
        raise DataError(
            f"{len(index)} bars are too few for {n_windows} walk-forward window(s) of "
            f"{train_bars} train + {val_bars} validation + {embargo} embargo + {test_bars} test "
            f"bars (need {need}); "
            "use fewer --windows or smaller --train-bars/--test-bars"
        )
    out = []
    for w in range(n_windows):
        te_end = len(index) - (n_windows - 1 - w) * test_bars
        te_start = te_end - test_bars
        va_end = te_start - embargo
        tr_end = va_end - val_bars
        start = tr_end - train_bars
        rows = (start, tr_end - 1, va_end - 1, te_end - 1, te_start)
        out.append(Window(w, *[index[i].isoformat() for i in rows]))
    return out


def job_config(base: Config, job: Job, preset: dict[str, dict[str, Any]]) -> Config:
    """The config one agent of a job trains with: base, window dates, seed, preset."""
    w = job.window
    cfg = base.override(
        data={"source": job.series, "start": w.start, "end": w.end}
        | {"train_end": w.train_end, "val_end": w.val_end},
        train={"seed": job.seed, "threads": 1},
    )
    return cfg.override(**preset)


def window_test_span(
    index: pd.DatetimeIndex, window: Window, embargo: int
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last test timestamps: ``embargo`` bars after the last validation bar (so no
    observation window reaches into validation) to the window's end."""
    v = int(index.searchsorted(pd.Timestamp(window.val_end)))
    return index[min(v + 1 + embargo, len(index) - 1)], pd.Timestamp(window.end)


def _job_name(job: Job) -> str:
    return f"{Path(job.series).name.split('.')[0]} w{job.window.number} s{job.seed}"


def _report(say: Callable[[str], None] | None, done: int, total: int, job: Job, t0: float) -> None:
    """One line per finished job with an estimate of the time left (wall clock so far)."""
    if say is None:
        return
    spent = time.perf_counter() - t0
    left = spent / done * (total - done)
    say(
        f"[{done}/{total}] {_job_name(job)} ({job.window.test_start[:10]} to "
        f"{job.window.end[:10]}) done; {spent / 60:.1f} min so far, about {left / 60:.1f} min left"
    )


def _job_dir(job: Job) -> Path:
    name = Path(job.series).name.split(".")[0]
    return Path(job.out) / "jobs" / f"{name}-w{job.window.number}-s{job.seed}"


def run_job(job: Job) -> str:
    """Train, calibrate and test one job; returns the folder holding its rows.

    The window's bars are prepared once (`prepare` on the window's dates): both agents train
    on that preparation and are scored on its test part, so features are built once per
    series and scaler (both scalers are fitted on the same training rows)."""
    folder = _job_dir(job)
    if (folder / "rows.parquet").is_file():
        return str(folder)
    base = Config.from_dict(job.config)
    cfg0 = job_config(base, job, ORIGINAL)
    data = prepare(cfg0)
    for name, preset in (("original", ORIGINAL), ("regime_aware", REGIME_AWARE)):
        if not (folder / name / DONE).is_file():  # a re-run re-scores, it does not retrain
            cfg = job_config(base, job, preset)
            train(cfg, folder / name, data=data, progress=False, force=True)
            (folder / name / DONE).touch()
    calibrate_run(folder / "regime_aware", data=data)
    pols = agent_policies(folder / "original", folder / "regime_aware", resolve_device("cpu"))
    frame = load_frame(cfg0)
    markets = Markets()
    for p in pols:
        markets.seed(p, frame, job.series, True, data)
    span = window_test_span(data.market.index, job.window, base.env.window)
    rows, rets = evaluate_part(
        pols,
        frame,
        series=job.series,
        kind="real",
        seed=job.seed,
        window=job.window.number,
        span=span,
        split=True,
        markets=markets,
    )
    for kind in job.scenarios:  # the same trained agents on synthetic bars with true labels
        r, x = _scenario_part(pols, kind, job, markets)
        rows += r
        rets += x
    atomic_write(folder / "returns.parquet", lambda p: pd.concat(rets).to_parquet(p, index=False))
    atomic_write(folder / "rows.parquet", lambda p: pd.DataFrame(rows).to_parquet(p, index=False))
    return str(folder)


def _scenario_part(
    pols: list[Policy], kind: str, job: Job, markets: Markets
) -> tuple[list[dict], list[pd.DataFrame]]:
    """One synthetic scenario (seeded by the job's seed) with series ``KIND``; its ``window``
    is the job's ``unit`` (one number per series x window), so rows pair by trained agents."""
    frame = generate(kind, SCENARIO_BARS, rng=np.random.default_rng([job.seed, 11]))
    truth = frame.pop("true_regime")
    return evaluate_part(
        pols,
        frame,
        series=kind,
        kind="synthetic",
        seed=job.seed,
        window=job.unit,
        true_labels=truth,
        markets=markets,
    )


def run_jobs(
    jobs: Sequence[Job],
    *,
    backend: str,
    workers: int,
    address: str | None,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Run every job (local processes or Ray tasks); their folders, in job order.
    ``progress`` gets one line per finished job with the time left."""
    t0 = time.perf_counter()
    if backend == "ray":
        return _run_ray(jobs, address, progress, t0)
    if backend != "local":
        raise ConfigError(f"--backend must be 'local' or 'ray', got {backend!r}")
    if workers <= 1:
        out = []
        for i, j in enumerate(jobs):
            out.append(run_job(j))
            _report(progress, i + 1, len(jobs), j, t0)
        return out
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_job, j): i for i, j in enumerate(jobs)}
        folders: dict[int, str] = {}
        for done, fut in enumerate(as_completed(futures), start=1):
            folders[futures[fut]] = fut.result()
            _report(progress, done, len(jobs), jobs[futures[fut]], t0)
    return [folders[i] for i in range(len(jobs))]


def _run_ray(
    jobs: Sequence[Job], address: str | None, progress: Callable[[str], None] | None, t0: float
) -> list[str]:
    import ray  # type: ignore[import-untyped]  # optional dependency: only with --backend ray

    started = not ray.is_initialized()
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(run_job)
        refs = [task.remote(j) for j in jobs]
        pending, index = list(refs), {r: i for i, r in enumerate(refs)}
        for done in range(1, len(refs) + 1):
            ready, pending = ray.wait(pending, num_returns=1)
            _report(progress, done, len(jobs), jobs[index[ready[0]]], t0)
        return list(ray.get(refs))
    finally:
        if started:  # leave a caller's own Ray session alone
            ray.shutdown()


def walkforward(
    sources: Sequence[str],
    out: str | Path,
    base: Config,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    n_windows: int = 2,
    train_bars: int = 1500,
    val_bars: int = 250,
    test_bars: int = 250,
    backend: str = "local",
    workers: int = 1,
    address: str | None = None,
    scenarios: Sequence[str] = SCENARIO_KINDS,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Every (series, window, seed) job; writes ``results.parquet``, ``returns.parquet`` and
    ``walkforward.json`` (with every window's dates) into ``out`` and returns the rows.
    ``progress`` gets one line per finished job with an estimate of the time left."""
    out = Path(out)
    jobs = []
    plan: dict[str, list[dict]] = {}
    for src in sources:
        index = pd.DatetimeIndex(load_ohlcv(src).index)
        try:
            windows = make_windows(
                index, n_windows, train_bars, val_bars, test_bars, embargo=base.env.window
            )
        except DataError as exc:
            raise DataError(f"{src}: {exc}") from None
        cfg = base.model_dump(mode="json")
        units = {w.number: len(plan) * n_windows + w.number for w in windows}
        plan[src] = [asdict(w) | {"unit": units[w.number]} for w in windows]
        jobs += [
            Job(src, w, s, cfg, str(out), tuple(scenarios), units[w.number])
            for w in windows
            for s in seeds
        ]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        out / "walkforward.json",
        {"windows": plan, "seeds": list(seeds), "config": base.model_dump(mode="json")},
    )
    folders = run_jobs(jobs, backend=backend, workers=workers, address=address, progress=progress)
    rows = pd.concat([pd.read_parquet(Path(f) / "rows.parquet") for f in folders])
    rets = pd.concat([pd.read_parquet(Path(f) / "returns.parquet") for f in folders])
    write_results(out, rows, rets)
    write_trials(out, [Path(f) / "regime_aware" for f in folders])
    return rows
