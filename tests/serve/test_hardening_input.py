"""Issue 19, item 1: every bad input gets a 4xx naming the field, and nothing changes."""

from __future__ import annotations

import math

import httpx
import pandas as pd
import pytest
from _tiny import AUTH, bar_json

from regime_trader.serve import ModelHolder, SessionManager
from regime_trader.serve.limits import BarLimits, SessionLimits
from regime_trader.serve.refusals import FieldError


def _stream(url: str, session: str, bar: dict) -> httpx.Response:
    return httpx.post(f"{url}/v1/decide", json={"bar": bar, "session_id": session}, headers=AUTH)


def _absurd(bars: pd.DataFrame, i: int) -> list[tuple[dict, str]]:
    """(bar, field the 422 must name) for bar ``i``: schema-valid but absurd."""
    good = bar_json(bars, i)
    last_close = float(bars["close"].iloc[i - 1])

    def prices(value: float) -> dict:
        return {**good, "open": value, "high": value, "low": value, "close": value}

    spike = {**good, "high": last_close * 1e20, "close": last_close * 1e20}
    future = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=30)).isoformat()
    return [
        (prices(1e300), "bar.open"),
        (prices(1e-300), "bar.open"),
        (prices(5e-324), "bar.open"),
        (spike, "bar.high"),
        (prices(last_close * 50), "bar.open"),  # 50x the previous close
        ({**good, "open": str(good["open"])}, "bar.open"),
        ({**good, "close": True}, "bar.close"),
        ({**good, "timestamp": "2300-01-01T00:00:00Z"}, "bar.timestamp"),
        ({**good, "timestamp": 1_700_000_000}, "bar.timestamp"),
        ({**good, "timestamp": future}, "bar.timestamp"),
        ({**good, "volume": -1.0}, "bar.volume"),
    ]


def test_absurd_bars_get_422_naming_the_field_and_change_nothing(service, bars) -> None:
    url, _, sessions = service
    for i in range(60):
        assert _stream(url, "a", bar_json(bars, i)).status_code == 200
    before = httpx.get(f"{url}/v1/sessions/a", headers=AUTH).json()
    for bar, field in _absurd(bars, 60):
        r = _stream(url, "a", bar)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["errors"][0]["field"] == field, r.text
        assert httpx.get(f"{url}/v1/sessions/a", headers=AUTH).json() == before
    # the session goes on as if the refused bars never came
    reference = SessionManager(ModelHolder(model=sessions.holder.current))
    want = [reference.step("r", bar_json(bars, i)) for i in range(80)]
    got = [_stream(url, "a", bar_json(bars, i)).json() for i in range(60, 80)]
    assert [g["action_code"] for g in got] == [w.decision.action for w in want[60:]]
    assert all(g["ready"] for g in got)


def test_nan_features_are_refused_and_never_leave_a_stale_window(model, bars) -> None:
    """A bar that gets past loose limits but makes a feature non-finite (1e300 prices
    overflow the Bollinger bands) is refused, and the session is unchanged."""
    loose = BarLimits(min_price=1e-320, max_price=1e305, max_ratio=1e305, max_future=None)
    sessions = SessionManager(ModelHolder(model=model), bar_limits=loose)
    clean = SessionManager(ModelHolder(model=model))
    for i in range(50):
        sessions.step("s", bar_json(bars, i))
    before = sessions.state("s")
    bad = {**bar_json(bars, 50), "open": 1e300, "high": 1e300, "low": 1e300, "close": 1e300}
    with pytest.raises(FieldError, match="bb_width_3") as err:
        sessions.step("s", bad)
    assert err.value.field == "bar"
    assert sessions.state("s") == before
    got = [sessions.step("s", bar_json(bars, i)) for i in range(50, 90)]
    want = [clean.step("s", bar_json(bars, i)) for i in range(90)][50:]
    assert [g.decision.action for g in got] == [w.decision.action for w in want]
    assert all(math.isfinite(x) for g in got for x in g.features)


