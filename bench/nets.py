"""Network speed: forward and forward+backward of each Q-network on one batch.

Times the baseline MLP (`nets/mlp.py`, hidden 128-128), `EnhancedDQN` and `EnsembleTrader`
(weighted), each at the sizes training builds from the default `AgentConfig`, on
random windows ``[B, W, F]`` plus a 1-d agent state. Forward runs in eval mode under
``no_grad``; forward+backward runs in train mode with an MSE loss on Q plus a squared loss on
the regime logits, gradients cleared each iteration (no optimizer step). Reports the median
over ``--iters`` timed iterations after ``--warmup`` untimed ones.

    python bench/nets.py [--device cpu|cuda] [--batch 256] [--window 30] [--features 32]
                         [--iters 10] [--warmup 3] [--threads N] [--compile] [--bf16] [--write]

``--compile`` wraps each network in ``torch.compile``; ``--bf16`` runs under
``torch.autocast(dtype=torch.bfloat16)`` (meant for CUDA); ``--write`` replaces this
benchmark's section of docs/benchmarks.md (between ``<!-- bench/nets.py -->`` markers).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from _docs import replace_section  # noqa: E402 (bench/ is on sys.path when run as a script)
from _timing import call_times  # noqa: E402
from regime_trader.config import AgentConfig
from regime_trader.nets import build_net

MARK = "<!-- bench/nets.py -->"


def build(name: str, window: int, n_features: int) -> nn.Module:
    """One of the benchmarked networks with the sizes training builds (`AgentConfig`)."""
    return build_net(AgentConfig(net=name), window, n_features)  # type: ignore[arg-type]


def device_name(device: torch.device) -> str:
    """Human-readable name of the device the benchmark ran on."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"CPU ({cpu}), {torch.get_num_threads()} torch thread(s)"


def time_it(step: Callable[[], None], device: torch.device, warmup: int, iters: int) -> float:
    """Median milliseconds of ``step`` after ``warmup`` untimed calls."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    return statistics.median(call_times(step, iters, warmup=warmup, sync=sync)) * 1e3


def loss_of(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """MSE on Q (against zero) plus a squared loss on the regime logits if present."""
    if isinstance(out, tuple):
        return out[0].float().square().mean() + out[1].float().square().mean()
    return out.float().square().mean()


def bench_net(name: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Forward and forward+backward milliseconds of one network."""
    torch.manual_seed(0)
    net = build(name, args.window, args.features).to(device)
    params = sum(p.numel() for p in net.parameters())
    run: nn.Module = torch.compile(net) if args.compile else net  # type: ignore[assignment]
    window = torch.randn(args.batch, args.window, args.features, device=device)
    state = torch.randn(args.batch, 1, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)

    def forward() -> None:
        with torch.no_grad(), autocast:
            run(window, state)

    def forward_backward() -> None:
        with autocast:
            loss = loss_of(run(window, state))
        loss.backward()
        net.zero_grad(set_to_none=True)

    net.eval()
    fwd = time_it(forward, device, args.warmup, args.iters)
    net.train()
    fwd_bwd = time_it(forward_backward, device, args.warmup, args.iters)
    return {"params": params, "fwd": fwd, "fwd_bwd": fwd_bwd}


def command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run."""
    parts = ["python bench/nets.py", f"--device {args.device}", f"--batch {args.batch}"]
    parts += [f"--window {args.window}", f"--features {args.features}"]
    parts += [f"--iters {args.iters}", f"--warmup {args.warmup}"]
    if args.threads:
        parts.append(f"--threads {args.threads}")
    parts += [flag for flag, on in (("--compile", args.compile), ("--bf16", args.bf16)) if on]
    return " ".join(parts + ["--write"])


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--iters", type=int, default=10, help="timed iterations (median reported)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations first")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--compile", action="store_true", help="wrap each net in torch.compile")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CUDA)")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda asked for, but CUDA is not available")
    rows = []
    for name in ("mlp", "enhanced", "ensemble"):
        r = bench_net(name, args, device)
        rows.append(
            f"| {name} | {r['params']:,.0f} | {r['fwd']:.2f} | {r['fwd_bwd']:.2f} "
            f"| {args.batch / r['fwd_bwd'] * 1e3:,.0f} |"
        )
        print(rows[-1], flush=True)
    table = "\n".join(
        ["| net | parameters | forward ms | forward+backward ms | train samples/s |"]
        + ["|---|---:|---:|---:|---:|"]
        + rows
    )
    mode = ", ".join(
        [f"batch {args.batch}", f"W={args.window}", f"F={args.features}"]
        + (["torch.compile"] if args.compile else [])
        + (["bf16 autocast"] if args.bf16 else ["float32"])
    )
    section = (
        f"{MARK}\n## Network speed: MLP vs EnhancedDQN vs EnsembleTrader\n\n"
        f"Device: {device_name(device)}; torch {torch.__version__}; {mode}; median of "
        f"{args.iters} iterations after {args.warmup} warm-up.\n\n"
        f"Command: `{command(args)}`\n\n{table}\n{MARK}"
    )
    print(section)
    if args.write:
        replace_section(MARK, section)


if __name__ == "__main__":
    main()
