"""Use cases, one per command: load -> decide -> commit, in one unit of work."""
