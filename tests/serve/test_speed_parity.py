"""Issue 19 item 6 (service speed): every shortcut taken for speed gives what the slow path
gives. The NumPy MLP forward scores like `score_windows` (Q within 1e-5, the same actions
through `walk_policy`); a forked feature pipeline continues exactly like the original and
shares no state with it; the window frame and checks equal the per-bar ones; the body parsed
in the worker is refused as FastAPI refused it; the bar log checkpoints off the request path."""

from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import pytest
import talib
import torch
from _tiny import SIZED, bar_json, tiny_model
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from _features import SMALL_FEATURES
from regime_trader.envs import spec
from regime_trader.features.streaming import FeaturePipeline
from regime_trader.nets.mlp import MLPQNet
from regime_trader.policy.backtest import score_windows, walk_policy
from regime_trader.policy.fast import MLPWindowScorer, scorer_for
from regime_trader.policy.rule import DecisionRule, regime_probabilities
from regime_trader.serve.answers import check_window, parse_request, window_frame
from regime_trader.serve.limits import BarLimits
from regime_trader.serve.refusals import FieldError
from regime_trader.serve.schemas import Bar, DecideRequest
from regime_trader.serve.store import LoggedBar, SessionLog
from regime_trader.serve.streaming import fork


@pytest.mark.parametrize("short", [False, True])
@pytest.mark.parametrize("hidden", [(16, 16), (128, 128), (32,)])
def test_numpy_mlp_scores_like_the_torch_scorer(short: bool, hidden: tuple[int, ...]) -> None:
    torch.manual_seed(3)
    net = MLPQNet(30, 13, 1, hidden).eval()
    positions = spec.positions_for(short)
    scorer = scorer_for(net, positions)
    assert isinstance(scorer, MLPWindowScorer) and scorer_for(net, positions) is scorer
    rng = np.random.default_rng(0)
    windows = rng.standard_normal((400, 30, 13)).astype(np.float32) * 2
    fast = np.concatenate([scorer(w) for w in windows])
    slow, logits = score_windows(net, torch.from_numpy(windows), positions)
    assert logits is None and fast.shape == slow.shape == (400, len(positions), 3)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-5)
    probs = regime_probabilities(None, rng.integers(-1, 4, len(windows)))
    for rule in (DecisionRule(), SIZED, DecisionRule(base=(0.0, 0.02, 0.01), boost=0.3)):
        a = walk_policy(fast.astype(np.float32), probs, short, rule)
        b = walk_policy(slow, probs, short, rule)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_allclose(a.positions, b.positions, rtol=0, atol=1e-9)


def test_the_numpy_scorer_sees_weight_updates_and_only_takes_plain_mlps(bars) -> None:
    torch.manual_seed(0)
    net = MLPQNet(10, 5, 1, (8,)).eval()
    scorer = scorer_for(net, (0.0, 1.0))
    assert scorer is not None
    window = np.ones((10, 5), np.float32)
    before = scorer(window).copy()
    with torch.no_grad():
        net.body[0].bias += 1.0  # an in-place update (load_state_dict copies in place too)
    after = scorer(window)
    slow, _ = score_windows(net, torch.from_numpy(window)[None], (0.0, 1.0))
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, slow, atol=1e-5)
    net.double().float()  # new tensors: a new scorer on them
    assert scorer_for(net, (0.0, 1.0)) is not scorer
    np.testing.assert_allclose(scorer_for(net, (0.0, 1.0))(window), slow, atol=1e-5)

    class Scaled(MLPQNet):  # a subclass may change the forward pass
        pass

    assert scorer_for(Scaled(10, 5), (0.0, 1.0)) is None
    assert scorer_for(MLPQNet(10, 5).double(), (0.0, 1.0)) is None
    assert scorer_for(tiny_model(bars, net="enhanced").net, (0.0, 1.0)) is None


@pytest.mark.parametrize(
    "cfg",
    [
        SMALL_FEATURES,
        SMALL_FEATURES.model_copy(update={"timeframes": ("W",)}),
        SMALL_FEATURES.model_copy(update={"long_horizon": True, "vol_level_window": 5}),
    ],
    ids=["base", "timeframes", "long_horizon"],
)
def test_a_forked_pipeline_continues_like_the_original_and_shares_nothing(
    ohlcv_factory, cfg
) -> None:
    df = ohlcv_factory(160, seed=5)
    rows = [{**df.iloc[i][["high", "low", "close"]].to_dict()} for i in range(len(df))]
    for cut in (2, 40):  # during the warm-up (bars still kept) and after it
        pipe = FeaturePipeline(cfg)
        for i in range(cut):
            pipe.update_values(rows[i], df.index[i])
        twin, copied = fork(pipe), copy.deepcopy(pipe)
        assert not _shared_mutables(pipe, twin)
        got = [twin.update_values(rows[i], df.index[i]) for i in range(cut, len(df))]
        want = [copied.update_values(rows[i], df.index[i]) for i in range(cut, len(df))]
        np.testing.assert_array_equal(got, want)
        assert pipe.n_seen == cut  # the original did not move, and goes on the same way
        again = [pipe.update_values(rows[i], df.index[i]) for i in range(cut, len(df))]
        np.testing.assert_array_equal(again, got)


