"""Distributed training on one host: 4 ranks (gloo, CPU), each logging to its own run in one group.

    python examples/distributed_torch.py [--group NAME] [--world-size 4] [--steps 200]

Every rank calls ``tracker.init(group=..., job_type="train")``; they share the one sidecar of
this host and store, and ``tracker.Api().runs(filters={"group": NAME})`` returns them all.
"""

import argparse
import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import tracker


def worker(rank: int, world_size: int, group: str, steps: int, init_file: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    torch.manual_seed(rank)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    true_w = torch.arange(16, dtype=torch.float32) / 16
    run = tracker.init(
        project="distributed",
        group=group,
        job_type="train",
        name=f"{group}-rank-{rank}",
        config={"rank": rank, "world_size": world_size, "lr": 0.05},
    )
    run.define_metric("loss", summary="min,last")
    for _ in range(steps):
        x = torch.randn(32, 16)
        y = x @ true_w + 0.01 * torch.randn(32)
        loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
        opt.zero_grad()
        loss.backward()  # DDP all-reduces the gradients across ranks here
        opt.step()
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        run.log(
            {
                "loss": loss.item(),
                "global_loss": mean_loss.item() / world_size,
                "grad": {"norm": model.module.weight.grad.norm()},
            }
        )
    run.finish()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--group", default=f"ddp-{os.getpid()}")
    parser.add_argument("--world-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    init_file = os.path.join(tempfile.mkdtemp(prefix="ddp-"), "rendezvous")
    mp.spawn(
        worker,
        args=(args.world_size, args.group, args.steps, init_file),
        nprocs=args.world_size,
        join=True,
    )
    runs = tracker.Api().runs("distributed", filters={"group": args.group}, order="+name")
    for r in runs:
        print(f"{r.name}: {r.state}, {r.lastHistoryStep + 1} steps, loss {r.summary['loss']}")


if __name__ == "__main__":
    main()
