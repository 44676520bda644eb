# %% [markdown]
# # Deep learning from the ground up
#
# An open course in which you build a small deep-learning library, **deepkit**, in plain NumPy, one idea at a
# time, and check every piece against PyTorch and against finite differences. Each topic has
#
# * a **lecture** notebook: the derivation (Markdown + LaTeX), numbers that verify it, and interactive widgets;
# * an **exercise** notebook: you implement functions in `lib/deepkit/`, and tests check them;
# * **checks** run by the autograder on your code in a sandbox, so you (or your instructor) get a score per part.

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
# 1. **Read the lecture** (`lectures/NN_topic.ipynb`): the derivation, the numbers that check it, the widgets.
#    In the course repository lectures run on the course's reference implementation, so they work before you
#    have written anything. In a student edition they come already run (every output and explorer is a
#    snapshot of a run with the reference), and re-running a cell uses **your** `lib/deepkit`: it stops with
#    `NotImplementedError` until you have written what the cell calls, then the lecture's checks against
#    PyTorch test your code too.
# 2. **Open the exercise** (`exercises/NN_topic/NN_topic.ipynb`) and run its first cell: it puts *your*
#    `lib/deepkit` on the path and reloads it whenever you save a file.
# 3. **Implement** each function where the notebook tells you, in `lib/deepkit/<module>.py`. Every function you
#    write currently raises `NotImplementedError("Exercise NN_topic: implement f in lib/deepkit/m.py")`;
#    its docstring gives the shapes, the formula and what to return. Input validation is already written.
# 4. **Run the visible tests**: the test cell after each instruction checks your function on fixed inputs and
#    with a numerical gradient check. Fix, save, re-run: no kernel restart needed.
# 5. **Check yourself like the grader does**: open a terminal (*File > New > Terminal*; it starts in the course
#    folder) and run
#
#    ```
#    python -m autograder check 01
#    ```
#
#    It runs the public cases of every graded part on your `lib/deepkit` in a sandbox and prints a per-part
#    report (points and the reason for every lost point). Grading uses hidden cases drawn the same way from a
#    secret seed: an implementation that passes the public cases of a correct one passes the hidden ones too.
# 6. **Hand in**: `python -m autograder submit 01` writes `01_softmax-submission.zip` (the exercise notebook and
#    your `lib/deepkit/*.py`); upload it where your instructor says.
#
# Your work lives in `lib/deepkit/` and in the exercise notebooks (written answers).
#
# ## Commands (in the course folder)
#
# | command | what it does |
# |---|---|
# | `make lab` | opens JupyterLab on this page (creates `.venv` on first use) |
# | `make update` | brings new topics and fixes into your folder, keeping your work |
# | `python -m autograder check NN` | your score on topic NN, with reasons |
# | `python -m autograder submit NN` | the zip to hand in |

# %% [markdown] tags=["repository-only"]
# In the course repository `reference/` and `solutions/` hold the answers: reading them spoils the exercise.
# `make build` (for instructors) regenerates `lib/` and `exercises/` from them; it refuses to overwrite files you
# have changed and not committed. `make test` runs the repository's own test suite; instructors grade with
# `make grade` (docs/INSTRUCTORS.md).

# %% [markdown]
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
