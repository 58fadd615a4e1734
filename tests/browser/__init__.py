"""Real-browser tests of the snippet. (A package, so that its conftest does not shadow the root one,
which other test folders import as `conftest`.)"""
