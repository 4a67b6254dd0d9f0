"""training of pinet-tf."""
