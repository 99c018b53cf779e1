"""Weight averaging (``weight_average_epochs``): the update, what validation and checkpoints hold,
resuming, and the key's range. (The benchmark's pause-and-resume test runs with it too.)"""

import pytest
import torch

from recbole_hier import pipeline
from recbole_hier.checkpoint import load_checkpoint


def _trained(model):
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def test_each_step_moves_the_average_towards_the_weights(make_config):
    run = pipeline.build(make_config(weight_average_epochs=0.5, learning_rate=0.05))
    trainer = run.trainer
    trainer.steps_per_epoch = 4  # decay 1 - 1 / (0.5 * 4) = 0.5 once past the warm-up
    start = _trained(run.model)
    assert trainer.average.keys() == start.keys()
    assert all(torch.equal(trainer.average[name], start[name]) for name in start)
    batch = next(iter(run.train_data))
    for updates, decay in ((0, 1 / 10), (100, 0.5)):  # at most (1 + n) / (10 + n): a short warm-up
        trainer.average_updates = updates
        before = {name: tensor.clone() for name, tensor in trainer.average.items()}
        trainer.optimizer.zero_grad()
        losses = run.model.calculate_loss(batch)
        (sum(losses) if isinstance(losses, tuple) else losses).backward()
        trainer.optimizer.step()
        after = _trained(run.model)
        assert trainer.average_updates == updates + 1
        moved = [name for name in after if not torch.equal(after[name], before[name])]
        assert moved  # the step changed weights, so the test can tell the formula from a copy
        for name in after:
            expected = decay * before[name] + (1 - decay) * after[name]
            assert torch.allclose(trainer.average[name], expected, atol=1e-6), name


def test_validation_and_the_kept_checkpoint_use_the_average_training_the_raw_weights(make_config):
    run = pipeline.build(make_config(weight_average_epochs=1.0, learning_rate=0.05, epochs=3))
    best_score, best_result = run.trainer.fit(run.train_data, run.valid_data, saved=True, show_progress=False)
    raw = _trained(run.model)
    stored = load_checkpoint(run.trainer.saved_model_file)
    averaged = {name: stored["state_dict"][name] for name in raw}
    # the kept state_dict is the average, training_weights the raw weights of that epoch
    assert any(not torch.allclose(averaged[name], stored["training_weights"][name]) for name in raw)
    # the model trains on the raw weights: after fit, they are not the average
    assert any(not torch.allclose(raw[name], run.trainer.average[name]) for name in raw)
    # scoring the kept checkpoint (what test, --recommend and rescore do) reproduces the validation score
    again = run.trainer.evaluate(run.valid_data, load_best_model=True)
    assert again["ndcg@10"] == pytest.approx(best_result["ndcg@10"], abs=1e-4)
    assert best_score == pytest.approx(best_result["ndcg@10"], abs=1e-4)


def test_resuming_restores_the_raw_weights_and_the_average(make_config):
    first = pipeline.build(make_config(weight_average_epochs=1.0, learning_rate=0.05, epochs=2))
    first.trainer.fit(first.train_data, first.valid_data, saved=True, show_progress=False)
    path = first.trainer.saved_model_file
    stored = load_checkpoint(path)
    second = pipeline.build(make_config(weight_average_epochs=1.0, learning_rate=0.05, epochs=2))
    second.trainer.resume_checkpoint(path)
    for name, tensor in _trained(second.model).items():
        assert torch.equal(tensor, stored["training_weights"][name].to(tensor.device))
        assert torch.equal(second.trainer.average[name], stored["state_dict"][name].to(tensor.device))
    assert second.trainer.average_updates == stored["weight_average_updates"] > 0


def test_off_by_default_and_the_checkpoint_is_as_before(make_config):
    run = pipeline.build(make_config())
    assert run.trainer.average is None and run.config["weight_average_epochs"] == 0.0
    state = run.trainer.checkpoint_state(0)
    assert "training_weights" not in state and "weight_average_updates" not in state


@pytest.mark.parametrize("value", [-0.5, "one"])
def test_a_bad_horizon_names_the_key(make_config, value):
    with pytest.raises(ValueError, match="weight_average_epochs"):
        make_config(weight_average_epochs=value)
