"""webleads-tracker: self-hosted lead attribution (snippet, collector, analytics).

This package is the command line and the composition root: the top layer, importing the dashboard, the
analytics and the collector, never imported by them (pyproject.toml: [tool.importlinter]).

- cli.py: the `webleads` group and main(); lazy.py: commands imported only when they run;
- env.py: what a command works with (Env) and the --db option; channel.py: a command sent to the running
  collector that holds the database, its output streamed back; progress.py: progress of long work;
- serve.py: `webleads serve`; app.py: the web application assembled from the collector's routes, the API
  and the dashboard;
- sites.py (site, snippet, token), reports.py (report, import, export, demo), operations.py (purge, backup,
  restore, migrate, privacy-notice, doctor), links.py, backoffice.py (cost, outcome), board.py (report board).
"""

__version__ = "0.1.0"
