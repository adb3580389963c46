"""Training and sampling throughput: knowgen's loop vs. the PyTorch-DCGAN-tutorial-style loop.

Both loops train the *same layers* (the tutorial side wraps knowgen's modules the tutorial's way:
an `nn.Sequential` with a ConvTranspose2d on a (B, z, 1, 1) input and a Sigmoid + BCELoss head),
in the same process, one after the other, with torch threads = cores. The tutorial side reads
data through a `torch.utils.data.DataLoader` over a per-item Dataset (PIL image -> tensor ->
normalise, as torchvision's ToTensor/Normalize do) with 2 workers and shuffling.

Figures are images/s, the median of timed windows after warm-up.

    python benchmarks/throughput.py [--quick] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import read_metrics  # noqa: E402
from benchmarks.machine import describe_machine, write_section  # noqa: E402
from knowgen.config import config_to_dict, resolve_config  # noqa: E402
from knowgen.data import DataConfig, load_dataset  # noqa: E402
from knowgen.images import to_float  # noqa: E402
from knowgen.models import build_discriminator, build_generator  # noqa: E402
from knowgen.sampling import wrap  # noqa: E402
from knowgen.train.loop import train  # noqa: E402
from knowgen.train.state import init_state  # noqa: E402
from knowgen.train.steps import d_step, g_step, generate_fake  # noqa: E402


class PerItemDataset(torch.utils.data.Dataset):
    """What tutorials do: one item at a time, PIL image -> float tensor -> normalised."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images.numpy()
        self.labels = labels.numpy()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        array = self.images[i]
        mode = "L" if array.shape[0] == 1 else "RGB"
        picture = Image.fromarray(array[0] if mode == "L" else array.transpose(1, 2, 0), mode)
        tensor = torch.from_numpy(np.asarray(picture, dtype=np.uint8).copy()).float().div(255)
        tensor = tensor.unsqueeze(0) if mode == "L" else tensor.permute(2, 0, 1)
        return (tensor - 0.5) / 0.5, int(self.labels[i])


def tutorial_models(model_cfg, image_shape):
    """knowgen's layers, assembled and called the way the DCGAN tutorial does."""
    torch.manual_seed(0)
    generator = build_generator(model_cfg, image_shape)
    discriminator = build_discriminator(model_cfg, image_shape)
    if model_cfg.name == "dcgan":
        net_g = nn.Sequential(generator.project, *generator.net)
        noise_shape = (model_cfg.z_dim, 1, 1)
        net_d = nn.Sequential(*discriminator.net, nn.Flatten(0), nn.Sigmoid())
    else:
        net_g, noise_shape = generator, (model_cfg.z_dim,)
        net_d = nn.Sequential(discriminator, nn.Sigmoid())
    return net_g, net_d, noise_shape


def tutorial_windows(dataset, cfg, steps: int, window: int, flush_denormal: bool) -> list[float]:
    """Images/s of each `window` iterations of the tutorial's loop (which runs with PyTorch's
    default of keeping denormals unless `flush_denormal`)."""
    torch.set_flush_denormal(flush_denormal)
    net_g, net_d, noise_shape = tutorial_models(cfg.model, dataset.image_shape)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = torch.utils.data.DataLoader(
        PerItemDataset(dataset.images, dataset.labels),
        batch_size=cfg.train.batch_size,
        shuffle=True,
        num_workers=2,
    )
    rates, done, start = [], 0, time.perf_counter()
    while done < steps:
        for data, _ in loader:
            net_d.zero_grad()
            real = data
            b_size = real.size(0)
            label = torch.full((b_size,), 1.0)
            err_real = criterion(net_d(real).view(-1), label)
            err_real.backward()
            noise = torch.randn(b_size, *noise_shape)
            fake = net_g(noise)
            label.fill_(0.0)
            err_fake = criterion(net_d(fake.detach()).view(-1), label)
            err_fake.backward()
            opt_d.step()
            net_g.zero_grad()
            label.fill_(1.0)
            err_g = criterion(net_d(fake).view(-1), label)
            err_g.backward()
            opt_g.step()
            done += 1
            if done % window == 0:
                now = time.perf_counter()
                rates.append(window * cfg.train.batch_size / (now - start))
                start = now
            if done >= steps:
                break
    return rates


def knowgen_windows(dataset, cfg, steps: int, window: int) -> list[float]:
    """Images/s of each `window` steps of knowgen's real training loop (from metrics.jsonl)."""
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run", dataset=dataset)
        records = read_metrics(Path(tmp) / "run")
    return [record["images_per_s"] for record in records]