def _mutables(obj: object, seen: set[int] | None = None) -> dict[int, object]:
    """Every array, list, dict, TA-Lib handle and object of ours (not a frozen config)
    reachable from ``obj``."""
    seen = set() if seen is None else seen
    out: dict[int, object] = {}
    if id(obj) in seen:
        return out
    seen.add(id(obj))
    if isinstance(obj, np.ndarray | list | dict | talib.stream.Stream):
        out[id(obj)] = obj
    children = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
    frozen = isinstance(obj, BaseModel) and obj.model_config.get("frozen")  # a config
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith("regime_trader") and not frozen:
        out[id(obj)] = obj
        children = vars(obj).values()
    for child in children:
        out.update(_mutables(child, seen))
    return out


def _shared_mutables(a: object, b: object) -> set[int]:
    return set(_mutables(a)) & set(_mutables(b))


def _bars(n: int, start: str = "2020-01-01") -> list[dict]:
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(n)))
    stamps = pd.date_range(start, periods=n, freq="D")
    return [
        {"timestamp": t.isoformat(), "open": c, "high": c * 1.01, "low": c * 0.99, "close": c}
        for t, c in zip(stamps, close, strict=True)
    ]


def test_the_window_frame_equals_the_request_frame() -> None:
    bars = _bars(50)
    bars[3]["timestamp"] = "2020-01-04T02:00:00+02:00"  # another offset, converted to UTC
    bars[4]["timestamp"] += "Z"
    for volume in (None, "some", "all"):
        given = [dict(b) for b in bars]
        for i, b in enumerate(given):
            if volume == "all" or (volume == "some" and i % 3 == 0):
                b["volume"] = float(i)
        req = DecideRequest.model_validate({"bars": given})
        pd.testing.assert_frame_equal(window_frame(req.bars), req.frame())


def _reference_check(bars: list[Bar], limits: BarLimits) -> None:
    """The check as it was: bar by bar, order first, then the limits."""
    prev_ts, prev_close = None, None
    for i, bar in enumerate(bars):
        ts, px = bar.utc(), bar.prices()
        if prev_ts is not None and ts <= prev_ts:
            raise FieldError(f"bars.{i}.timestamp", f"{ts} is not after bars.{i - 1} ({prev_ts})")
        limits.check(f"bars.{i}", ts, px, prev_close)
        prev_ts, prev_close = ts, px["close"]


@pytest.mark.parametrize("fault", ["none", "order", "same_time", "jump", "jump_then_order"])
def test_the_window_check_refuses_what_the_per_bar_check_refused(fault: str) -> None:
    bars = _bars(60)
    if fault in ("order", "jump_then_order"):
        bars[40]["timestamp"] = bars[30]["timestamp"]
    if fault == "same_time":
        bars[12]["timestamp"] = bars[11]["timestamp"]
    if fault in ("jump", "jump_then_order"):
        for k in ("open", "high", "low", "close"):
            bars[20][k] *= 30
    req = DecideRequest.model_validate({"bars": bars})
    limits = BarLimits()
    try:
        _reference_check(req.bars, limits)
    except FieldError as exc:
        with pytest.raises(FieldError) as got:
            check_window(req.bars, limits)
        assert (got.value.field, got.value.message) == (exc.field, exc.message)
    else:
        check_window(req.bars, limits)
        assert fault == "none"


@pytest.mark.parametrize(
    ("body", "ctype", "field"),
    [
        (b"", "application/json", "body"),
        (b'{"bar": ', "application/json", "body"),
        (b'{"bars": []}', "text/plain", "body"),
        (
            b'{"bar": {"timestamp": "2020-01-01", "open": 1, "high": 2, "low": 1, "close": "2"},'
            b' "session_id": "s"}',
            "application/json",
            "bar.close",
        ),  # fmt: skip
        (b'{"bars": [], "x": 1}', "application/vnd.api+json", "bars"),
    ],
)
def test_the_body_is_refused_as_fastapi_refused_it(body: bytes, ctype: str, field: str) -> None:
    from regime_trader.serve.handlers import field_errors

    with pytest.raises(RequestValidationError) as err:
        parse_request(body, ctype)
    assert field_errors(err.value)[0]["field"] == field


