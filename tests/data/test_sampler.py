import torch

from knowgen.data import BatchSampler


def test_each_epoch_is_a_permutation_in_whole_batches():
    sampler = BatchSampler(num_items=10, batch_size=3, seed=1)
    batches = [sampler.batch(s) for s in range(3)]
    seen = torch.cat(batches)
    assert len(seen.unique()) == 9 and sampler.batches_per_epoch == 3


def test_batches_depend_only_on_seed_and_step():
    a, b = BatchSampler(100, 8, seed=3), BatchSampler(100, 8, seed=3)
    from_start = [a.batch(s) for s in range(30)]
    resumed = b.iter_from(17)
    for step in range(17, 30):
        assert torch.equal(next(resumed), from_start[step])
    assert not torch.equal(BatchSampler(100, 8, seed=4).batch(0), from_start[0])


def test_epochs_reshuffle():
    sampler = BatchSampler(64, 64, seed=0)
    assert not torch.equal(sampler.batch(0), sampler.batch(1))
