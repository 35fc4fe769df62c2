"""Built-in attacks, one module each: the attack registry imports every module here."""
