"""The console's pages, one module per part of the Forum's work."""
