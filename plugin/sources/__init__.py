"""Sources: what goes into each platform's image, found and checked before anything is built."""
