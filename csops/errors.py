"""Errors a user can cause and fix: the CLI prints their message as one line (no traceback) and exits non-zero.
Every message says what happened and what to do."""


class UserError(RuntimeError):
    """Something the user can fix; the message is the whole story, including the fix."""
