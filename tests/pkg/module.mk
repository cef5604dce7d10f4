# Packaging tests (issue 13): make install into a DESTDIR, the Debian
# package (build, lintian, dpkg -x, the stack run from the extracted
# files), --version everywhere, the man pages, backup and restore.
test-pkg: build-all man
	TANDEM_BIN_DIR=$(BUILD) tests/pkg/run.sh

.PHONY: test-pkg
