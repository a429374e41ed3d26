"""The benchmarks users can run, under one roof: `manage.py bench classifier | sets-reps | ingest |
pipeline | web`, one module per subject. Each prints a table and can save JSON; BENCHMARKS.md
holds their results with the machine they came from."""
