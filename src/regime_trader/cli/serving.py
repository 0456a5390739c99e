"""Commands: serve, monitor, paper (the `serve` extra: FastAPI, uvicorn, prometheus-client).

docs/deployment.md is the guide; docs/monitoring.md lists every monitored metric.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from regime_trader.cli.app import app
from regime_trader.cli.base import PANEL_SERVE, Command, DeviceOpt, arg, next_steps, out, say
from regime_trader.errors import ConfigError, DataError, RegimeTraderError

if TYPE_CHECKING:
    import pandas as pd

    from regime_trader.monitoring import ModelMonitor
    from regime_trader.policy.policy import Policy
    from regime_trader.serve import ModelHolder
    from regime_trader.serve.app import Guard
    from regime_trader.serve.paper import PaperResult

ModelArg = Annotated[
    str,
    typer.Argument(
        metavar="PKG",
        help="A model package folder, a run folder, or registry:NAME@alias.",
        show_default=False,
    ),
]
TokenFileOpt = Annotated[
    Path | None,
    typer.Option(metavar="FILE", help="File holding the API key (else $REGIME_TRADER_API_KEY)."),
]


def _need_serve_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"the service needs the 'serve' extra ({exc.name} missing): "
            "pip install 'regime-trader[serve]'"
        ) from None


def _build_app(
    spec: str, token: str, sessions_db: Path | None, device: str, watch: float, registry: Path
) -> tuple[ModelHolder, Guard]:
    from regime_trader.serve import ModelHolder, SessionManager, create_app

    holder = ModelHolder(spec, device=device, registry_root=registry)
    if watch > 0:
        holder.watch(watch)
    return holder, create_app(holder, token=token, sessions=SessionManager(holder, sessions_db))


@app.command(cls=Command, rich_help_panel=PANEL_SERVE)
def serve(
    model: ModelArg,
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback unless told).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    token_file: TokenFileOpt = None,
    sessions_db: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="SQLite bar log of stream sessions (kept across restarts)."
        ),
    ] = Path("sessions.db"),
    watch: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="Poll PKG for a new champion every N s (0: off)."),
    ] = 10.0,
    threads: Annotated[int, typer.Option(min=1, help="Torch threads per forward pass.")] = 1,
    device: DeviceOpt = "cpu",
    registry: Annotated[
        Path, typer.Option(metavar="DIR", help="Registry folder for registry:NAME@alias.")
    ] = Path("registry"),
) -> None:
    """Serve decisions over HTTP: POST /v1/decide, GET /v1/model, /healthz, /metrics.

    Needs an API key of at least 16 characters, from $REGIME_TRADER_API_KEY or --token-file
    FILE: without one it refuses to start (exit code 2). Every route but /healthz asks for it
    (Authorization: Bearer KEY or X-API-Key: KEY). Limits (prices, sessions in memory) come
    from REGIME_TRADER_* variables; docs/deployment.md lists them.
    """
    _need_serve_extra()
    import torch

    from regime_trader.serve.auth import load_token
    from regime_trader.serve.server import serve_forever

    token = load_token(token_file)
    torch.set_num_threads(threads)
    holder, asgi = _build_app(model, token, sessions_db, device, watch, registry)
    if host not in ("127.0.0.1", "localhost", "::1"):
        out.print(
            f"Warning: binding {host}: the service is reachable beyond this machine", markup=False
        )
    m = holder.current
    out.print(f"serving {m.name} {m.version} ({model}) on http://{host}:{port}", markup=False)
    serve_forever(asgi, host, port)


@app.command(cls=Command, rich_help_panel=PANEL_SERVE)
def monitor(
    db: Annotated[Path, typer.Argument(metavar="DB", help="A monitoring database (paper --out).")],
    html: Annotated[
        Path | None, typer.Option(metavar="FILE", help="HTML report (default: DB with .html).")
    ] = None,
) -> None:
    """Summarise a monitoring database and write its HTML report."""
    from regime_trader.monitoring.report import summary, summary_lines, write_html
    from regime_trader.monitoring.store import MonitorStore

    if not db.is_file():
        raise DataError(
            f"monitoring database '{db}' not found: `regime-trader paper PKG --data INPUT "
            "--out DIR` writes DIR/monitor.db"
        )
    store = MonitorStore.open_existing(db)
    s = summary(store)
    for line in summary_lines(s):
        say(line)
    path = write_html(store, html or db.with_suffix(".html"))
    say(f"report: {path}")
    if s["alerts"]:
        next_steps("regime-trader registry rollback NAME --reason 'alerts in monitoring'")
    else:
        next_steps(f"regime-trader paper PKG --data NEW_BARS --out {arg(db.parent)}")


@app.command(cls=Command, rich_help_panel=PANEL_SERVE)
def paper(
    model: ModelArg,
    data: Annotated[str, typer.Option(metavar="INPUT", help="Bars to replay (file or dataset).")],
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="record.csv, monitor.db, monitor.html.")
    ] = Path("paper"),
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="A running service; default: start one on a free port."),
    ] = None,
    token_file: TokenFileOpt = None,
    registry: Annotated[
        Path, typer.Option(metavar="DIR", help="Registry folder for registry:NAME@alias.")
    ] = Path("registry"),
    reference: Annotated[
        str | None,
        typer.Option(
            metavar="INPUT",
            help="Series whose validation split sets the alert bands "
            "(default: the model's training data).",
        ),
    ] = None,
    webhook: Annotated[str | None, typer.Option(metavar="URL", help="POST alerts here.")] = None,
    window: Annotated[int, typer.Option(min=5, help="Bars in the rolling metrics.")] = 63,
    no_monitor: Annotated[bool, typer.Option("--no-monitor", help="Skip monitoring.")] = False,
    start: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="First decision (default on the model's own series: "
            "env.window bars after its validation bars).",
        ),
    ] = None,
    end: Annotated[str | None, typer.Option(metavar="DATE", help="Last bar to replay.")] = None,
    allow_in_sample: Annotated[
        bool,
        typer.Option(
            "--allow-in-sample",
            help="Replay bars the model trained or was "
            "selected on (the result is labelled in-sample).",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="No line per alert; the summary only.")
    ] = False,
) -> None:
    """Replay the bars of --data one by one through the decision service, with monitoring on.

    Starts a local service on a free port for the replay unless --url names a running one.
    On the model's own training series the replay starts after its validation bars.
    """  # fmt: skip
    _need_serve_extra()
    from regime_trader.data import load_ohlcv
    from regime_trader.serve.model import load_model, resolve
    from regime_trader.serve.paper import paper_bars

    local = load_model(resolve(model, registry))
    bars = load_ohlcv(data)
    if len(bars) >= local.min_bars:
        bars, in_sample = paper_bars(
            local, bars, data, start=start, end=end, allow_in_sample=allow_in_sample
        )
        if in_sample:
            say("IN SAMPLE: this replay includes bars the model trained or was selected on")
    if quiet:
        logging.getLogger("regime_trader.monitoring").setLevel(logging.ERROR)
    if len(bars) < local.min_bars:
        raise DataError(
            f"{data}: {len(bars)} bars, too few to replay: {local.name} needs at least "
            f"{local.min_bars} for one decision (feature warm-up + env.window + 3); "
            "give a longer --data"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    mon = None if no_monitor else _monitor(local, reference, webhook, window, out_dir)
    res = _replay(local, bars, url, token_file, mon)
    _report(local, bars, res, out_dir, data)
    if mon is not None:
        next_steps(f"regime-trader monitor {arg(out_dir / 'monitor.db')}")


def _monitor(
    local: Policy, reference: str | None, webhook: str | None, window: int, out_dir: Path
) -> ModelMonitor:
    from regime_trader.monitoring import AlertSink, ModelMonitor, MonitorConfig, MonitorStore
    from regime_trader.serve.paper import validation_expectations

    mcfg = MonitorConfig(window=window, check_every=max(1, window // 3))
    source = reference or local.config.data.source
    try:
        expected = validation_expectations(local, source, mcfg)
    except RegimeTraderError as exc:  # name the series the bands come from
        raise type(exc)(f"{source} (--reference, the alert bands' series): {exc}") from None
    db = out_dir / "monitor.db"
    db.unlink(missing_ok=True)
    return ModelMonitor(MonitorStore(db), expected, AlertSink(webhook), mcfg, local.version)


def _replay(
    local: Policy,
    bars: pd.DataFrame,
    url: str | None,
    token_file: Path | None,
    mon: ModelMonitor | None,
) -> PaperResult:
    from regime_trader.serve.auth import load_token
    from regime_trader.serve.paper import paper_trade

    if url is not None:
        token = load_token(token_file)
        return paper_trade(url, token, bars, env_cfg=local.config.env, monitor=mon)
    from regime_trader.serve import ModelHolder, ServerThread, create_app

    token = secrets.token_urlsafe(24)
    asgi = create_app(ModelHolder(model=local), token=token)
    with ServerThread(asgi) as srv:
        out.print(f"service started on {srv.url} for this replay", markup=False)
        return paper_trade(srv.url, token, bars, env_cfg=local.config.env, monitor=mon)


def _report(local: Policy, bars: pd.DataFrame, res: PaperResult, out_dir: Path, data: str) -> None:
    from regime_trader.serve.paper import backtest_decisions
    from regime_trader.workflows.runs import decision_label

    rec = res.record
    rec.to_csv(out_dir / "record.csv")
    if rec.empty:
        raise RegimeTraderError(
            f"{data}: no decisions from {len(bars)} bars (fewer than one full window after "
            f"the feature warm-up); give a longer --data"
        )
    say(
        f"Decisions: {decision_label(local)}; bars {_when(bars.index[0])} to {_when(bars.index[-1])}"
    )
    bt = backtest_decisions(local, bars)
    same = (
        int((bt["action"].to_numpy() == rec["action"].to_numpy()).sum())
        if len(bt) == len(rec)
        else 0
    )
    ret = rec["return"].dropna().to_numpy(dtype=float)
    out.print(
        f"{res.bars_sent:,} bars sent in {res.seconds:.1f} s "
        f"(p50 {rec['latency_ms'].median():.1f} ms, p99 {rec['latency_ms'].quantile(0.99):.1f} ms); "
        f"{len(rec):,} decisions, {same:,} equal to the backtest's; "
        f"total return {float((1 + ret).prod()) - 1:+.2%}",
        markup=False,
    )
    if res.monitor is not None:
        from regime_trader.monitoring.report import write_html

        res.monitor.check()
        path = write_html(res.monitor.store, out_dir / "monitor.html")
        for line in res.monitor.alert_summary().lines():
            out.print(line, markup=False)
        out.print(f"monitoring: {out_dir / 'monitor.db'} ({path.name})", markup=False)
    out.print(f"record: {out_dir / 'record.csv'}", markup=False)


def _when(ts: pd.Timestamp) -> str:
    """A bar's time: the date alone at midnight (daily bars), else date and minute."""
    return str(ts.date()) if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")
