#!/usr/bin/env python3
"""PyTorch on Prism: unmodified torch.distributed (ProcessGroupNCCL) with Prism's
libnccl.so.2 preloaded. Every rank uses cuda:0, which NVIDIA's NCCL refuses and Prism allows.

Launch through run_dropin.sh, or:
  LD_PRELOAD=$PWD/build-gpu/libnccl.so.2 NCCL_DEBUG=INFO \
    torchrun --standalone --nproc_per_node 2 tests/gpu/torch/dropin_check.py

Each check compares against values computed independently on the CPU from inputs every rank
can regenerate; inputs are integer-valued floats, so sums, maxima and averages are exact and
the comparison is torch.equal. Each rank prints "[rank R] PASS name" or "[rank R] FAIL name:
why" and exits non-zero when any check failed.
"""
import copy
import ctypes
import datetime
import os
import sys
import time
import traceback

import torch
import torch.distributed as dist
import torch.nn as nn

RANK = int(os.environ.get("RANK", "0"))
WORLD = int(os.environ.get("WORLD_SIZE", "1"))
# Every rank shares GPU 0 on purpose. DROPIN_BACKEND=gloo DROPIN_DEVICE=cpu runs the same
# script without a GPU, to check the script itself (the NCCL-only checks then fail).
BACKEND = os.environ.get("DROPIN_BACKEND", "nccl")
DEVICE = torch.device(os.environ.get("DROPIN_DEVICE", "cuda:0"))
ON_GPU = DEVICE.type == "cuda"
SIZES = [1, 4099, (1 << 20) + 3]  # elements: one, odd, a few MiB
failures = []


def report(name, ok, detail=""):
    text = f"[rank {RANK}] {'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else "")
    print(text, flush=True)
    if not ok:
        failures.append(name)


def check(name, body):
    """Runs body() -> (ok, detail); an exception is a failure that names itself."""
    try:
        ok, detail = body()
    except Exception as e:  # noqa: BLE001 - every failure must be reported, not raised
        ok, detail = False, f"{type(e).__name__}: {e}"
        traceback.print_exc()
    report(name, ok, detail)


def rank_input(rank, n, salt=0, scale=1):
    """Rank `rank`'s integer-valued float32 input of n elements, on the CPU."""
    i = torch.arange(n, dtype=torch.int64)
    return (((i * (7 + salt) + 13 * rank + salt) % 1009 - 500) * scale).to(torch.float32)


def same(actual, expected):
    actual = actual.cpu()
    if torch.equal(actual, expected):
        return True, ""
    bad = (actual != expected).nonzero().flatten()
    first = int(bad[0]) if len(bad) else -1
    return False, (f"{len(bad)} of {expected.numel()} elements differ; first at {first}: "
                   f"{actual.flatten()[first].item()} != {expected.flatten()[first].item()}")


def all_ok(results):
    bad = [d for ok, d in results if not ok]
    return (not bad), "; ".join(bad)


def check_all_reduce(op_name, op, reduce_fn, scale=1):
    def body():
        results = []
        for n in SIZES:
            t = rank_input(RANK, n, 1, scale).to(DEVICE)
            dist.all_reduce(t, op=op)
            inputs = torch.stack([rank_input(r, n, 1, scale) for r in range(WORLD)])
            results.append(same(t, reduce_fn(inputs)))
        return all_ok(results)

    check(f"all_reduce_{op_name}", body)


def check_all_gather():
    def body():
        results = []
        for n in SIZES:
            out = torch.empty(WORLD * n, device=DEVICE)
            dist.all_gather_into_tensor(out, rank_input(RANK, n, 2).to(DEVICE))
            results.append(same(out, torch.cat([rank_input(r, n, 2) for r in range(WORLD)])))
        return all_ok(results)

    check("all_gather_into_tensor", body)


def check_reduce_scatter():
    def body():
        results = []
        for n in SIZES:
            out = torch.empty(n, device=DEVICE)
            dist.reduce_scatter_tensor(out, rank_input(RANK, WORLD * n, 3).to(DEVICE))
            full = sum(rank_input(r, WORLD * n, 3) for r in range(WORLD))
            results.append(same(out, full[RANK * n:(RANK + 1) * n]))
        return all_ok(results)

    check("reduce_scatter_tensor", body)


def check_broadcast():
    def body():
        results = []
        for src in range(WORLD):
            for n in SIZES:
                t = rank_input(RANK, n, 4).to(DEVICE)
                dist.broadcast(t, src=src)
                results.append(same(t, rank_input(src, n, 4)))
        return all_ok(results)

    check("broadcast", body)


