"""Pictures: sample grids and GIFs, the games figure, training curves, the time-to-quality plot."""
