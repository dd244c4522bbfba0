"""The bundled sample of the finews site and the loopback server that serves it (see README, "Demo")."""
