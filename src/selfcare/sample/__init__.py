"""Sample estates: a realistic, deterministic generator of the operator's and HR's export files
(`selfcare generate`), used by the demo, the tests and the benchmark."""
