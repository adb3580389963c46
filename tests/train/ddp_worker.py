"""Run by tests/train/test_distributed.py under torchrun (or plainly, as a world of one): train a
tiny config and save what this rank holds, so the test can compare ranks and runs.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/train/ddp_worker.py \\
        OUT_DIR RUN_DIR [resume] [--set key=value ...]
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from safetensors.torch import save_file  # noqa: E402

from knowgen.config import resolve_config  # noqa: E402
from knowgen.train.loop import train  # noqa: E402
from tests.conftest import TINY  # noqa: E402


def main() -> None:
    out, run_dir, *rest = sys.argv[1:]
    resume = bool(rest) and rest[0] == "resume"
    settings = [s for s in rest if s != "resume"]
    state = train(resolve_config("dcgan", TINY + settings), Path(run_dir), resume=resume)
    rank = int(os.environ.get("RANK", "0"))
    tensors = {f"g.{k}": v for k, v in state.generator.state_dict().items()}
    tensors |= {f"d.{k}": v for k, v in state.discriminator.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in state.ema.model.state_dict().items()}
    Path(out).mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, f"{out}/rank{rank}.safetensors")


if __name__ == "__main__":
    main()
