"""The PostgreSQL store: the same functions as the SQLite store's, over psycopg 3.

Imported only when a ``postgresql://`` URL is used (psycopg is the optional extra
``ccmgr-watch[postgresql]``). See docs/postgresql.md.
"""
