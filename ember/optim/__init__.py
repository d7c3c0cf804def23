"""Optimizers and learning-rate schedules, as torch.optim."""
from .optimizer import Optimizer
from .algorithms import SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, Rprop, ASGD
from ._adafactor import Adafactor
from ._muon import Muon
from .sparse_adam import SparseAdam
from .lbfgs import LBFGS
from . import lr_scheduler, swa_utils

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "Rprop", "ASGD", "Adafactor", "Muon", "SparseAdam", "LBFGS", "lr_scheduler"]
