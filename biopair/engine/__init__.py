"""The engine: a pair of endpoints, its schedule, its run loop and its trace."""
