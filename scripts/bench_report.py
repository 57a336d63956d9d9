#!/usr/bin/python3
"""Runs lengthbench and the Python peer alternately, keeps each side's best of N, measures the
GEMM peak, records which precision lengthbench's `auto` chooses here (and the rates it chose by),
times evaluation speed and peak memory against T (one process per length, both sides), times 3
seeds trained as one fused model against the same seeds one after another, and writes
results/bench/bench.json and bench.md. Called by scripts/bench.
Compares at the machine's native precision: fp32 always, bf16 only where the CPU computes it
natively (avx512_bf16 or amx_bf16; elsewhere bf16 is emulated and not a fair comparison)."""
import argparse, datetime, json, os, platform, subprocess, sys

SIZES = [
    {"name": "quick (4x128, L=128)", "layers": 4, "d_model": 128, "heads": 4, "length": 128, "batch": 16},
    {"name": "d256 (4x256, L=256)", "layers": 4, "d_model": 256, "heads": 4, "length": 256, "batch": 16},
]


# lengthbench sets these with mallopt (harness/cli/cli.cpp); the peer gets the same allocator, so the
# comparison is of the code, not of glibc's defaults.
PEER_ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
                  "MALLOC_TOP_PAD_": str(1 << 30)}


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=None if env is None else {**os.environ, **env}).stdout
    return json.loads(out.strip().splitlines()[-1])


def flops_per_token(size, params):
    # 6 N per trained token, plus attention: QK^T and AV over the full T x T score matrix,
    # 2 FLOPs per multiply-add, forward + backward (x3).
    return 6 * params + 12 * size["layers"] * size["length"] * size["d_model"]


