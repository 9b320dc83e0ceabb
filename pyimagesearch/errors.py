"""The one exception type the scripts turn into a one-line message."""


class UserError(Exception):
    """Something the user can fix: the message says what is wrong and how."""
