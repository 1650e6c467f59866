"""The runtime: channels, scheduler, configuration, command line and the wiring."""
