"""The host's own plugins: registered with the same hooks a third-party plugin uses."""
