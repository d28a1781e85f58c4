# leadlist: build, test and run the nginx module against Debian's nginx.
#
#   make              build/ngx_http_leadlist_module.so
#   make test         dependencies, build, PostgreSQL, migrations, prove
#   make run          the same stack with demo data on 127.0.0.1:8080
#   make deb          build/deb/libnginx-mod-http-leadlist_<version>_<arch>.deb
#   make test-valgrind / test-asan / fuzz / clean

SHELL      := /bin/bash
NGX_SRC    ?= /usr/share/nginx/src
BUILD      := $(CURDIR)/build
NGX_BUILD  := $(BUILD)/nginx
MODULE     := $(BUILD)/ngx_http_leadlist_module.so
PG_DIR     := $(BUILD)/pg
ASAN_BUILD := $(BUILD)/nginx-asan
ASAN_MODULE := $(BUILD)/asan/ngx_http_leadlist_module.so
SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
PROVE      ?= prove
T          ?= t
# the module's own tests, for the slow sanitizer runs
MODULE_T   ?= $(sort $(wildcard t/0*.t))

# Debian's own flags; warnings-as-errors come from nginx's auto/cc and
# from config, so that configure's feature tests are not affected
CC_OPT     := -g -O2 -fstack-protector-strong -Wformat \
              -Werror=format-security -fPIC -D_FORTIFY_SOURCE=2
LD_OPT     := -Wl,-z,relro -Wl,-z,now -fPIC

