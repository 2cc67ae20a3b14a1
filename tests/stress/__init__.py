"""Model-based stress tests: many clients, one mailbox, every response checked."""
