"""Commands: serve, monitor, paper (the `serve` extra: FastAPI, uvicorn, prometheus-client).

docs/deployment.md is the guide; docs/monitoring.md lists every monitored metric.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from regime_trader.cli.app import app
from regime_trader.cli.base import Command, out
from regime_trader.errors import ConfigError, RegimeTraderError

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
):
    from regime_trader.serve import ModelHolder, SessionManager, create_app

    holder = ModelHolder(spec, device=device, registry_root=registry)
    if watch > 0:
        holder.watch(watch)
    return holder, create_app(holder, token=token, sessions=SessionManager(holder, sessions_db))


@app.command(cls=Command)
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
    device: Annotated[str, typer.Option(help="cpu, cuda[:N] or auto.")] = "cpu",
    registry: Annotated[
        Path, typer.Option(metavar="DIR", help="Registry folder for registry:NAME@alias.")
    ] = Path("registry"),
) -> None:
    """Serve decisions over HTTP: POST /v1/decide, GET /v1/model, /healthz, /metrics."""
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


@app.command(cls=Command)
def monitor(
    db: Annotated[Path, typer.Argument(metavar="DB", help="A monitoring database (paper --out).")],
    html: Annotated[
        Path | None, typer.Option(metavar="FILE", help="HTML report (default: DB with .html).")
    ] = None,
) -> None:
    """Summarise a monitoring database and write its HTML report."""
    from regime_trader.monitoring.report import summary, summary_lines, write_html
    from regime_trader.monitoring.store import MonitorStore

    store = MonitorStore.open_existing(db)
    for line in summary_lines(summary(store)):
        out.print(line, markup=False, highlight=False)
    path = write_html(store, html or db.with_suffix(".html"))
    out.print(f"report: {path}", markup=False)


@app.command(cls=Command)
def paper(
    model: ModelArg,
    data: Annotated[str, typer.Option(metavar="INPUT", help="Bars to replay (file or dataset).")],
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="record.csv, monitor.db, monitor.html.")
    ] = Path("paper"),
    url: Annotated[
        str | None, typer.Option(help="A running service; default: start one on a free port.")
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
) -> None:
    """Replay INPUT bar by bar through the decision service, with monitoring on."""
    _need_serve_extra()
    from regime_trader.data import load_ohlcv
    from regime_trader.serve.model import load_model, resolve

    local = load_model(resolve(model, registry))
    bars = load_ohlcv(data)
    out_dir.mkdir(parents=True, exist_ok=True)
    mon = None if no_monitor else _monitor(local, reference, webhook, window, out_dir)
    res = _replay(model, local, bars, url, token_file, mon)
    _report(local, bars, res, out_dir)


def _monitor(local, reference, webhook, window, out_dir):  # noqa: ANN001, ANN202
    from regime_trader.monitoring import AlertSink, ModelMonitor, MonitorConfig, MonitorStore
    from regime_trader.serve.paper import validation_expectations

    mcfg = MonitorConfig(window=window, check_every=max(1, window // 3))
    expected = validation_expectations(local, reference or local.config.data.source, mcfg)
    db = out_dir / "monitor.db"
    db.unlink(missing_ok=True)
    return ModelMonitor(MonitorStore(db), expected, AlertSink(webhook), mcfg, local.version)


def _replay(spec, local, bars, url, token_file, mon):  # noqa: ANN001, ANN202
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


def _report(local, bars, res, out_dir: Path) -> None:  # noqa: ANN001
    from regime_trader.serve.paper import backtest_decisions

    rec = res.record
    rec.to_csv(out_dir / "record.csv")
    if rec.empty:
        raise RegimeTraderError(f"no decisions: {len(bars)} bars do not fill one window")
    bt = backtest_decisions(local, bars)
    same = (
        int((bt["action"].to_numpy() == rec["action"].to_numpy()).sum())
        if len(bt) == len(rec)
        else 0
    )
    ret = rec["return"].dropna()
    out.print(
        f"{res.bars_sent:,} bars sent in {res.seconds:.1f} s "
        f"(p50 {rec['latency_ms'].median():.1f} ms, p99 {rec['latency_ms'].quantile(0.99):.1f} ms); "
        f"{len(rec):,} decisions, {same:,} equal to the backtest's; "
        f"total return {(1 + ret).prod() - 1:+.2%}",
        markup=False,
    )
    if res.monitor is not None:
        from regime_trader.monitoring.report import write_html

        res.monitor.check()
        n = len(res.monitor.alerts)
        path = write_html(res.monitor.store, out_dir / "monitor.html")
        out.print(f"{n} alert(s); monitoring: {out_dir / 'monitor.db'} ({path.name})", markup=False)
    out.print(f"record: {out_dir / 'record.csv'}", markup=False)
