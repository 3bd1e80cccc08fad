"""A pesto learned optimizer as a ``torch.optim.Optimizer``, for CPU float32 parameters.

    import pesto.torch
    opt = pesto.torch.LearnedOptimizer(model.parameters(), horizon=1000)

Each step hands pesto's Rust kernels numpy views of the parameters and their gradients, so
nothing is copied and the parameters are updated where they lie.
"""

import torch

from . import Optimizer

__all__ = ["LearnedOptimizer"]


class LearnedOptimizer(torch.optim.Optimizer):
    """Trains CPU float32 parameters with a learned optimizer file (``pesto.Optimizer``).

    Args:
        params: the parameters (an iterable of tensors or of parameter groups; groups carry
            no hyperparameters: a learned optimizer has no learning rate to set).
        path: an optimizer file or a meta-training run directory; None for the shipped
            optimizer built into pesto.
        horizon: the number of steps T of the run, required by the kinds whose schedule reads
            t / T (rel-lopt, nominal-lopt, snr-lopt, the shipped kind, horizon-lopt and
            trend-lopt).

    Every parameter must be a contiguous float32 tensor on the CPU (ValueError otherwise), and
    every parameter must have a gradient at each step: the optimizer normalises tensor by
    tensor and steps them all together.

    ``state_dict()`` holds, besides the parameter groups, the learned optimizer's state under
    ``"pesto"`` (step count, accumulators as tensors, loss averages), so ``torch.save`` and
    ``load_state_dict`` resume a run exactly; it loads only into an optimizer of the same kind,
    shapes and horizon. The per-parameter ``state`` of torch stays empty.
    """

    def __init__(self, params, path=None, *, horizon=None):
        super().__init__(params, defaults={})
        tensors = self._tensors()
        for i, p in enumerate(tensors):
            if p.device.type != "cpu" or p.dtype != torch.float32:
                raise ValueError(
                    f"parameter {i} (shape {tuple(p.shape)}) is {p.dtype} on {p.device}; "
                    "pesto.torch.LearnedOptimizer trains float32 parameters on the CPU"
                )
            if not p.is_contiguous():
                raise ValueError(
                    f"parameter {i} (shape {tuple(p.shape)}) is not contiguous, so it cannot "
                    "be updated in place"
                )
        self.native = Optimizer([tuple(p.shape) for p in tensors], path, horizon=horizon)

    def _tensors(self):
        return [p for group in self.param_groups for p in group["params"]]

    def add_param_group(self, param_group):
        """Adds a group while the optimizer is built; afterwards its tensors are fixed."""
        if hasattr(self, "native"):
            raise ValueError(
                "pesto.torch.LearnedOptimizer cannot take new parameters after it is built; "
                "build a new one with all of them"
            )
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure=None, loss=None):
        """One update of every parameter from its gradient; returns the loss.

        ``closure`` re-evaluates the model and returns the loss (called with gradients on);
        without it, pass the minibatch loss as ``loss`` (a float or a tensor) so the kinds with
        loss features (rel-lopt, nominal-lopt, snr-lopt, horizon-lopt, trend-lopt) see it.
        """
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params, grads = [], []
        for i, p in enumerate(self._tensors()):
            if p.grad is None:
                raise ValueError(
                    f"parameter {i} (shape {tuple(p.shape)}) has no gradient; call backward() "
                    "first, and leave out parameters that get none"
                )
            if p.grad.is_sparse:
                raise ValueError(f"parameter {i} has a sparse gradient; pesto needs dense ones")
            params.append(p.detach().numpy())
            grads.append(p.grad.detach().numpy())
        self.native.step(params, grads, None if loss is None else float(loss))
        return loss

    def state_dict(self):
        """The parameter groups and, under ``"pesto"``, the learned optimizer's state."""
        state = super().state_dict()
        native = self.native.state_dict()
        native["slots"] = [torch.from_numpy(s) for s in native["slots"]]
        native["scalars"] = torch.from_numpy(native["scalars"])
        state["pesto"] = native
        return state

    def load_state_dict(self, state_dict):
        """Restores the parameter groups and the learned optimizer's state."""
        state_dict = dict(state_dict)
        if "pesto" not in state_dict:
            raise ValueError("the state dict has no `pesto` entry: it is not from a LearnedOptimizer")
        native = dict(state_dict.pop("pesto"))
        native["slots"] = [s.detach().cpu().contiguous().numpy() for s in native["slots"]]
        native["scalars"] = native["scalars"].detach().cpu().contiguous().numpy()
        super().load_state_dict(state_dict)
        self.native.load_state_dict(native)
