"""Evaluation: datasets, deterministic metrics, suites, reports, gates and run comparison."""
