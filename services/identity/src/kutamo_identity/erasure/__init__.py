"""Erasure of a user or a whole tenant by an operator, announced downstream as `user-erased`."""
