"""The benchmark harness (`make bench`, run from a checkout and never installed): speed measured
side by side with a baseline in the same run, never asserted in unit tests. Recorded results live
in bench/results/."""
