"""serving of pinet-tf."""
