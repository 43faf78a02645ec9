"""Releases: installed app versions. ``render`` is the pure core (no Django), the rest is the shell."""
