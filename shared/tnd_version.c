/*
 * tnd_version: see tnd_version.h. TND_VERSION comes from the VERSION file
 * (pkg.mk passes it to this object only, so a new version rebuilds one file).
 */
#include "tnd_version.h"

#ifndef TND_VERSION
#error "TND_VERSION is not defined: build with make (pkg.mk passes it from VERSION)"
#endif

const char *tnd_version(void)
{
	return TND_VERSION;
}
