"""gankit.runtime.noise: the run's random draws (shapes, ranges, determinism, each rank's
rows of the global draw), their recorded plan and buffers, and the RNG state's round trip."""

from __future__ import annotations

import torch

from gankit.core.trainer import Trainer
from gankit.runtime.distributed import DistInfo
from gankit.runtime.noise import NoiseSource

CPU = torch.device("cpu")


def test_draws_have_their_shapes_ranges_and_repeat_for_a_seed() -> None:
    a, b = NoiseSource(5, CPU), NoiseSource(5, CPU)
    z = a.normal(8, 3)
    assert z.shape == (8, 3) and z.dtype == torch.float32
    torch.testing.assert_close(z, b.normal(8, 3))
    labels = a.classes(1000, 4)
    assert labels.dtype == torch.int64 and set(labels.tolist()) == {0, 1, 2, 3}
    u = a.uniform(500, 4, torch.float32)
    assert u.shape == (500, 1, 1, 1) and 0 <= u.min() and u.max() < 1
    assert a.gaussian(2, (1, 3, 3), torch.float32).shape == (2, 1, 3, 3)
    assert not torch.equal(z, NoiseSource(6, CPU).normal(8, 3))


def test_each_rank_keeps_its_rows_of_the_single_process_draw() -> None:
    whole = NoiseSource(0, CPU).normal(2 * 4, 3)
    for rank in (0, 1):
        mine = NoiseSource(0, CPU, DistInfo(rank=rank, world_size=2, local_rank=rank))
        torch.testing.assert_close(mine.normal(4, 3), whole[rank * 4 : (rank + 1) * 4])


def test_recording_plans_the_draws_and_buffers_serve_them() -> None:
    noise = NoiseSource(0, CPU)
    with noise.recording() as plan:
        noise.normal(4, 2)
        noise.classes(4, 10)
    assert [(shape, dtype) for _, shape, dtype in plan] == [
        (torch.Size([4, 2]), torch.float32), (torch.Size([4]), torch.int64)]
    buffers = [torch.full((4, 2), 7.0), torch.zeros(4, dtype=torch.int64)]
    with noise.from_buffers(buffers) as queue:
        assert noise.normal(4, 2) is buffers[0]
        assert len(queue) == 1  # the labels' buffer is not drawn yet
    assert noise.pending is None


def test_a_restored_state_gives_the_same_next_draws() -> None:
    noise = NoiseSource(1, CPU)
    noise.normal(3, 3)
    state = noise.state_dict()
    expected = (noise.normal(3, 3), torch.rand(3))
    other = NoiseSource(99, CPU)
    other.load_state_dict(state, iteration=10)
    torch.testing.assert_close(other.normal(3, 3), expected[0])
    torch.testing.assert_close(torch.rand(3), expected[1])  # the global (dropout) RNG too


def test_noise_state_from_another_device_kind_reseeds_instead_of_failing(make_config,
                                                                         toy_images) -> None:
    """A CUDA run resumed on the CPU: the CUDA noise state does not fit a CPU generator."""
    cfg = make_config(**{"train.batch_size": 16, "train.device": "cpu"})
    data = toy_images[:64]
    first = Trainer(cfg, data)
    first.train_epoch()
    state = first.state_dict()
    state["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)  # a CUDA generator's size
    state["rng"]["noise_device"] = "cuda"
    second = Trainer(cfg, data)
    second.load_state_dict(state)
    assert second.iteration == first.iteration
    assert torch.isfinite(second.noise(4)).all()
