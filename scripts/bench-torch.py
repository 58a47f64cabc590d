#!/usr/bin/python3
# bench-torch.py -- the same network, training step and evaluation as
# langbench's noise-prediction MLP (src/mlp/, README "Noise-prediction
# MLP"), in PyTorch on the CPU, for the same-machine comparison of
# `make bench` (part mlp).  Optional: needs python3-torch (Debian 12:
# PyTorch 1.13.1 on OpenBLAS), which langbench itself does not.
#
#   python3 scripts/bench-torch.py [--threads T] [--reps R]
#
# Network: input x (2-d) concatenated with the 32-d sinusoidal embedding
# of the step (a precomputed table, as langbench), 3 hidden layers of 128
# SiLU units, linear output; float64.  Training step at batch B: draw a
# moons minibatch, steps and noise, forward, MSE loss, backward, Adam
# (lr 1e-3, betas 0.9/0.999, eps 1e-8), EMA of the weights (one fused
# _foreach pass).  Evaluation: a batch of 10 000 rows under no_grad, rows
# at distinct steps and at one shared step (ancestral sampling).  Rates
# from CPU time (time.process_time) and from wall time, best of R runs;
# the load average is printed with them.  The last line (RESULT ...) is
# read by `make bench` (tests/bench_mlp.c).
import argparse, math, os, time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--reps", type=int, default=3)
args = p.parse_args()
# Debian's torch runs its products in OpenBLAS, whose own thread pool
# torch.set_num_threads does not size: without these a "1-thread" run
# used two cores (CPU time twice the wall time).  Set before the import.
for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[v] = str(args.threads)
import torch

torch.set_num_threads(args.threads)
torch.manual_seed(1)
dt = torch.float64

N, EMB, W = 1000, 32, 128
half = EMB // 2
f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=dt) / half)
steps = torch.arange(N + 1, dtype=dt)[:, None] * f[None, :]
table = torch.cat([torch.sin(steps), torch.cos(steps)], 1)  # (N+1) x 32
beta = torch.linspace(1e-4, 0.02, N, dtype=dt)
abar = torch.cat([torch.ones(1, dtype=dt), torch.cumprod(1 - beta, 0)])

net = torch.nn.Sequential(
    torch.nn.Linear(2 + EMB, W), torch.nn.SiLU(),
    torch.nn.Linear(W, W), torch.nn.SiLU(),
    torch.nn.Linear(W, W), torch.nn.SiLU(),
    torch.nn.Linear(W, 2)).to(dt)
ema = [q.detach().clone() for q in net.parameters()]
opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def moons(n):
    k = torch.randint(0, 2, (n,))
    t = math.pi * torch.rand(n, dtype=dt)
    x = torch.where(k[:, None] == 0,
                    torch.stack([torch.cos(t), torch.sin(t)], 1),
                    torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1))
    x = x + 0.1 * torch.randn(n, 2, dtype=dt)
    return 2 * x + torch.tensor([-1.0, -0.2], dtype=dt)


def train_step(B):
    x0 = moons(B)
    s = torch.randint(1, N + 1, (B,))
    eps = torch.randn(B, 2, dtype=dt)
    a = abar[s][:, None]
    xs = a.sqrt() * x0 + (1 - a).sqrt() * eps
    out = net(torch.cat([xs, table[s]], 1))
    loss = torch.nn.functional.mse_loss(out, eps)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():
        ps = [q.detach() for q in net.parameters()]
        torch._foreach_mul_(ema, 0.999)
        torch._foreach_add_(ema, ps, alpha=0.001)


def best(fn, reps):
    bc = bw = float("inf")
    for _ in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        bc = min(bc, time.process_time() - c0)
        bw = min(bw, time.perf_counter() - w0)
    return bc, bw


def load():
    return "load %.2f %.2f %.2f" % os.getloadavg()


print("PyTorch %s, %d thread(s), %s" % (torch.__version__, args.threads,
                                        torch.__config__.parallel_info().split("\n")[1].strip()))
res = []
for B, nsteps in ((256, 100), (1024, 40)):
    train_step(B)  # warm-up
    c, w = best(lambda: [train_step(B) for _ in range(nsteps)], args.reps)
    res += [nsteps * B / c * args.threads, nsteps * B / w]
    print("train batch %5d: %8.0f samples/s (CPU time / threads), %8.0f "
          "(wall)  [%s]" % (B, nsteps * B / c * args.threads, nsteps * B / w, load()))

n = 10000
x = torch.randn(n, 2, dtype=dt)
for label, s in (("distinct steps", torch.arange(n) % N + 1),
                 ("one shared step", torch.full((n,), 500, dtype=torch.long))):
    def ev():
        with torch.no_grad():
            for _ in range(5):
                net(torch.cat([x, table[s]], 1))
    ev()
    c, w = best(ev, args.reps)
    res += [5 * n / c * args.threads, 5 * n / w]
    print("eval %d rows, %s: %8.0f rows/s (CPU time / threads), %8.0f (wall)"
          "  [%s]" % (n, label, 5 * n / c * args.threads, 5 * n / w, load()))
# one line for `make bench` (tests/bench_mlp.c): CPU-time and wall rates of
# train 256, train 1024, eval distinct steps, eval one step
print("RESULT " + " ".join("%.0f" % v for v in res))
