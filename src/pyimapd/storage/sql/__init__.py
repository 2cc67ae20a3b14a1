"""The SQL core both database backends run (see :mod:`.core`)."""
