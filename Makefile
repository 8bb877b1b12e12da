# The two commands a newcomer needs: `make run` and `make test`. Everything runs from this checkout:
# a private PostgreSQL under .data/postgres (installed with apt-get when missing and we are root).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
DEVDB := ./infra/devdb/devdb.sh
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: db db-stop run test lint bench build

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

## test: database, go vet, then every test with the race detector
test:
	@db=$$($(DEVDB) start | tail -1); export "$$db"; \
	go vet ./... && go test -race -count=1 -timeout 25m ./...

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
