"""Small shared helpers: device, seeding, atomic I/O, progress."""
