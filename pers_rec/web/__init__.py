"""``pers-rec serve``: a local web app to listen, judge and watch the model learn (Starlette + uvicorn).

- :mod:`.store`: the judgements, in SQLite, each committed before its reply is sent;
- :mod:`.state`: the library, its ranking and embeddings, the ask-me queue and the background jobs;
- :mod:`.app`: the HTTP routes and their security (loopback by default, a token off it, CSRF, ids not paths);
- ``static/``: the page (plain HTML, CSS and JavaScript, served from the package: no build step, no CDN).
"""
