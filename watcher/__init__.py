"""ccmgr-watch: records every tmux session's life through tmux control mode."""

__version__ = "0.1.0"
