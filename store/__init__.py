"""ccmgr-watch's storage layer: SQLite with migrations, repositories and the one writer."""
