# %% [markdown]
# # Deep learning from the ground up
#
# An open course in which you build a small deep-learning library, **deepkit**, in plain NumPy, one idea at a
# time, and check every piece against PyTorch and against finite differences. Each topic has
#
# * a **lecture** notebook: the derivation (Markdown + LaTeX), numbers that verify it, and interactive widgets;
# * an **exercise** notebook: you implement functions in `lib/deepkit/`, and tests check them;
# * hidden **checks** run by the autograder, so you (or your instructor) get a score per part.

# %% [markdown]
# ## Topics
#
# | # | topic | lecture | exercise | you implement in `lib/deepkit/` |
# |---|-------|---------|----------|------|
# | 01 | Softmax, cross-entropy, backpropagation and gradient checking | [lecture](lectures/01_softmax.ipynb) | [exercise](exercises/01_softmax/01_softmax.ipynb) | `layers.py`, `losses.py`, `nets.py` |
# | 02 | Activation functions: sigmoid, tanh, the ReLU family, saturation | [lecture](lectures/02_activations.ipynb) | [exercise](exercises/02_activations/02_activations.ipynb) | `activations.py` |
# | 03 | Weight initialisation: variance preservation, Xavier/Glorot, He | [lecture](lectures/03_initialization.ipynb) | [exercise](exercises/03_initialization/03_initialization.ipynb) | `init.py` |
# | 04 | Normalisation: batch norm and layer norm | [lecture](lectures/04_normalization.ipynb) | [exercise](exercises/04_normalization/04_normalization.ipynb) | `norm.py` |
# | 05 | Regularisation: weight decay, the dropout family, early stopping | [lecture](lectures/05_regularization.ipynb) | [exercise](exercises/05_regularization/05_regularization.ipynb) | `regularizers.py`, `dropout.py`, `early_stopping.py` |
# | 06 | Softmax-weighted connections (the alpha-conv) | [lecture](lectures/06_alphaconv.ipynb) | [exercise](exercises/06_alphaconv/06_alphaconv.ipynb) | `alphaconv.py` |
# | 07 | Optimisers: SGD, momentum, Nesterov, AdaGrad, RMSProp, Adadelta, Adam, AdaMax; learning-rate schedules | [lecture](lectures/07_optimizers.ipynb) | [exercise](exercises/07_optimizers/07_optimizers.ipynb) | `optim.py` |
# | 08 | Convolution, pooling and architectures | [lecture](lectures/08_convolution.ipynb) | [exercise](exercises/08_convolution/08_convolution.ipynb) | `conv.py`, `pool.py`, `blocks.py` |
# | 09 | Training practice: preprocessing and whitening, babysitting a network (capstone) | [lecture](lectures/09_training.ipynb) | [exercise](exercises/09_training/09_training.ipynb) | `solver.py`, `models.py` |
#
# Work through them in order: later topics reuse the functions you wrote earlier (a network in topic 09 calls
# your `affine_forward` from topic 01).

# %% [markdown]
# ## How to work
#
# 1. **Read the lecture** (`lectures/NN_topic.ipynb`). Lectures use the reference implementation, so they run
#    even before you have written anything. Run all cells, then play with the widgets.
# 2. **Open the exercise** (`exercises/NN_topic/NN_topic.ipynb`) and run its first cell: it puts *your*
#    `lib/deepkit` on the path and reloads it whenever you save a file.
# 3. **Implement** each function where the notebook tells you, in `lib/deepkit/<module>.py`. Every function you
#    write currently raises `NotImplementedError("Exercise NN_topic: implement f in lib/deepkit/m.py")`;
#    its docstring gives the shapes, the formula and what to return. Input validation is already written.
# 4. **Run the visible tests**: the test cell after each instruction checks your function on fixed inputs and
#    with a numerical gradient check. Fix, save, re-run: no kernel restart needed.
# 5. **Check yourself like the grader does**: in a terminal at the repository root run
#
#    ```
#    .venv/bin/python -m autograder check 01
#    ```
#
#    It runs the hidden checks on your `lib/deepkit` in a sandbox and prints a per-part report (points and
#    the reason for every lost point). Nothing is uploaded anywhere.
#
# Your work lives in `lib/deepkit/` and in the exercise notebooks (written answers). `reference/` holds the
# reference implementation and `solutions/` the instructors' source notebooks with the hidden tests: reading them
# spoils the exercise. `make build` (for instructors) regenerates `lib/` and `exercises/` from `reference/` and
# `solutions/`; it refuses to overwrite files you have changed and not committed.

# %% [markdown]
# ## Commands (from the repository root)
#
# | command | what it does |
# |---|---|
# | `make lab` | opens JupyterLab on this page (creates `.venv` on first use) |
# | `make test` | the repository's own test suite (library vs PyTorch, every notebook, the autograder) |
# | `python -m autograder check NN` | your score on topic NN, with reasons |
# | `make grade` | instructors: autograde every submission in `autograder/submitted/` (see README) |
#
# ## Check your setup
# Run the cell below: it shows the versions in use and which `deepkit` your exercises will import.

# %%
import sys
from pathlib import Path

import matplotlib
import numpy as np
import torch

lib = Path.cwd().resolve() / "lib"
print(
    f"python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__}, "
    f"matplotlib {matplotlib.__version__}"
)
print("your library:", lib / "deepkit", "(found)" if (lib / "deepkit" / "__init__.py").is_file() else "(MISSING)")
