"""Evaluation: batched generation, scoring with each task's scorer, token counts, reports and plots."""
