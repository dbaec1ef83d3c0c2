"""`gankit lab`: a local web page that trains 2-D (and 1-D) toy GANs live with gankit's trainers.

The package, one concern a module:
- `engine`: the lab session; its panels stepped by D step, G step, iteration or epoch on
  the serial run's path; settings that apply at once or reset; "save as run" and opening a
  run folder;
- `panels`: the adapter over gankit's trainers (a serial trainer per panel, or the batched
  trainer for several seeds);
- `views`: what a frame shows, computed from a panel's G and D (D's landscape, G's warp of a
  latent grid, gradient arrows on the fakes, the games' cost curves);
- `server`: the ASGI app (Starlette, served by uvicorn) with the token and origin checks and
  the websocket protocol;
- `static/`: the page (plain JavaScript and canvas, no build step, nothing from the internet).

Importing this package imports no torch and no web server (the CLI builds its parser fast).
"""
