"""Learned optimizers meta-trained with pesto, applied to numpy arrays and PyTorch models.

``pesto.Optimizer`` steps a list of float32 numpy arrays in place with pesto's Rust kernels;
``pesto.torch.LearnedOptimizer`` wraps it as a ``torch.optim.Optimizer`` (import
``pesto.torch``; it needs torch). ``pesto.Task`` is a task of pesto's registry, with its loss
and gradient, for trying an optimizer without a model of your own.
"""

from importlib.metadata import version

from ._native import PRETRAINED_PATH, Optimizer, Task

__all__ = ["Optimizer", "Task", "PRETRAINED_PATH", "__version__"]
__version__ = version("pesto")
