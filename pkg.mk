# Packaging (issue 13): the version, the manual pages, make install /
# uninstall and the Debian package. Included from the top Makefile.
#
#   make install [PREFIX=/usr/local] [DESTDIR=...]   the files listed in
#        docs/OPERATIONS.md ("Installed files"); /etc/tandem/tandem.env only
#        when it does not exist yet
#   make uninstall                                   the same files again
#        (tandem.env only while it is still the unedited example)
#   make man                                         build/man/*.1, *.8, *.7
#   make deb                                         build/deb/*.deb (dpkg-buildpackage)

# --- version: VERSION is the one source -------------------------------------
TANDEM_VERSION := $(shell cat VERSION)

$(BUILD)/shared/tnd_version.o: PROJECT_CFLAGS += -DTND_VERSION='"$(TANDEM_VERSION)"'
$(BUILD)/shared/tnd_version.o: VERSION

# --- manual pages -------------------------------------------------------------
# A program's page is man/<program>.<section>.in with its OPTIONS and
# ENVIRONMENT printed by the program itself (--man, from the table --help
# prints): section 8 for the daemons, 1 for the user command tandem-token.
MAN_PAGES := $(BUILD)/man/tandem-rest.8 $(BUILD)/man/tandem-notifier.8 $(BUILD)/man/tandem-token.1 \
	$(BUILD)/man/tandem.7

$(BUILD)/man/%.8: man/%.8.in $(BUILD)/% VERSION man/gen.sh
	@mkdir -p $(dir $@)
	man/gen.sh $< $(TANDEM_VERSION) $(BUILD)/$* >$@.tmp && mv $@.tmp $@

$(BUILD)/man/%.1: man/%.1.in $(BUILD)/% VERSION man/gen.sh
	@mkdir -p $(dir $@)
	man/gen.sh $< $(TANDEM_VERSION) $(BUILD)/$* >$@.tmp && mv $@.tmp $@

$(BUILD)/man/%.7: man/%.7.in VERSION man/gen.sh
	@mkdir -p $(dir $@)
	man/gen.sh $< $(TANDEM_VERSION) >$@.tmp && mv $@.tmp $@

man: $(MAN_PAGES)

# --- install ------------------------------------------------------------------
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
# The units read /etc/tandem/tandem.env whatever the prefix.
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL ?= install

INSTALL_PROGRAMS := $(BUILD)/tandem-rest $(BUILD)/tandem-notifier $(BUILD)/tandem-token
UNITS := tandem-rest@.service tandem-notifier@.service tandem.target
NGINX_FILES := nginx/production.conf.example nginx/tandem-maps.conf nginx/tandem-errors.conf

# The units name /usr/local/bin and /etc: rewritten for this install.
UNIT_SED := -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/etc/tandem/|$(SYSCONFDIR)/tandem/|g'

install: $(INSTALL_PROGRAMS) $(MAN_PAGES)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(SYSCONFDIR)/tandem $(DESTDIR)$(DATADIR)/tandem/nginx \
		$(DESTDIR)$(DATADIR)/tandem/web $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(INSTALL_PROGRAMS) $(DESTDIR)$(BINDIR)/
	for u in $(UNITS); do \
		sed $(UNIT_SED) deploy/systemd/$$u >$(BUILD)/$$u.install-tmp && \
		$(INSTALL) -m 0644 $(BUILD)/$$u.install-tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
		rm -f $(BUILD)/$$u.install-tmp || exit 1; \
	done
	$(INSTALL) -m 0644 deploy/sysusers.d/tandem.conf $(DESTDIR)$(SYSUSERSDIR)/tandem.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/tandem/tandem.env ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/tandem/tandem.env"; \
	else \
		echo "$(INSTALL) -m 0600 deploy/tandem.env.example $(DESTDIR)$(SYSCONFDIR)/tandem/tandem.env"; \
		$(INSTALL) -m 0600 deploy/tandem.env.example $(DESTDIR)$(SYSCONFDIR)/tandem/tandem.env; \
	fi
	$(INSTALL) -m 0644 $(NGINX_FILES) $(DESTDIR)$(DATADIR)/tandem/nginx/
	$(INSTALL) -m 0644 web/tandem.js $(DESTDIR)$(DATADIR)/tandem/web/tandem.js
	$(INSTALL) -m 0644 $(BUILD)/man/tandem-token.1 $(DESTDIR)$(MANDIR)/man1/tandem-token.1
	$(INSTALL) -m 0644 $(BUILD)/man/tandem.7 $(DESTDIR)$(MANDIR)/man7/tandem.7
	$(INSTALL) -m 0644 $(BUILD)/man/tandem-rest.8 $(BUILD)/man/tandem-notifier.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(INSTALL_PROGRAMS))) \
		$(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(UNITS)) \
		$(DESTDIR)$(SYSUSERSDIR)/tandem.conf \
		$(addprefix $(DESTDIR)$(DATADIR)/tandem/nginx/,$(notdir $(NGINX_FILES))) \
		$(DESTDIR)$(DATADIR)/tandem/web/tandem.js \
		$(DESTDIR)$(MANDIR)/man1/tandem-token.1 \
		$(DESTDIR)$(MANDIR)/man7/tandem.7 \
		$(DESTDIR)$(MANDIR)/man8/tandem-rest.8 $(DESTDIR)$(MANDIR)/man8/tandem-notifier.8
	@f=$(DESTDIR)$(SYSCONFDIR)/tandem/tandem.env; \
	if [ -e $$f ] && cmp -s $$f deploy/tandem.env.example; then rm -f $$f; \
	elif [ -e $$f ]; then echo "keeping $$f (edited)"; fi
	-rmdir $(DESTDIR)$(DATADIR)/tandem/nginx $(DESTDIR)$(DATADIR)/tandem/web \
		$(DESTDIR)$(DATADIR)/tandem $(DESTDIR)$(SYSCONFDIR)/tandem 2>/dev/null

# --- Debian package -------------------------------------------------------------
# Built from a copy of this tree (so debian/rules clean never touches
# build/), with dpkg-buildpackage -us -uc -b; the .debs land in DEB_OUT.
DEB_OUT ?= build/deb

deb:
	scripts/make-deb.sh $(DEB_OUT)

.PHONY: man install uninstall deb
