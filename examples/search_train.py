"""A search that trains: ShuffleNet V1's search space (examples/shufflenet_search.conv: the
group count, a width multiplier, the depth of each stage) on scikit-learn's handwritten
digits, which scikit-learn ships (1,797 8x8 images: nothing is downloaded), upsampled to
16x16 and given to the spec with `input=(1, 16, 16)`.

Every feasible, distinct candidate is trained for a few epochs on the CPU; Optuna's median
pruner stops the ones whose validation accuracy lags after the first epoch.  Candidates over
the MAC budget are never trained (specgen records them as infeasible for the sampler), and a
point giving an architecture already trained reuses its accuracy.  The end: the accuracy
versus MACs Pareto front over distinct architectures.

    pip install 'specgen[search]' scikit-learn     # beside PyTorch's CPU build
    python examples/search_train.py                 # 40 trials, 4 epochs: a few minutes
    python examples/search_train.py --trials 6 --epochs 2 --size 12   # a quick look

docs/search.md walks through it, with the figures of a full run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import optuna
import torch
from sklearn.datasets import load_digits

import specgen

SPACE = Path(__file__).resolve().parent / "shufflenet_search.conv"


def digits(size: int) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """The digits as 1 x size x size images in [0, 1], split 80/20 (the same split each run)."""
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear")
    y = torch.tensor(data.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_val = len(y) // 5
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def make_objective(train, val, epochs: int, batch: int = 32):
    """The objective: train the candidate, report the validation accuracy after each epoch
    (Optuna's pruner may stop it there), keep the trained model."""
    (x, y), (vx, vy) = train, val

    def objective(net: specgen.Network, trial) -> float:
        torch.manual_seed(0)  # every candidate starts from the same random state
        model = net.to_torch()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        score = 0.0
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(y))
            for i in range(0, len(y), batch):
                idx = order[i : i + batch]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
            score = accuracy(model, vx, vy)
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.keep(model)  # read back from the result after the search
        return score

    return objective


def search(trials: int, epochs: int, size: int, max_macs: float, seed: int = 0):
    """Run the search; returns specgen's SearchResult."""
    train, val = digits(size)
    space = specgen.space(SPACE, {"classes": 10}, input=(1, size, size))
    return space.optimize(
        make_objective(train, val, epochs),
        n_trials=trials,
        directions=["maximize"],
        constraints=[f"macs <= {max_macs}"],
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--size", type=int, default=16, help="the images' side after upsampling")
    parser.add_argument("--max-macs", type=float, default=2e6, help="the MAC budget")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    result = search(args.trials, args.epochs, args.size, args.max_macs, args.seed)
    elapsed = time.perf_counter() - start
    print(result.summary())
    print(f"{elapsed:.0f} s")
    print("accuracy versus MACs, Pareto front over distinct architectures:")
    print(f"{'trial':>5}  {'accuracy':>8}  {'MACs':>11}  {'params':>9}  point")
    for c in result.pareto_front(costs={"macs": "minimize"}):
        print(
            f"{c.number:>5}  {c.values[0]:>8.3f}  {c.cost['macs']:>11,}  "
            f"{c.cost['params']:>9,}  {c.point}"
        )


if __name__ == "__main__":
    main()
