"""losses of pinet-tf."""
