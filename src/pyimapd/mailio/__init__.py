"""Moving mail in and out of the store: mbox and Maildir import, Maildir export."""
