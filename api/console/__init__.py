"""The web console: one page at /console that calls the gateway's own JSON routes with the caller's key."""
