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

# Every figure is a ratio against a baseline measured in the same run; see
# docs/benchmarks.md. Takes about 10 minutes on 2 cores (filling the template
# pool of 20 for BenchmarkConcurrentCreateTemplates alone takes 1-1.5 min).
bench:
	go test -run '^$$' -bench 'BenchmarkMariaDBCreateRestart' -benchtime 5x -timeout 30m ./test/e2e/
	go test -run '^$$' -bench 'BenchmarkPostgreSQLCreateRestart|BenchmarkRedisCreateRestart' -benchtime 5x -timeout 30m ./test/e2e/
	go test -run '^$$' -bench 'BenchmarkTemplateCreate' -benchtime 5x -timeout 30m ./test/e2e/
	go test -run '^$$' -bench 'BenchmarkWarmPoolCreate' -benchtime 5x -timeout 30m ./test/e2e/
	go test -run '^$$' -bench 'BenchmarkMariaDBBackupRestore' -benchtime 3x -timeout 30m ./test/e2e/
	go test -run '^$$' -bench 'BenchmarkAPI|BenchmarkConcurrentCreate|BenchmarkMemory' -benchtime 1x -timeout 30m ./test/e2e/
	go test -run '^$$' -bench 'BenchmarkHAFailover' -benchtime 1x -timeout 30m ./test/e2e/
	go test -run '^$$' -bench . -benchtime 5x -timeout 30m ./internal/store/sqlite/
	go test -run '^$$' -bench . -benchtime 2000x -timeout 30m ./internal/store/postgres/
