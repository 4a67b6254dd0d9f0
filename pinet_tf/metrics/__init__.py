"""metrics of pinet-tf."""