def cpu_flags():
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    return [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]  # what decides "native"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results/bench")
    a = ap.parse_args()
    peak = run_json(["build/lengthbench", "bench", "--gemm-peak", "2048", "--threads", str(a.threads)])
    flags = cpu_flags()
    native_bf16 = "avx512_bf16" in flags or "amx_bf16" in flags
    precisions = ["fp32", "bf16"] if native_bf16 else ["fp32"]
    print(f"CPU flags {flags}: comparing in {', '.join(precisions)}", file=sys.stderr)
    rows = []
    for size in SIZES:
        common = ["--layers", str(size["layers"]), "--heads", str(size["heads"]), "--length", str(size["length"]),
                  "--batch", str(size["batch"]), "--threads", str(a.threads), "--steps", "40"]
        for precision in precisions:
            best = {}
            for _ in range(a.repeats):  # alternate sides so machine noise hits both
                cpp = run_json(["build/lengthbench", "bench", "--d-model", str(size["d_model"]), "--precision", precision] + common)
                py = run_json(["/usr/bin/python3", "scripts/peer_gpt.py", "--d-model", str(size["d_model"]), "--precision", precision] + common,
                              PEER_ALLOCATOR)
                results = [("lengthbench", cpp), ("python", py)]
                if precision == "fp32":
                    # What the oneDNN fp32 GEMMs are worth: the same binary on libtorch's own (BLAS) matmul.
                    results.append(("lengthbench_blas", run_json(["build/lengthbench", "bench", "--d-model", str(size["d_model"]),
                                                                  "--precision", precision, "--gemm", "libtorch"] + common)))
                    # The peer at its best in fp32 too: with one libtorch thread, OpenBLAS's own
                    # threads stop competing with libtorch's spinning OpenMP pool (lengthbench
                    # picks that layout itself; the peer is given both and keeps its best).
                    one = [c if c != str(a.threads) or common[i - 1] != "--threads" else "1" for i, c in enumerate(common)]
                    results.append(("python", run_json(["/usr/bin/python3", "scripts/peer_gpt.py", "--d-model", str(size["d_model"]),
                                                        "--precision", precision] + one, PEER_ALLOCATOR)))
                for side, r in results:
                    b = best.setdefault(side, {"train": 0, "eval": 0, "parameters": r["parameters"]})
                    b["train"] = max(b["train"], r["train_tokens_per_second"])
                    b["eval"] = max(b["eval"], r["eval_tokens_per_second"])
                    b["rss"] = max(b.get("rss", 0), r.get("peak_rss_mb", 0))
            fpt = flops_per_token(size, best["lengthbench"]["parameters"])
            peak_flops = peak["bf16_flops" if precision == "bf16" else "fp32_flops"]
            row = {"size": size["name"], "precision": precision, **{f"{s}_{k}": v[k] for s, v in best.items() for k in ("train", "eval")},
                   "train_flops": best["lengthbench"]["train"] * fpt, "peak_flops": peak_flops,
                   "lengthbench_peak_rss_mb": best["lengthbench"]["rss"]}
            row["gemm"] = cpp.get("gemm", "libtorch")
            row["train_ratio"] = row["lengthbench_train"] / row["python_train"]
            row["eval_ratio"] = row["lengthbench_eval"] / row["python_eval"]
            row["peak_fraction"] = row["train_flops"] / peak_flops
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    # What `auto` chooses here, for each size: lengthbench's own decision (timed on that model).
    auto_rows = []
    for size in SIZES:
        common = ["--layers", str(size["layers"]), "--heads", str(size["heads"]), "--length", str(size["length"]),
                  "--batch", str(size["batch"]), "--threads", str(a.threads), "--steps", "40", "--d-model", str(size["d_model"])]
        r = run_json(["build/lengthbench", "bench", "--precision", "auto"] + common)
        choice = r["precision_choice"]
        chosen = next(x for x in rows if x["size"] == size["name"] and x["precision"] == r["precision"])
        peer_best = max(x["python_train"] for x in rows if x["size"] == size["name"])
        auto_rows.append({"size": size["name"], "auto": r["precision"], "reason": choice["reason"],
                          "measured": choice.get("measured"), "lengthbench_train": chosen["lengthbench_train"],
                          "python_best_train": peer_best, "ratio": chosen["lengthbench_train"] / peer_best})
        print(json.dumps(auto_rows[-1]), file=sys.stderr)
    # Evaluation speed and peak memory against T, one process per point (peak RSS is per process):
    # lengthbench at the precision auto chose for the quick size, the peer at its best precision.
    auto_precision = auto_rows[0]["auto"]
    peer_precision = precisions[-1]
    memory_rows = []
    for L, lengths in ((128, [512, 1024, 2048, 4096]), (512, [512, 1024, 2048, 4096, 8192])):
        for T in lengths:
            common = ["--layers", "4", "--heads", "4", "--d-model", "128", "--length", str(L), "--threads", str(a.threads),
                      "--eval-only", "--eval-length", str(T)]
            cpp = run_json(["build/lengthbench", "bench", "--precision", auto_precision] + common)
            py = run_json(["/usr/bin/python3", "scripts/peer_gpt.py", "--precision", peer_precision] + common, PEER_ALLOCATOR)
            memory_rows.append({"L": L, "T": T, "lengthbench_eval": cpp["eval_tokens_per_second"],
                                "lengthbench_rss_mb": cpp["peak_rss_mb"], "score_block_rows": cpp.get("score_block_rows", 0),
                                "python_eval": py["eval_tokens_per_second"], "python_rss_mb": py["peak_rss_mb"]})
            print(json.dumps(memory_rows[-1]), file=sys.stderr)
    # Seeds trained together: 3 seeds of the quick model fused vs the solo rate (one after another).
    fused_rows = []
    size = SIZES[0]
    for precision in precisions:
        best = {"solo": 0, "fused": 0}
        for _ in range(a.repeats):
            r = run_json(["build/lengthbench", "bench", "--d-model", str(size["d_model"]), "--precision", precision,
                          "--layers", str(size["layers"]), "--heads", str(size["heads"]), "--length", str(size["length"]),
                          "--batch", str(size["batch"]), "--threads", str(a.threads), "--steps", "40", "--fused-seeds", "3"])
            best["solo"] = max(best["solo"], r["train_tokens_per_second"])
            best["fused"] = max(best["fused"], r["fused_seeds"]["train_tokens_per_second"])
        fused_rows.append({"size": size["name"], "precision": precision, "seeds": 3, "sequential_train": best["solo"],
                           "fused_train": best["fused"], "speedup": best["fused"] / best["solo"]})
        print(json.dumps(fused_rows[-1]), file=sys.stderr)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    env = {"date": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z", "cpu": cpu, "cpu_flags": flags,
           "native_precisions": precisions, "threads": a.threads,
           "host": platform.node(), "repeats": a.repeats, "gemm_peak": peak, "peer_allocator": PEER_ALLOCATOR,
           "commit": subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()}
    # The peer at its best: bf16 autocast where the CPU has it natively, else fp32.
    best_py = {r["size"]: r for r in rows if r["precision"] == precisions[-1]}
    lines = [f"| model | precision | lengthbench train tok/s | Python train tok/s | ratio | lengthbench eval tok/s @4L | Python eval tok/s @4L | ratio | train GFLOP/s | % of GEMM peak | vs Python at its best ({precisions[-1]}) | lengthbench peak RSS | lengthbench on libtorch's fp32 GEMM: train / eval tok/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        blas = (f"{r['lengthbench_blas_train']:,.0f} / {r['lengthbench_blas_eval']:,.0f}" if "lengthbench_blas_train" in r else "")
        lines.append(f"| {r['size']} | {r['precision']} | {r['lengthbench_train']:,.0f} | {r['python_train']:,.0f} | {r['train_ratio']:.2f}x | "
                     f"{r['lengthbench_eval']:,.0f} | {r['python_eval']:,.0f} | {r['eval_ratio']:.2f}x | {r['train_flops']/1e9:.0f} | "
                     f"{100*r['peak_fraction']:.0f}% | {r['lengthbench_train']/best_py[r['size']]['python_train']:.2f}x | "
                     f"{r['lengthbench_peak_rss_mb']:.0f} MB | {blas} |")
    md = "\n".join(lines) + (f"\n\nGEMM peak (2048^3, measured): fp32 {peak['fp32_flops']/1e9:.0f} GFLOP/s ({peak.get('fp32_gemm', 'libtorch')}; "
                             f"the BLAS: {peak.get('fp32_blas_flops', 0)/1e9:.0f}), bf16 {peak['bf16_flops']/1e9:.0f} GFLOP/s. "
                             "The Python peer runs with lengthbench's allocator settings (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_). "
                             f"{a.threads} threads, best of {a.repeats} alternating runs per side, {cpu} (flags: {' '.join(flags)}; "
                             f"native: {', '.join(precisions)}), commit {env['commit']}, {env['date']}.\n")
    md += ("\n| model | precision | seeds | one after another: tok/s (all seeds) | fused: tok/s (all seeds) | speedup |\n"
           "|---|---|---:|---:|---:|---:|\n")
    for r in fused_rows:
        md += (f"| {r['size']} | {r['precision']} | {r['seeds']} | {r['sequential_train']:,.0f} | {r['fused_train']:,.0f} | "
               f"{r['speedup']:.2f}x |\n")
    md += ("\n| model | auto chose | its rates (bf16 / fp32 train tok/s, timed on that model) | lengthbench at auto | "
           "Python at its best | ratio |\n|---|---|---:|---:|---:|---:|\n")
    for r in auto_rows:
        m = r["measured"]
        rates = f"{m['bf16_tokens_per_second']:,.0f} / {m['fp32_tokens_per_second']:,.0f}" if m else "not timed (bf16 not native)"
        md += (f"| {r['size']} | {r['auto']} | {rates} | {r['lengthbench_train']:,.0f} | {r['python_best_train']:,.0f} | "
               f"{r['ratio']:.2f}x |\n")
    md += (f"\n| L | T | lengthbench eval tok/s ({auto_precision}) | lengthbench peak RSS | query block rows | "
           f"Python eval tok/s ({peer_precision}, dense) | Python peak RSS |\n|---:|---:|---:|---:|---:|---:|---:|\n")
    for r in memory_rows:
        md += (f"| {r['L']} | {r['T']} | {r['lengthbench_eval']:,.0f} | {r['lengthbench_rss_mb']:,.0f} MB | "
               f"{r['score_block_rows'] or 'whole'} | {r['python_eval']:,.0f} | {r['python_rss_mb']:,.0f} MB |\n")
    with open(f"{a.out}/bench.json", "w") as f:
        json.dump({"environment": env, "rows": rows, "auto": auto_rows, "eval_memory": memory_rows,
                   "fused_seeds": fused_rows}, f, indent=2)
    with open(f"{a.out}/bench.md", "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
