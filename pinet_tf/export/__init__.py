"""export of pinet-tf."""