SOURCES    := config ngx_http_leadlist_module.c $(wildcard src/*.c src/*.h)

# the body validator and the request syntax checks: plain C, built alone
# for the unit tests, the fuzzer and bench/validator.sh
VALIDATOR  := src/ngx_http_leadlist_body.c src/ngx_http_leadlist_rules.c \
              src/ngx_http_leadlist_scan.c src/ngx_http_leadlist_path.c \
              src/ngx_http_leadlist_arena.c src/ngx_http_leadlist_syntax.c
VALIDATOR_H := src/ngx_http_leadlist_body.h src/ngx_http_leadlist_rules.h \
              src/ngx_http_leadlist_scan.h src/ngx_http_leadlist_path.h \
              src/ngx_http_leadlist_arena.h src/ngx_http_leadlist_syntax.h

# The validator's arena (src/ngx_http_leadlist_arena.c) stays on under the
# sanitizers here, so that unit tests and fuzzing run the code nginx runs;
# make test-asan leaves it off, so that jansson's trees are checked too.
UNIT_CC    := cc -std=gnu99 -Wall -Wextra -Werror -O1 -g \
              -fsanitize=address,undefined -fno-omit-frame-pointer \
              -DNGX_HTTP_LEADLIST_ARENA=1 -Isrc

# prometheus: promtool checks the metrics format (t/092-metrics.t)
DEB_PKGS   := nginx nginx-dev libjansson-dev libpq-dev postgresql \
              libtest-base-perl libtext-diff-perl valgrind curl prometheus \
              debhelper dpkg-dev build-essential lintian
BENCH_PKGS := wrk postgresql-contrib pgbouncer

.PHONY: all deps test run unit test-unit test-valgrind test-asan fuzz \
        bench pg-start pg-stop clean deb openapi-tools openapi-lint

all: $(MODULE)

# Debian's nginx-dev ships headers and configure only: configure a copy
# of it with Debian's own flags, so that the module's signature matches
# the packaged binary, and build nothing but the dynamic module.

# $(1): build directory; $(2): extra flags for the module's sources
define configure_nginx
	@test -d $(NGX_SRC) || { echo "missing $(NGX_SRC): make deps" >&2; \
	    exit 1; }
	rm -rf $(1) && mkdir -p $(BUILD) && cp -r $(NGX_SRC) $(1)
	cd $(1) && . ./conf_flags && LEADLIST_EXTRA_FLAGS='$(2)' \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='$(CC_OPT)' --with-ld-opt='$(LD_OPT)' \
	    --add-dynamic-module=$(CURDIR) > configure.log \
	    || { tail -30 configure.log; exit 1; }
endef

$(NGX_BUILD)/objs/Makefile: config $(NGX_SRC)/conf_flags
	$(call configure_nginx,$(NGX_BUILD),)

$(MODULE): $(NGX_BUILD)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	cp $(NGX_BUILD)/objs/ngx_http_leadlist_module.so $@.tmp
	mv $@.tmp $@

# the same module with AddressSanitizer and UndefinedBehaviorSanitizer,
# for Debian's uninstrumented nginx with the sanitizer runtimes preloaded

$(ASAN_BUILD)/objs/Makefile: config $(NGX_SRC)/conf_flags
	$(call configure_nginx,$(ASAN_BUILD),$(SAN_FLAGS))

$(ASAN_MODULE): $(ASAN_BUILD)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(ASAN_BUILD) -f objs/Makefile modules
	mkdir -p $(dir $@)
	cp $(ASAN_BUILD)/objs/ngx_http_leadlist_module.so $@.tmp
	mv $@.tmp $@

deps:
	@util/deps.sh $(DEB_PKGS)

# make deb: the Debian package, built the way Debian builds its own
# libnginx-mod-* (debian/rules: dh --with nginx, nginx-dev's nginx_mod
# build system over config), from a copy of this tree in build/deb/src,
# so that nothing of build/ goes in and dpkg-buildpackage writes its
# .deb into build/deb rather than beside the checkout.
DEB_DIR    := $(BUILD)/deb

deb: deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	tar -c --exclude=./build --exclude=./.git --exclude='./t/servroot*' . \
	    | tar -x -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	@cd $(DEB_DIR) && echo "leadlist: $(DEB_DIR)/$$(ls \
	    libnginx-mod-http-leadlist_*.deb)"

# the OpenAPI tools, pinned, from the npm registry into build/npm, with
# the machine's Node.js (@redocly/cli 2.77 needs 20.19 or later, which
# Debian 12's own nodejs is not): @redocly/cli lints openapi.yaml, ajv
# (JSON Schema 2020-12, as OpenAPI 3.1 uses) checks t/091's answers
NPM_DIR    := $(BUILD)/npm
NPM_TOOLS  := @redocly/cli@2.77.0 ajv@8.20.0
NPM_STAMP  := $(NPM_DIR)/.installed-$(shell echo $(NPM_TOOLS) | md5sum | cut -c1-12)
# the example rules are off: t/091 checks every example itself, and the
# request examples of error answers break the schemas on purpose
REDOCLY_LINT := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
              $(NPM_DIR)/node_modules/.bin/redocly lint \
              --skip-rule no-invalid-media-type-examples \
              --skip-rule no-invalid-parameter-examples

openapi-tools: $(NPM_STAMP)

$(NPM_STAMP):
	@v=$$(node -v 2>/dev/null | sed 's/^v//'); \
	if [ -z "$$v" ] || ! command -v npm >/dev/null \
	   || [ "$$(printf '%s\n' 20.19.0 "$$v" | sort -V | head -1)" != 20.19.0 ]; \
	then \
	    echo "leadlist: the OpenAPI tools need Node.js 20.19 or later" \
	         "and npm (node: $${v:-none})" >&2; \
	    exit 1; \
	fi
	rm -rf $(NPM_DIR) && mkdir -p $(NPM_DIR)
	echo '{"private": true}' > $(NPM_DIR)/package.json
	cd $(NPM_DIR) && npm install --no-audit --no-fund --save-exact \
	    --loglevel=error $(NPM_TOOLS)
	touch $@

openapi-lint: $(NPM_STAMP)
	$(REDOCLY_LINT) openapi.yaml

pg-start:
	util/pg.sh start $(PG_DIR)

pg-stop:
	util/pg.sh stop $(PG_DIR)

$(BUILD)/unit/%: t/unit/%.c $(VALIDATOR) $(VALIDATOR_H) fuzz/fuzz_body.c
	@mkdir -p $(dir $@)
	$(UNIT_CC) $< $(VALIDATOR) -ljansson -o $@

# the header parsers alone: no jansson, nothing else linked
$(BUILD)/unit/test_syntax: t/unit/test_syntax.c src/ngx_http_leadlist_syntax.c \
              src/ngx_http_leadlist_syntax.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $< src/ngx_http_leadlist_syntax.c -o $@

test-unit: $(BUILD)/unit/test_body $(BUILD)/unit/replay_corpus \
           $(BUILD)/unit/test_syntax
	$(BUILD)/unit/test_body
	$(BUILD)/unit/test_syntax
	$(BUILD)/unit/replay_corpus fuzz/corpus

# the adaptive concurrency limit against simulated databases (about 10 s)
.PHONY: test-limit
test-unit: test-limit

$(BUILD)/unit/test_limit: t/unit/test_limit.c src/ngx_http_leadlist_limit.c \
                          src/ngx_http_leadlist_limit.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $< src/ngx_http_leadlist_limit.c -lm -o $@

test-limit: $(BUILD)/unit/test_limit
	$(BUILD)/unit/test_limit

# the TAP harness these unit tests include
$(BUILD)/unit/test_body $(BUILD)/unit/test_syntax $(BUILD)/unit/test_limit: \
    t/unit/ngx_http_leadlist_tap.h

test: deps
	util/lint.sh
	$(MAKE) openapi-tools
	$(MAKE) all test-unit
	util/test.sh $(T)

test-valgrind: deps
	$(MAKE) all
	TEST_NGINX_USE_VALGRIND=1 util/test.sh $(MODULE_T)

# make fuzz [FUZZ_TIME=seconds]: libFuzzer on the body validator alone,
# seeded from fuzz/corpus; new finds go to build/fuzz/corpus
FUZZ_TIME  ?= 300

fuzz:
	@util/deps.sh clang libclang-rt-14-dev
	mkdir -p $(BUILD)/fuzz/corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined \
	    -DNGX_HTTP_LEADLIST_ARENA=1 -Isrc \
	    fuzz/fuzz_body.c $(VALIDATOR) -ljansson \
	    -o $(BUILD)/fuzz/fuzz_body
	$(BUILD)/fuzz/fuzz_body -max_total_time=$(FUZZ_TIME) \
	    -rss_limit_mb=4096 -dict=fuzz/body.dict \
	    $(BUILD)/fuzz/corpus fuzz/corpus

test-asan: deps
	$(MAKE) $(ASAN_MODULE)
	util/test-asan.sh $(ASAN_MODULE) $(MODULE_T)

bench: deps
	@util/deps.sh $(BENCH_PKGS)
	$(MAKE) all
	bench/run.sh

run: deps
	$(MAKE) all
	util/run.sh

clean:
	-util/pg.sh destroy $(PG_DIR) 2>/dev/null
	rm -rf $(BUILD) t/servroot*
