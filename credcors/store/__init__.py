"""This process's snapshot: read the rows, compile, poll the revision, apply deltas, swap one reference."""
