"""The ``ccmgr-watch`` command line: thin modules, one per command group."""
