"""Two-way sync: the conflict policies checked at load, and the check on conflicts held for a person too long."""
