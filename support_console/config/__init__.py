"""Settings: the one typed configuration, built once from flags, environment and the config file."""
