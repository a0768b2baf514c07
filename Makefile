.PHONY: run test build bench lint

run:
	bash scripts/run

test:
	bash scripts/test

build:
	go build -o bin/hoard ./cmd/hoard

lint:
	gofmt -l $$(git ls-files '*.go')
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench:
	go test -run '^$$' -bench . -benchtime 5x -timeout 30m ./test/e2e/ ./internal/store/sqlite/
