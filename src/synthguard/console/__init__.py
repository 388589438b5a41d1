"""The operator web console and the public pages (server-rendered: Jinja2, a little htmx).

- `public.public_router`: the pages anyone may open (report form, follow a report by
  receipt code, check a file, policies, the processing flow, filing information).
- `pages.console_router` (under /console): operators sign in (`operators.py`, roles of
  `governance.auth.Role`) and work the queues, registries, exports and switches.
- `app.create_console_app(config, database)`: both routers plus the governance,
  identity and consent APIs on one FastAPI app (what the tests serve; the lead mounts
  the routers into the gateway).

What the routers read from `request.app.state` is described in `services.py`.
Submodules are imported directly: the store registers `models` without the web stack.
"""
