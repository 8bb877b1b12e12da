# The two commands a newcomer needs: `make run` and `make test`. Everything runs from this checkout:
# a private PostgreSQL under .data/postgres (installed with apt-get when missing and we are root).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
DEVDB := ./infra/devdb/devdb.sh
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: db db-stop run cluster test lint bench build browser

## db: start (or find running) the private PostgreSQL; the last line is DATABASE_URL=...
db:
	@$(DEVDB) start

## db-stop: stop it
db-stop:
	@$(DEVDB) stop

build:
	go build -o commerce ./cmd/commerce

## run: database, migrations, demo data, then serve on :8080
run: build
	@db=$$($(DEVDB) start | tail -1); export "$$db"; \
	./commerce migrate && ./commerce seed && exec ./commerce serve

## cluster: database, then kfake and four `commerce serve` split by roles (api,saga x2 on :8080
## and :8081; relay,projector x2 with operations on :9090 and :9091); Ctrl-C stops them all
cluster:
	@db=$$($(DEVDB) start | tail -1); export "$$db"; \
	exec ./infra/devcluster/cluster.sh

## browser: Debian's Chromium, which the console's browser test drives (apt-get when missing and we are root)
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium with apt-get" >&2; \
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2; fi

## test: database, browser, go vet, every test with the race detector, then 5 s of fuzzing the HTTP API
test: browser
	@db=$$($(DEVDB) start | tail -1); export "$$db"; \
	go vet ./... && go test -race -count=1 -timeout 25m ./... && \
	go test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime 5s ./httpapi/

## lint: gofmt, go vet, staticcheck and the dependency direction (README: Dependency direction)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...
	go run ./infra/depcheck

## bench: the benchmarks whose figures are in the README (about 30 minutes)
bench: build
	@db=$$($(DEVDB) start | tail -1); export "$$db"; \
	go test -run '^$$' -bench . -benchtime 10s -timeout 30m ./infra/eventstore/postgres/ && \
	go test -run '^$$' -bench 'LoadProduct|FulfilmentHotProduct' -timeout 30m ./commands/ && \
	go test -run '^$$' -bench Rebuild -benchtime 1x -timeout 30m ./projections/ && \
	./commerce bench
