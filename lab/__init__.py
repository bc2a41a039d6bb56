"""The dockwright VM lab: real Debian Docker hosts under qemu, for tests, CI and the main job."""
