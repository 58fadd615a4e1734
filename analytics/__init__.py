"""Analytics over the events: sessions, channels, attribution, funnels, leads.

- sessions.py: the derived tables `sessions` and `conversions`, built from event_log and kept up to date
  per visitor (prepare(), rebuild(), open_dataset() for Parquet exports);
- referrers.py, channels.py, data/: referrer classification and GA4's default channel group;
- reports.py: attribution(), funnel(), leads(): the functions the CLI, the API and the dashboard call;
- markov.py: the absorbing-chain solve of the Markov model;
- formats.py: table, CSV (formula cells neutralised) and JSON output;
- transfer.py: import files, Parquet export; demo.py: synthetic traffic;
- api.py: the /api/v1 routes (the commands are in the command line, cli/reports.py);
- sql/: every query, in files named after what runs them.
"""
