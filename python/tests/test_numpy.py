"""pesto.Optimizer on numpy arrays: it reproduces `pesto train --lopt`, updates arrays in
place, and refuses bad input with an exception naming the problem."""

import csv
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import pesto

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / pesto.PRETRAINED_PATH
TASK = "mlp-synth-64x32x10"
STEPS = 300


def pesto_binary():
    """The `pesto` command: $PESTO_BIN, else the release build of this repository."""
    path = Path(os.environ.get("PESTO_BIN", ROOT / "target" / "release" / "pesto"))
    if not path.exists():
        pytest.fail(f"{path} does not exist: run `cargo build --release` or set PESTO_BIN")
    return path


def split(flat, shapes):
    """Views of the flat vector `flat`, one per shape, in order (no copies)."""
    views, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        views.append(flat[start : start + size].reshape(shape))
        start += size
    return views


def test_reproduces_pesto_train_on_the_same_task(tmp_path):
    out = tmp_path / "train"
    subprocess.run(
        [pesto_binary(), "train", "--task", TASK, "--lopt", SHIPPED, "--steps", str(STEPS),
         "--out", out],
        check=True, capture_output=True,
    )
    with open(out / "curve.csv") as f:
        rows = list(csv.DictReader(f))
    expected_train = np.array([float(r["train_loss"]) for r in rows[:STEPS]], dtype=np.float32)
    expected_heldout = float(rows[STEPS]["heldout_loss"])

    task = pesto.Task(TASK, seed=0)
    opt = pesto.Optimizer(task.shapes, SHIPPED, horizon=STEPS)
    flat = task.init_params(0)
    params = split(flat, task.shapes)
    losses = []
    for step in range(STEPS):
        loss, grad = task.loss_and_grad(flat, step)
        opt.step(params, split(grad, task.shapes), loss=loss)
        losses.append(loss)
    losses = np.array(losses, dtype=np.float32)

    diff = np.abs(losses - expected_train)
    print(f"max abs difference {diff.max():.3g}, max rel {(diff / expected_train).max():.3g}")
    np.testing.assert_array_equal(losses, expected_train)
    assert task.heldout_loss(flat) == pytest.approx(expected_heldout, rel=1e-6)
    assert losses[-10:].mean() < 0.7 * losses[0]


def test_arrays_are_updated_where_they_lie():
    w = np.ones((3, 4), dtype=np.float32)
    b = np.zeros(4, dtype=np.float32)
    address = w.ctypes.data
    opt = pesto.Optimizer([w.shape, b.shape], horizon=10)
    opt.step([w, b], [np.full_like(w, 0.5), np.ones_like(b)], loss=1.0)
    assert w.ctypes.data == address
    assert (w < 1).all() and (b < 0).all()
    assert opt.steps_taken == 1 and opt.kind == "snr-lopt"


def test_a_grad_that_is_not_contiguous_is_copied_and_gives_the_same_step():
    grad = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    results = []
    for g in (np.ascontiguousarray(grad.T), grad.T):
        w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
        opt = pesto.Optimizer([w.shape], horizon=10)
        opt.step([w], [g], loss=1.0)
        results.append(w)
    np.testing.assert_array_equal(results[0], results[1])


def test_the_shipped_optimizer_is_the_default_and_the_file():
    shipped = pesto.Optimizer([(2,)], SHIPPED, horizon=5)
    built_in = pesto.Optimizer([(2,)], horizon=5)
    np.testing.assert_array_equal(shipped.theta, built_in.theta)
    assert shipped.outer_steps == built_in.outer_steps > 0


def bad_step(params, grads, shapes=((3, 4),)):
    with pytest.raises(Exception) as err:
        pesto.Optimizer(list(shapes), horizon=10).step(params, grads, loss=1.0)
    return err


def test_bad_arrays_raise_naming_the_problem():
    w = np.zeros((3, 4), dtype=np.float32)
    g = np.zeros((3, 4), dtype=np.float32)
    err = bad_step([w.astype(np.float64)], [g])
    assert err.type is TypeError
    assert str(err.value) == "params[0] must be a float32 numpy array, found a numpy array of dtype float64"
    err = bad_step([w], [[0.0] * 12])
    assert err.type is TypeError
    assert str(err.value) == "grads[0] must be a float32 numpy array, found a list"
    err = bad_step([w], [g.reshape(4, 3)])
    assert err.type is ValueError
    assert str(err.value) == "grads[0] has shape [4, 3], expected [3, 4]"
    err = bad_step([w, w], [g])
    assert err.type is ValueError
    assert str(err.value) == "params has 2 arrays, the optimizer was built for 1"
    err = bad_step([np.zeros((4, 3), dtype=np.float32).T], [g])
    assert err.type is ValueError
    assert str(err.value).startswith("params[0] is not C-contiguous, so it cannot be updated")
    frozen = w.copy()
    frozen.flags.writeable = False
    err = bad_step([frozen], [g])
    assert err.type is ValueError
    assert str(err.value).startswith("params[0] cannot be written in place")
    err = bad_step([w], [w])
    assert err.type is ValueError
    assert str(err.value).startswith("grads[0] cannot be read")


def test_bad_optimizers_raise_naming_the_problem(tmp_path):
    with pytest.raises(ValueError, match="^snr-lopt reads the run length: pass horizon=T"):
        pesto.Optimizer([(3,)])
    with pytest.raises(ValueError, match="^shapes is empty"):
        pesto.Optimizer([], horizon=3)
    missing = tmp_path / "missing.bin"
    with pytest.raises(FileNotFoundError, match=f"^checkpoint {missing}: "):
        pesto.Optimizer([(3,)], missing, horizon=3)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not an optimizer at all, not at all")
    with pytest.raises(ValueError, match=f"^checkpoint {garbage}: not a pesto optimizer"):
        pesto.Optimizer([(3,)], garbage, horizon=3)
    with pytest.raises(ValueError, match="^unknown task family `nope`"):
        pesto.Task("nope")


def test_a_state_dict_resumes_a_run_exactly():
    rng = np.random.default_rng(0)
    shapes = [(5, 3), (3,)]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(8)]
    start = [rng.standard_normal(s).astype(np.float32) for s in shapes]

    whole = [p.copy() for p in start]
    opt = pesto.Optimizer(shapes, horizon=8)
    for step, g in enumerate(grads):
        opt.step(whole, g, loss=1.0 / (step + 1))

    resumed = [p.copy() for p in start]
    first = pesto.Optimizer(shapes, horizon=8)
    for step, g in enumerate(grads[:3]):
        first.step(resumed, g, loss=1.0 / (step + 1))
    second = pesto.Optimizer(shapes, horizon=8)
    second.load_state_dict(first.state_dict())
    for step, g in enumerate(grads[3:], start=3):
        second.step(resumed, g, loss=1.0 / (step + 1))
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a, b)

    with pytest.raises(ValueError, match=r"^the state is for horizon 8, this optimizer has 9$"):
        pesto.Optimizer(shapes, horizon=9).load_state_dict(first.state_dict())
    with pytest.raises(ValueError, match=r"^the state is for shapes \[\[5, 3\], \[3\]\], this optimizer has \[\[3\]\]$"):
        pesto.Optimizer([(3,)], horizon=8).load_state_dict(first.state_dict())
