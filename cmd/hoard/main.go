// Command hoard is the Cloud Databases service: `hoard serve` runs the API,
// the built-in identity service and the task runner in one process.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hoard-db/hoard/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func usage() {
	fmt.Fprintf(os.Stderr, `hoard %s: a Cloud Databases (Trove v1.0 API) service

Usage:
  hoard serve [flags]     run the service (see hoard serve --help)
  hoard migrate [flags]   apply metadata schema migrations, or copy SQLite to PostgreSQL (see hoard migrate --help)
  hoard version           print the version

Client commands (log in with OS_* variables or --os-cloud, as the OpenStack CLI):
  hoard login | instance | db | user | root | flavor | datastore | backup | config
  (hoard instance --help lists the instance commands, and so on)
`, version)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "migrate":
		err = migrateCmd(ctx, os.Args[2:], os.Stdout)
	case "version", "--version":
		fmt.Println(version)
	case "help", "-h", "--help":
		usage()
		cli.Usage(os.Stderr)
	default:
		if cli.IsCommand(os.Args[1]) {
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			code := cli.Main(ctx, os.Args[1:], cli.Env{})
			stop()
			os.Exit(code)
		}
		fmt.Fprintf(os.Stderr, "hoard: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "hoard:", err)
		os.Exit(1)
	}
}
