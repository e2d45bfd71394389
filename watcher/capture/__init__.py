"""Capture: tmux control mode to lifecycle events to rows.

See docs/architecture-capture.md for the module map.
"""
