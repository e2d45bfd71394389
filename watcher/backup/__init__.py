"""Backups: manifest archives (full and incremental), encryption, rotation, restore, schedule."""
