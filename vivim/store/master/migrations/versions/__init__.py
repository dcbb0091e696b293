"""Master DB revisions, oldest first by their numeric prefix. Never edit a released one."""
