#!/usr/bin/env python3
"""torch._int_mm (int8 x int8 -> int32) at cube sizes n x n x n, for the GPU check's comparison.

Times one GEMM with CUDA events (median of repeats after a warm-up); TOPS = 2 n^3 / time, the
same operations per second as an engine attempt's (2 m n k + 2 m n n over its time). Writes JSON:
{"ok": true, "device", "torch", "results": [{"size", "ms", "tops"}]} or {"ok": false, "reason"}.
"""
import argparse
import json
import statistics
import sys


def measure(torch, n):
    a = torch.randint(-128, 128, (n, n), dtype=torch.int8, device="cuda")
    b = torch.randint(-128, 128, (n, n), dtype=torch.int8, device="cuda")
    try:
        torch._int_mm(a, b)
    except RuntimeError:
        b = b.t().contiguous().t()  # some versions want the right operand column-major
        torch._int_mm(a, b)
    for _ in range(3):
        torch._int_mm(a, b)
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    torch._int_mm(a, b)
    end.record()
    end.synchronize()
    one = max(start.elapsed_time(end), 1e-3)
    reps = int(min(200, max(5, 500.0 / one)))
    times = []
    for _ in range(reps):
        start.record()
        torch._int_mm(a, b)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    ms = statistics.median(times)
    return {"size": n, "ms": ms, "tops": 2.0 * n ** 3 / (ms * 1e-3) / 1e12, "repeats": reps}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1024,2048,4096,8192")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = {"ok": False}
    try:
        import torch  # noqa: PLC0415 (absent on machines without PyTorch: reported, not fatal)
    except Exception as e:  # noqa: BLE001
        out["reason"] = f"PyTorch is not importable here ({type(e).__name__}: {e})"
    else:
        if not torch.cuda.is_available():
            out["reason"] = f"torch {torch.__version__} sees no CUDA device"
        else:
            results = []
            for n in [int(s) for s in args.sizes.split(",") if s]:
                try:
                    results.append(measure(torch, n))
                except Exception as e:  # noqa: BLE001
                    results.append({"size": n, "error": f"{type(e).__name__}: {e}"})
                print(f"torch._int_mm {n}^3: {results[-1]}", flush=True)
            ok = [r for r in results if "error" not in r]
            out = {"ok": bool(ok), "device": torch.cuda.get_device_name(0), "torch": torch.__version__, "results": ok}
            if not ok:
                out["reason"] = "; ".join(r["error"] for r in results)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    if not out["ok"]:
        print(f"torch part skipped: {out['reason']}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
