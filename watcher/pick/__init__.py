"""``ccmgr-watch pick``: the interactive picker (keys, screen, search worker, going to a session).

Pure modules: :mod:`watcher.pick.keys` (bytes to keys), :mod:`watcher.pick.view` (state to
screen lines). I/O: :mod:`watcher.pick.terminal` (the tty), :mod:`watcher.pick.worker` (searches
off the input loop), :mod:`watcher.pick.go` (switching, attaching, reviving), and
:mod:`watcher.pick.app` (the loop that ties them together). docs/picker.md explains the choices.
"""