def check_all_to_all():
    def even():
        results = []
        for n in SIZES:
            out = torch.empty(WORLD * n, device=DEVICE)
            dist.all_to_all_single(out, rank_input(RANK, WORLD * n, 5).to(DEVICE))
            expected = torch.cat([rank_input(j, WORLD * n, 5)[RANK * n:(RANK + 1) * n]
                                  for j in range(WORLD)])
            results.append(same(out, expected))
        return all_ok(results)

    def uneven():
        split = lambda src, dst: 1000 * (1 + src) + 3 * dst  # elements src sends to dst
        sends = [split(RANK, j) for j in range(WORLD)]
        recvs = [split(j, RANK) for j in range(WORLD)]
        out = torch.empty(sum(recvs), device=DEVICE)
        dist.all_to_all_single(out, rank_input(RANK, sum(sends), 6).to(DEVICE),
                               output_split_sizes=recvs, input_split_sizes=sends)
        pieces = []
        for j in range(WORLD):
            theirs = rank_input(j, sum(split(j, k) for k in range(WORLD)), 6)
            offset = sum(split(j, k) for k in range(RANK))
            pieces.append(theirs[offset:offset + split(j, RANK)])
        return same(out, torch.cat(pieces))

    check("all_to_all_single", even)
    check("all_to_all_single_uneven", uneven)


def check_send_recv():
    def pair():
        # Rank 0 sends to 1, then 1 sends back what it got plus one.
        n = SIZES[2]
        if RANK == 0:
            dist.send(rank_input(0, n, 7).to(DEVICE), dst=1)
            back = torch.empty(n, device=DEVICE)
            dist.recv(back, src=1)
            return same(back, rank_input(0, n, 7) + 1)
        if RANK == 1:
            got = torch.empty(n, device=DEVICE)
            dist.recv(got, src=0)
            dist.send(got + 1, dst=0)
            return same(got, rank_input(0, n, 7))
        return True, ""

    def ring():
        n = SIZES[1]
        recv = torch.empty(n, device=DEVICE)
        ops = [dist.P2POp(dist.isend, rank_input(RANK, n, 8).to(DEVICE), (RANK + 1) % WORLD),
               dist.P2POp(dist.irecv, recv, (RANK - 1) % WORLD)]
        for work in dist.batch_isend_irecv(ops):
            work.wait()
        return same(recv, rank_input((RANK - 1) % WORLD, n, 8))

    check("send_recv", pair)
    check("batch_isend_irecv_ring", ring)


def check_barrier():
    def body():
        # The last rank arrives late; everyone else must wait for it inside barrier().
        late = 0.5
        if RANK == WORLD - 1:
            time.sleep(late)
        start = time.monotonic()
        dist.barrier()
        if ON_GPU:
            torch.cuda.synchronize()
        waited = time.monotonic() - start
        if RANK != WORLD - 1 and waited < late / 2:
            return False, f"returned after {waited:.3f} s, before the late rank arrived"
        return True, f"waited {waited:.3f} s"

    check("barrier", body)


def check_new_group():
    def whole():
        group = dist.new_group(ranks=list(range(WORLD)))
        backend = dist.get_backend(group)
        t = rank_input(RANK, SIZES[1], 9).to(DEVICE)
        dist.all_reduce(t, group=group)
        ok, detail = same(t, sum(rank_input(r, SIZES[1], 9) for r in range(WORLD)))
        if backend != BACKEND:
            return False, f"subgroup backend is {backend}, not {BACKEND}"
        return ok, detail

    def singleton():
        # A group of the last rank alone: the others are split out (no colour).
        last = WORLD - 1
        group = dist.new_group(ranks=[last])
        if RANK != last:
            return True, "not a member"
        t = rank_input(RANK, SIZES[1], 10).to(DEVICE)
        dist.all_reduce(t, group=group)
        return same(t, rank_input(RANK, SIZES[1], 10))

    check("new_group_all_reduce", whole)
    check("new_group_singleton_all_reduce", singleton)


def make_model(dtype):
    torch.manual_seed(1234)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1)).to(DEVICE, dtype)


