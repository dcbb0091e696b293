"""Across users: circles, relations, sharing of signed units, the shared feed and search,
reciprocity. Everything here reads and writes the master DB only, except remixing (which
writes the actor's own vault) and publishing (which reads the actor's own vault)."""
