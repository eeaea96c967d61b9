# The two commands a newcomer needs. Everything else is `cargo xtask help`.
.PHONY: run test bootstrap

# Install what is missing, build, and serve the UI and API on http://127.0.0.1:3000
# with SQLite under ./data.
run: bootstrap
	cargo xtask run

# Install what is missing, then every check CI runs.
test: bootstrap
	cargo xtask test

bootstrap:
	scripts/bootstrap
