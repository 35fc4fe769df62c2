"""The one exception type for mistakes in the user's input."""


class UserError(Exception):
    """Bad input from the user. The CLI prints it as one line, without a traceback.

    The message names the problem and the fix.
    """
