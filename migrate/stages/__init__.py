"""Pipeline stages: each takes one immutable value and returns the next."""