def test_the_bar_log_checkpoints_in_its_own_thread(tmp_path) -> None:
    """The commits only append to the WAL; the log's thread copies it into the database."""
    db = tmp_path / "s.db"
    log = SessionLog(db)
    start = db.stat().st_size
    for i in range(1, 301):
        stamp = f"2020-01-01T00:{i // 60:02d}:{i % 60:02d}"
        log.append("s", LoggedBar(i, stamp, (1.0, 2.0, 1.0, 1.0), 0.0), None, None)
    assert db.stat().st_size == start  # nothing checkpointed inside a commit
    deadline = time.monotonic() + 20
    while db.stat().st_size == start and time.monotonic() < deadline:
        time.sleep(0.1)
    assert db.stat().st_size > start
    log.close()
    assert log._checkpoints is not None and not log._checkpoints.is_alive()
    again = SessionLog(db)
    assert [b.seq for b in again.load("s")[1]] == list(range(1, 301))
    again.close()


def test_stream_decisions_with_the_numpy_forward_equal_the_backtest(ohlcv_factory) -> None:
    from regime_trader.serve import ModelHolder, SessionManager

    df = ohlcv_factory(220, seed=9)
    model = tiny_model(df, net="mlp", allow_short=True, rule=SIZED)
    assert scorer_for(model.net, spec.positions_for(True)) is not None
    manager = SessionManager(ModelHolder(model=model))
    steps = [manager.step("s", bar_json(df, i)) for i in range(len(df))]
    got = [s.decision for s in steps if s.decision]
    path, _ = model.path_on(df)
    assert [d.action for d in got] == list(path.actions)
    np.testing.assert_allclose([d.position for d in got], path.positions, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.stack([d.q for d in got]), path.q, rtol=0, atol=1e-5)


def test_the_route_answers_bad_bodies_as_before_and_documents_the_body(service) -> None:
    import httpx
    from _tiny import AUTH

    url, _, _ = service
    post = {"headers": {**AUTH, "Content-Type": "application/json"}, "timeout": 30}
    r = httpx.post(f"{url}/v1/decide", content=b'{"bar": "\xff"}', **post)
    assert r.status_code == 400 and "parsing the body" in r.text  # FastAPI's own 400
    r = httpx.post(f"{url}/v1/decide", content=b"", **post)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    schema = httpx.get(f"{url}/openapi.json", headers=AUTH).json()
    body = schema["paths"]["/v1/decide"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/DecideRequest"}
    assert {"DecideRequest", "Bar"} <= set(schema["components"]["schemas"])
    params = schema["paths"]["/v1/decide"]["post"]["parameters"]
    assert [p["name"] for p in params] == ["idempotency-key"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_vectorised_limit_checks_raise_what_the_per_bar_checks_raise(seed: int) -> None:
    """`BarLimits.check_many` names the same first bar and field, with the same message, as
    `check` called bar by bar (a spike, an absurd price, a wide bar, a future stamp)."""
    from regime_trader.serve.limits import BarLimits
    from regime_trader.serve.refusals import FieldError

    rng = np.random.default_rng(seed)
    n = 300
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    px = np.column_stack([close, close * 1.01, close * 0.99, close])
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    i = int(rng.integers(1, n))
    kind = seed % 4
    if kind == 0:
        px[i] *= 50.0  # a 50x spike against the close before
    elif kind == 1:
        px[i, :] = 1e300
    elif kind == 2:
        px[i, 1] = px[i, 2] * 20  # high 20x the low
    else:
        index = index[:-1].append(pd.DatetimeIndex([pd.Timestamp("2200-01-01", tz="UTC")]))
        i = n - 1
    limits = BarLimits()

    def scalar() -> str:
        prev = None
        for j in range(n):
            prices = {
                k: float(v) for k, v in zip(("open", "high", "low", "close"), px[j], strict=True)
            }
            limits.check(f"bars.{j}", index[j], prices, prev)
            prev = float(px[j, 3])
        return "no error"

    with pytest.raises(FieldError) as a:
        scalar()
    with pytest.raises(FieldError) as b:
        limits.check_many("bars", index, px)
    assert str(a.value) == str(b.value) and f"bars.{i}" in str(b.value)
