"""pesto.torch.LearnedOptimizer trains a torch MLP exactly as pesto.Optimizer steps its numpy
views, and refuses parameters it cannot train."""

import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import pesto  # noqa: E402
import pesto.torch  # noqa: E402

STEPS = 100


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))


def batch(step):
    g = torch.Generator().manual_seed(step)
    x = torch.randn(64, 8, generator=g)
    return x, (x[:, 0] > x[:, 1]).long() + (x[:, 2] > 0.5).long()


def test_the_adapter_matches_the_numpy_api_step_for_step():
    model = mlp()
    twin = copy.deepcopy(model)
    opt = pesto.torch.LearnedOptimizer(model.parameters(), horizon=STEPS)
    native = pesto.Optimizer([tuple(p.shape) for p in twin.parameters()], horizon=STEPS)
    losses, largest = [], 0.0
    for step in range(STEPS):
        x, y = batch(step)

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        loss = opt.step(closure)
        twin.zero_grad()
        twin_loss = torch.nn.functional.cross_entropy(twin(x), y)
        twin_loss.backward()
        native.step(
            [p.detach().numpy() for p in twin.parameters()],
            [p.grad.numpy() for p in twin.parameters()],
            loss=twin_loss.item(),
        )
        for a, b in zip(model.parameters(), twin.parameters()):
            largest = max(largest, (a - b).abs().max().item())
        losses.append(loss.item())
    print(f"max abs parameter difference over {STEPS} steps: {largest}")
    assert largest == 0.0
    assert np.mean(losses[-10:]) < 0.6 * losses[0]


def test_a_state_dict_resumes_the_run_exactly():
    model, twin = mlp(), mlp()
    opt = pesto.torch.LearnedOptimizer(model.parameters(), horizon=20)
    for step in range(20):
        if step == 8:
            saved = copy.deepcopy(opt.state_dict())
            twin.load_state_dict(model.state_dict())
        x, y = batch(step)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step(loss=loss)
    resumed = pesto.torch.LearnedOptimizer(twin.parameters(), horizon=20)
    resumed.load_state_dict(saved)
    for step in range(8, 20):
        x, y = batch(step)
        resumed.zero_grad()
        loss = torch.nn.functional.cross_entropy(twin(x), y)
        loss.backward()
        resumed.step(loss=loss)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_parameters_it_cannot_train_raise_naming_them():
    with pytest.raises(ValueError, match=r"^parameter 0 \(shape \(2,\)\) is torch.float64 on cpu"):
        pesto.torch.LearnedOptimizer([torch.zeros(2, dtype=torch.float64, requires_grad=True)], horizon=5)
    p = torch.zeros(2, requires_grad=True)
    opt = pesto.torch.LearnedOptimizer([p], horizon=5)
    with pytest.raises(ValueError, match=r"^parameter 0 \(shape \(2,\)\) has no gradient"):
        opt.step()
    with pytest.raises(ValueError, match="cannot take new parameters"):
        opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)]})


def test_the_readme_example_trains():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Python and PyTorch") :]
    code = section[section.index("```python\n") + 10 : section.index("\n```", section.index("```python"))]
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["loss"].item() < 0.1