def step_breakdown(dataset, cfg, repeats: int = 20) -> dict[str, float]:
    """Median milliseconds of each part of one knowgen step."""
    state = init_state(cfg.model, cfg.train, dataset.image_shape, torch.device("cpu"))
    batch = cfg.train.batch_size
    index = torch.randperm(len(dataset))[:batch]
    parts: dict[str, list[float]] = {"batch": [], "generate": [], "d_step": [], "g_step": []}
    for _ in range(repeats + 3):
        t0 = time.perf_counter()
        real = to_float(dataset.images[index])
        t1 = time.perf_counter()
        fake = generate_fake(state, batch, with_grad=True)
        t2 = time.perf_counter()
        d_step(state, real, None, fake, cfg.loss)
        t3 = time.perf_counter()
        g_step(state, fake, cfg.loss)
        t4 = time.perf_counter()
        for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts[key].append(value * 1000)
    return {k: statistics.median(v[3:]) for k, v in parts.items()}


def loader_ms_per_batch(dataset, batch_size: int, batches: int = 60) -> float:
    loader = torch.utils.data.DataLoader(
        PerItemDataset(dataset.images, dataset.labels),
        batch_size=batch_size,
        shuffle=True,
        num_workers=2,
    )
    start = time.perf_counter()
    for seen, _ in enumerate(loader, start=1):
        if seen == 5:
            start = time.perf_counter()
        if seen == batches + 5:
            break
    return (time.perf_counter() - start) / batches * 1000


def sampling_rate(dataset, cfg, num: int = 5000) -> float:
    network = build_generator(cfg.model, dataset.image_shape).eval()
    meta = {"model": config_to_dict(cfg)["model"], "image_shape": list(dataset.image_shape)}
    generator = wrap(network, meta)  # what knowgen.load returns, without a file
    generator.sample(500)
    start = time.perf_counter()
    generator.sample(num)
    return num / (time.perf_counter() - start)


CASES = [
    # (label, preset, image side, steps, window)
    ("seed 28px b64", "seed", 28, 400, 40),
    ("dcgan 28px b64", "dcgan", 28, 240, 20),
    ("dcgan 64px b64", "dcgan", 64, 48, 6),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    machine = describe_machine()
    print(machine)
    full = load_dataset(DataConfig(name="fashion-mnist"))
    rows, notes = [], []
    for label, preset, side, steps, window in CASES:
        if args.quick:
            steps, window = max(steps // 6, 2 * window), window
        dataset = load_dataset(DataConfig(name="fashion-mnist", image_size=side))
        if side != 28:
            dataset.images, dataset.labels = dataset.images[:20_000], dataset.labels[:20_000]
        cfg = resolve_config(
            preset,
            [
                "train.batch_size=64",
                f"train.steps={steps}",
                f"train.log_every={window}",
                "train.sample_every=1000000",
                "train.checkpoint_every=1000000",
                "train.tensorboard=false",
            ],
        )
        ours = statistics.median(knowgen_windows(dataset, cfg, steps, window)[2:])
        theirs = statistics.median(tutorial_windows(dataset, cfg, steps, window, False)[2:])
        theirs_flushed = statistics.median(tutorial_windows(dataset, cfg, steps, window, True)[2:])
        sampling = sampling_rate(dataset, cfg)
        parts = step_breakdown(dataset, cfg)
        loader = loader_ms_per_batch(dataset, 64)
        rows.append(
            (label, ours, theirs, ours / theirs, theirs_flushed, ours / theirs_flushed, sampling)
        )
        notes.append(
            f"- {label}: one knowgen step = batch {parts['batch']:.1f} ms + generate "
            f"{parts['generate']:.1f} ms + D step {parts['d_step']:.1f} ms + G step "
            f"{parts['g_step']:.1f} ms; the tutorial's DataLoader alone delivers a batch every "
            f"{loader:.1f} ms (2 worker processes sharing the 2 cores with training)."
        )
        print(
            f"{label}: knowgen {ours:.0f} img/s, tutorial {theirs:.0f} img/s "
            f"({theirs_flushed:.0f} with denormals flushed), ratio {ours / theirs:.2f}x "
            f"({ours / theirs_flushed:.2f}x), sampling {sampling:.0f} img/s",
            flush=True,
        )
        print(notes[-1], flush=True)
    del full

    table = [
        "| case | knowgen train img/s | tutorial-style img/s | ratio | tutorial + flushed "
        "denormals img/s | ratio | knowgen sampling img/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    table += [
        f"| {r[0]} | {r[1]:.0f} | {r[2]:.0f} | {r[3]:.2f}x | {r[4]:.0f} | {r[5]:.2f}x "
        f"| {r[6]:.0f} |"
        for r in rows
    ]
    body = "\n".join(
        [
            f"Machine: {machine}.",
            "",
            "Command: `python benchmarks/throughput.py --write-docs`"
            + (" --quick" if args.quick else "")
            + "; medians of timed windows after 2 warm-up "
            "windows, both loops in the same process, one after the other.",
            "",
            *table,
            "",
            "Where the time goes:",
            "",
            *notes,
        ]
    )
    print("\n" + "\n".join(table))
    if args.write_docs:
        write_section("docs/benchmarks.md", "Throughput", body)


if __name__ == "__main__":
    main()
