"""Dashboard tests: real `webleads serve` on a `webleads demo` database, real headless Chromium. (A
package, so that its conftest does not shadow the root one, which test folders import as `conftest`.)"""
