# The lab terminal of `make lab` (course/jupyter_server_config.py): your usual bash set-up first, then the course's
# virtualenv first on PATH (DEEPKIT_VENV, set by make lab), so `python -m autograder check NN` uses it.
[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"
if [ -n "$DEEPKIT_VENV" ] && [ -f "$DEEPKIT_VENV/bin/activate" ]; then
  . "$DEEPKIT_VENV/bin/activate"
fi
