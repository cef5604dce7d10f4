/*
 * tnd_version: the version of Tandem, from one place. The VERSION file at
 * the top of the tree is the only source: the Makefile compiles it into
 * tnd_version.c, and debian/changelog and package.json must carry the same
 * text (tests/pkg checks that they do; scripts/set-version.sh changes all).
 */
#ifndef TND_VERSION_H
#define TND_VERSION_H

/* The version, e.g. "0.2.0". A static string: never free it. */
const char *tnd_version(void);

#endif
