#!/usr/bin/python3
"""The PyTorch Python peer for scripts/bench: the same model as lengthbench (pre-LN GPT, fused
QKV, rotary half-split RoPE in fp32, GELU MLP, tied head, no biases), the same AdamW and batch
shape, trained and evaluated eagerly. Written the way a careful user would: torch.autocast bf16,
inference_mode for evaluation, threads set explicitly. Prints one JSON line of measurements."""
import argparse, json, math, resource, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd)) + mask
        y = att.softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


def rotate(x, cos, sin):
    x1, x2 = x.float().chunk(2, -1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).to(x.dtype)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.fc = nn.Linear(d, 4 * d, bias=False)
        self.fc_proj = nn.Linear(4 * d, d, bias=False)

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.ln1(x), cos, sin, mask)
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, layers, d, heads, vocab=256):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.hd = d // heads
        self.tables = {}
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if n.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def rope(self, T):  # built once per length, like a careful user would
        if T not in self.tables:
            inv = 10000.0 ** (-torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd)
            ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
            mask = torch.full((T, T), float("-inf")).triu(1)
            self.tables[T] = (ang.cos().float(), ang.sin().float(), mask)
        return self.tables[T]

    def forward(self, idx):
        cos, sin, mask = self.rope(idx.shape[1])
        x = self.wte(idx)
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        return F.linear(self.ln_f(x), self.wte.weight).float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--eval-batches", type=int, default=4)
    ap.add_argument("--eval-tokens", type=int, default=16384)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    ap.add_argument("--eval-length", type=int, default=0, help="T of the timed evaluation (default 4L)")
    ap.add_argument("--eval-only", action="store_true", help="time evaluation only (its speed and peak memory)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = GPT(a.layers, a.d_model, a.heads)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95))
    data = torch.randint(256, (1 << 20,), dtype=torch.int64)
    bf16 = a.precision == "bf16"

    def step():
        starts = torch.randint(len(data) - a.length - 1, (a.batch, 1))
        rows = data[starts + torch.arange(a.length + 1)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(rows[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), rows[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    train_tps = None
    if not a.eval_only:
        for _ in range(a.warmup):
            step()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        train_tps = a.steps * a.batch * a.length / (time.perf_counter() - t0)

    T = a.eval_length or 4 * a.length
    B = max(1, a.eval_tokens // T)
    rows = data[: B * (T + 1)].view(B, T + 1)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        model.eval()
        model(rows[:1, :T])  # warm-up
        t0 = time.perf_counter()
        for _ in range(a.eval_batches):
            F.cross_entropy(model(rows[:, :T]).reshape(-1, 256), rows[:, 1:].reshape(-1))
        eval_s = time.perf_counter() - t0
    print(json.dumps({"side": "python", "precision": a.precision, "torch": torch.__version__,
                      "train_tokens_per_second": train_tps,
                      "eval_tokens_per_second": a.eval_batches * B * T / eval_s,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "eval_length": T, "parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
