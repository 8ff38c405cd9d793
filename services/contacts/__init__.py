"""The contact directory: States and their ATT status, enforcement authorities and
contacts (ToR rule 20)."""
