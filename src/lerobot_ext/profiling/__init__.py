"""``--profile``: where each training step's time goes, and what to change (built-in plugin ``profiler``)."""
