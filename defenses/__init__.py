"""Built-in defenses, one module each: the defense registry imports every module here."""
