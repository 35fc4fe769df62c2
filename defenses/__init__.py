"""Built-in defenses; importing this package registers them."""
