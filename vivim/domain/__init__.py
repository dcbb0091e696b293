"""Pure values and rules. Imports only the standard library; no I/O."""
