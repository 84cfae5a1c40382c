"""The embedded local AWS: moto plus our emulator layer, on loopback."""
