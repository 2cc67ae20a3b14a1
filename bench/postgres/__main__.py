"""PostgreSQL next to SQLite: large mailbox and client mix (see run.py)."""
from bench.postgres.run import main

main()
