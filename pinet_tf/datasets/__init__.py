"""datasets of pinet-tf."""
