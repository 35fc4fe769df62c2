"""Built-in tasks: the task registry imports every module here."""