def test_window_mode_refuses_bad_position_jumps_and_disorder(service, bars) -> None:
    url, _, _ = service
    window = [bar_json(bars, i) for i in range(0, 60)]

    def post(body: dict) -> httpx.Response:
        return httpx.post(f"{url}/v1/decide", json=body, headers=AUTH)

    for position, msg in ((0.5, "-1, 0 or 1"), (-1, "not a side this model holds"), ("1", "")):
        r = post({"bars": window, "position": position})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "position", r.text
        assert msg in r.text and "tuple.index" not in r.text
    jumped = [*window[:30], {**window[30], "high": 1e4, "close": 1e4}, *window[31:]]
    r = post({"bars": jumped})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bars.30.high", r.text
    swapped = [*window[:20], window[21], window[20], *window[22:]]
    r = post({"bars": swapped})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "bars.21.timestamp"
    assert post({"bars": window, "position": 1}).status_code == 200


def test_limits_come_from_the_environment_and_are_checked() -> None:
    env = {
        "REGIME_TRADER_MAX_PRICE_RATIO": "3",
        "REGIME_TRADER_PRICE_MAX": "1e6",
        "REGIME_TRADER_MAX_FUTURE": "off",
        "REGIME_TRADER_MAX_SESSIONS": "5",
        "REGIME_TRADER_SESSION_EVICT": "none",
        "REGIME_TRADER_SESSION_IDLE_S": "60",
    }
    assert BarLimits.from_env(env) == BarLimits(max_ratio=3, max_price=1e6, max_future=None)
    assert SessionLimits.from_env(env) == SessionLimits(5, "none", 60.0)
    from regime_trader.errors import ConfigError

    with pytest.raises(ConfigError, match="MAX_PRICE_RATIO"):
        BarLimits.from_env({"REGIME_TRADER_MAX_PRICE_RATIO": "ten"})
    with pytest.raises(ConfigError, match="eviction"):
        SessionLimits.from_env({"REGIME_TRADER_SESSION_EVICT": "random"})
    ts = pd.Timestamp("2020-01-01", tz="UTC")
    px = {"open": 100.0, "high": 110.0, "low": 95.0, "close": 105.0}
    BarLimits(max_ratio=3).check("bar", ts, px, prev=40.0)  # 2.6x: inside
    with pytest.raises(FieldError, match="previous close") as err:
        BarLimits(max_ratio=2).check("bar", ts, px, prev=40.0)
    assert err.value.field == "bar.open"


def test_a_clone_shares_no_state_with_its_session(model, bars) -> None:
    """What makes a refused bar harmless: stepping a clone leaves the session as it was."""
    sessions = SessionManager(ModelHolder(model=model))
    for i in range(40):
        sessions.step("s", bar_json(bars, i))
    session = sessions._entries["s"].session
    clone = session.clone()
    clone.step(bar_json(bars, 40), model)
    assert session.n_bars == 40 and clone.n_bars == 41
    mutable = {k for k, v in vars(session).items() if hasattr(v, "copy") or hasattr(v, "__dict__")}
    shared = {k for k in mutable if getattr(session, k) is getattr(clone, k)}
    assert shared <= {"model", "max_gap", "last_ts", "min_step", "_finite"}, shared


def test_malformed_json_a_bad_max_gap_and_a_short_window_name_their_field(service, bars) -> None:
    url, _, _ = service
    headers = {**AUTH, "Content-Type": "application/json"}
    r = httpx.post(f"{url}/v1/decide", content=b'{"bar": ', headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body", r.text
    body = {"bar": bar_json(bars, 0), "session_id": "g", "max_gap": "999999999999D"}
    r = httpx.post(f"{url}/v1/decide", json=body, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "max_gap", r.text
    short = [bar_json(bars, i) for i in range(5)]
    r = httpx.post(f"{url}/v1/decide", json={"bars": short}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bars", r.text


def test_a_window_over_the_bar_limit_is_refused_by_the_schema(bars) -> None:
    """Windows hold at most MAX_BARS bars (REGIME_TRADER_MAX_WINDOW_BARS): a longer one is
    refused (422 naming ``bars``) before any work, so it cannot hold the interpreter."""
    import pydantic

    from regime_trader.serve.schemas import MAX_BARS, DecideRequest

    one = bar_json(bars, 0)
    assert len(DecideRequest.model_validate({"bars": [one] * MAX_BARS}).bars or []) == MAX_BARS
    with pytest.raises(pydantic.ValidationError) as err:
        DecideRequest.model_validate({"bars": [one] * (MAX_BARS + 1)})
    assert err.value.errors()[0]["loc"] == ("bars",)
