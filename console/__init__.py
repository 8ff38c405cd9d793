"""The web console: the Forum's work in a browser, a client of the gateway only."""
