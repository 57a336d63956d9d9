#!/usr/bin/python3
"""Summarizes a chrome trace written by `LENGTHBENCH_PROFILE=trace.json build/lengthbench bench`:
the share of step time per top-level operation (forward ops and autograd backward nodes), grouped
into GEMM / elementwise / other, plus aten calls per step. Prints markdown.
Usage: scripts/profile_summary.py TRACE.json --steps N"""
import argparse, collections, json

GEMM = ("aten::matmul", "aten::mm", "aten::bmm", "aten::linear", "MmBackward0", "BmmBackward0")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    t = json.load(open(a.trace))
    events = [e for e in (t["traceEvents"] if isinstance(t, dict) else t) if e.get("ph") == "X" and "dur" in e]
    events.sort(key=lambda e: (e.get("tid"), e["ts"], -e["dur"]))
    top, open_until = collections.Counter(), {}
    for e in events:  # an event is top-level when no earlier event on its thread encloses it
        tid = e.get("tid")
        if e["ts"] < open_until.get(tid, -1):
            continue
        open_until[tid] = e["ts"] + e["dur"]
        top[e["name"].replace("autograd::engine::evaluate_function: ", "")] += e["dur"]
    total = sum(top.values())
    aten_calls = sum(1 for e in events if e["name"].startswith("aten::"))
    group = collections.Counter()
    for name, us in top.items():
        group["GEMM (mm, bmm and their backward)" if name.startswith(GEMM) else "everything else"] += us
    print(f"{total / 1e3 / a.steps:.1f} ms per step under the profiler, {aten_calls // a.steps} aten calls per step\n")
    print("| group | share |\n|---|---:|")
    for name, us in group.most_common():
        print(f"| {name} | {100 * us / total:.1f}% |")
    print("\n| top-level op (forward op or backward node) | ms/step | share |\n|---|---:|---:|")
    for name, us in top.most_common(a.top):
        print(f"| {name} | {us / 1e3 / a.steps:.2f} | {100 * us / total:.1f}% |")


if __name__ == "__main__":
    main()
