// Runs once before the test suite: builds what the tests need and is missing.
// Model building joins here when the model builder lands (it is idempotent and skips what exists).
process.exit(0);
