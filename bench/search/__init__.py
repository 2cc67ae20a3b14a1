"""SEARCH benchmark: pyimapd against Dovecot on one generated mailbox (see run.py)."""
