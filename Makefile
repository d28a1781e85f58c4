# leadlist: build, test and run the nginx module against Debian's nginx.
#
#   make              build/ngx_http_leadlist_module.so
#   make test         dependencies, build, PostgreSQL, migrations, prove
#   make run          the same stack with demo data on 127.0.0.1:8080
#   make test-valgrind / test-asan / fuzz / clean

SHELL      := /bin/bash
NGX_SRC    ?= /usr/share/nginx/src
BUILD      := $(CURDIR)/build
NGX_BUILD  := $(BUILD)/nginx
MODULE     := $(BUILD)/ngx_http_leadlist_module.so
PG_DIR     := $(BUILD)/pg
PROVE      ?= prove
T          ?= t

# Debian's own flags; warnings-as-errors come from nginx's auto/cc and
# from config, so that configure's feature tests are not affected
CC_OPT     := -g -O2 -fstack-protector-strong -Wformat \
              -Werror=format-security -fPIC -D_FORTIFY_SOURCE=2
LD_OPT     := -Wl,-z,relro -Wl,-z,now -fPIC

SOURCES    := config ngx_http_leadlist_module.c $(wildcard src/*.c src/*.h)

UNIT_CC    := cc -std=gnu99 -Wall -Wextra -Werror -O1 -g \
              -fsanitize=address,undefined -fno-omit-frame-pointer -Isrc

DEB_PKGS   := nginx nginx-dev libjansson-dev libpq-dev postgresql \
              libtest-base-perl libtext-diff-perl valgrind

.PHONY: all deps test run unit test-unit test-valgrind test-asan fuzz \
        pg-start pg-stop clean

all: $(MODULE)

# Debian's nginx-dev ships headers and configure only: configure a copy
# of it with Debian's own flags, so that the module's signature matches
# the packaged binary, and build nothing but the dynamic module.

$(NGX_BUILD)/objs/Makefile: config $(NGX_SRC)/conf_flags
	@test -d $(NGX_SRC) || { echo "missing $(NGX_SRC): make deps" >&2; \
	    exit 1; }
	rm -rf $(NGX_BUILD) && mkdir -p $(BUILD) && cp -r $(NGX_SRC) $(NGX_BUILD)
	cd $(NGX_BUILD) && . ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='$(CC_OPT)' --with-ld-opt='$(LD_OPT)' \
	    --add-dynamic-module=$(CURDIR) > configure.log \
	    || { tail -30 configure.log; exit 1; }

$(MODULE): $(NGX_BUILD)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	cp $(NGX_BUILD)/objs/ngx_http_leadlist_module.so $@

deps:
	@util/deps.sh $(DEB_PKGS)

pg-start:
	util/pg.sh start $(PG_DIR)

pg-stop:
	util/pg.sh stop $(PG_DIR)

$(BUILD)/unit/%: t/unit/%.c src/ngx_http_leadlist_body.c \
                 src/ngx_http_leadlist_body.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $< src/ngx_http_leadlist_body.c -ljansson -o $@

test-unit: $(BUILD)/unit/test_body $(BUILD)/unit/replay_corpus
	$(BUILD)/unit/test_body
	$(BUILD)/unit/replay_corpus fuzz/corpus

test: deps
	$(MAKE) all test-unit
	util/test.sh $(T)

test-valgrind: deps
	$(MAKE) all
	TEST_NGINX_USE_VALGRIND=1 util/test.sh $(T)

run: deps
	$(MAKE) all
	util/run.sh

clean:
	-util/pg.sh destroy $(PG_DIR) 2>/dev/null
	rm -rf $(BUILD) t/servroot*
