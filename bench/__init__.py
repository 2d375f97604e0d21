"""The benchmark harness (`make bench`, `selfcare bench`): speed measured side by side with a
baseline in the same run, never asserted in unit tests. Recorded results live in bench/results/."""