def check_ddp(dtype, tolerance, steps=5, batch=8):
    """DDP over halves of a fixed global batch against one model trained on the whole batch
    (no distributed calls) in this process: the per-step losses, averaged over ranks, agree."""

    def body():
        model = make_model(dtype)
        reference = copy.deepcopy(model)
        ddp = nn.parallel.DistributedDataParallel(model, device_ids=[0] if ON_GPU else None)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
        ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
        loss_fn = nn.MSELoss()
        data = torch.Generator().manual_seed(42)
        mine = slice(RANK * batch // WORLD, (RANK + 1) * batch // WORLD)
        worst, lines = 0.0, []
        for step in range(steps):
            x = torch.randn(batch, 16, generator=data, dtype=torch.float64).to(DEVICE, dtype)
            y = torch.randn(batch, 1, generator=data, dtype=torch.float64).to(DEVICE, dtype)
            opt.zero_grad()
            loss = loss_fn(ddp(x[mine]), y[mine])
            loss.backward()
            opt.step()
            mean_loss = loss.detach().clone()
            dist.all_reduce(mean_loss)
            mean_loss = mean_loss.item() / WORLD

            ref_opt.zero_grad()
            ref_loss = loss_fn(reference(x), y)
            ref_loss.backward()
            ref_opt.step()
            ref_loss = ref_loss.item()
            rel = abs(mean_loss - ref_loss) / max(abs(ref_loss), 1e-30)
            worst = max(worst, rel)
            lines.append(f"step {step} loss {mean_loss:.9g} vs {ref_loss:.9g}")
        print(f"[rank {RANK}] ddp {dtype}: " + "; ".join(lines), flush=True)
        return worst <= tolerance, f"max relative difference {worst:.3g} (limit {tolerance:g})"

    check(f"ddp_{str(dtype).replace('torch.', '')}", body)


def check_served_by_prism():
    preload = os.environ.get("PRISM_DROPIN_LIB") or os.environ.get("LD_PRELOAD", "").split(":")[0]

    def mapped():
        want = os.path.realpath(preload)
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/libnccl.so" in line}
        others = sorted(p for p in paths if p != want)
        if want not in paths:
            return False, f"{want} is not mapped; libnccl mapped: {sorted(paths) or 'none'}"
        # Another copy (torch may dlopen its wheel's NCCL by path) is reported, not failed:
        # prism_symbols checks which definitions calls actually bind to.
        return True, want + (f"; also mapped: {others}" if others else "")

    def symbols():
        # The process-wide definitions of nccl* must be Prism's (interposed by LD_PRELOAD).
        everything = ctypes.CDLL(None)
        prism = ctypes.CDLL(preload)
        prism.prismVersionString.restype = ctypes.c_char_p
        version = prism.prismVersionString().decode()
        for name in ("ncclAllReduce", "ncclCommInitRankConfig", "ncclCommSplit"):
            ours = ctypes.cast(getattr(prism, name), ctypes.c_void_p).value
            seen = ctypes.cast(getattr(everything, name), ctypes.c_void_p).value
            if ours != seen:
                return False, f"{name} resolves to {seen:#x}, not Prism's {ours:#x}"
        return True, f"prismVersionString() = {version}"

    def version():
        v = torch.cuda.nccl.version()
        return tuple(v[:3]) == (2, 28, 9), f"torch.cuda.nccl.version() = {v}"

    check("prism_mapped", mapped)
    check("prism_symbols", symbols)
    check("nccl_version", version)


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    timeout = datetime.timedelta(seconds=60)
    print(f"[rank {RANK}] torch {torch.__version__}, world {WORLD}, device {DEVICE}", flush=True)
    try:
        if ON_GPU:
            torch.cuda.set_device(DEVICE)
            # device_id makes the communicator now (ncclCommInitRankConfig) and lets
            # new_group split it (ncclCommSplit).
            dist.init_process_group(BACKEND, timeout=timeout, device_id=DEVICE)
        else:
            dist.init_process_group(BACKEND, timeout=timeout)
        t = torch.ones(1, device=DEVICE)
        dist.all_reduce(t)
        if ON_GPU:
            torch.cuda.synchronize()
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        report("init_process_group", False,
               f"{type(e).__name__}: {e} (PyTorch or the library refused {WORLD} ranks on one "
               f"GPU, {DEVICE})")
        return 2
    report("init_process_group", t.item() == WORLD, f"backend {dist.get_backend()}")
    if WORLD < 2:
        report("world_size", False, f"needs 2 or more ranks, got {WORLD}")

    check_served_by_prism()
    check_all_reduce("sum", dist.ReduceOp.SUM, lambda x: x.sum(0))
    check_all_reduce("avg", dist.ReduceOp.AVG, lambda x: x.sum(0) / WORLD, scale=WORLD)
    check_all_reduce("max", dist.ReduceOp.MAX, lambda x: x.amax(0))
    check_all_gather()
    check_reduce_scatter()
    check_broadcast()
    check_all_to_all()
    check_send_recv()
    check_barrier()
    # float32 halves and the full batch round differently (about 1e-7 on a CPU); float64
    # shows the averaging itself is exact.
    check_ddp(torch.float32, 1e-6)
    check_ddp(torch.float64, 1e-10)
    # Last: a split that goes wrong can hang until the 60 s timeout ends the process.
    check_new_group()

    try:
        dist.destroy_process_group()
    except Exception as e:  # noqa: BLE001
        report("destroy_process_group", False, f"{type(e).__name__}: {e}")
    verdict = "FAIL (" + ", ".join(failures) + ")" if failures else "PASS"
    print(f"[rank {RANK}] DROPIN {verdict}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
