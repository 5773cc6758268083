"""Built-in plugin ``startup_warnings``: traps that train without an error, said once at the start,
each with its fix."""
