"""Local tooling: the embedded servers and the process supervisor behind ``make run``
and the test fixtures."""
