"""The commands a scheduled run is made of, each ``dockwright SUBCOMMAND`` and a checkout's
top-level script: drift (detection and correction) and diagnose (the fleet's networking)."""
