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

// servers are the commands of this binary that are not client commands;
// they parse their own flags.
func servers() []cli.External {
	code := func(err error) int {
		switch {
		case err == nil, errors.Is(err, errHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintln(os.Stderr, "hoard:", err)
		return 1
	}
	return []cli.External{
		{Name: "serve", Help: "run the service (hoard serve --help lists its flags)", Run: func(ctx context.Context, args []string) int {
			return code(serve(ctx, args))
		}},
		{Name: "migrate", Help: "apply metadata schema migrations, or copy SQLite to PostgreSQL (hoard migrate --help)", Run: func(ctx context.Context, args []string) int {
			return code(migrateCmd(ctx, args, os.Stdout))
		}},
		{Name: "stop-all", Help: "stop every database engine of a data directory, which serve leaves running (hoard stop-all --help)", Run: func(ctx context.Context, args []string) int {
			return code(stopAllCmd(ctx, args, os.Stdout))
		}},
		{Name: "store-backup", Help: "copy hoard's own SQLite store and secret.key while it runs (hoard store-backup --help)", Run: func(ctx context.Context, args []string) int {
			return code(storeBackupCmd(ctx, args, os.Stdout))
		}},
		{Name: "version", Help: "print the version", Run: func(context.Context, []string) int {
			fmt.Println(version)
			return 0
		}},
	}
}

func main() {
	ctx := context.Background()
	if len(os.Args) > 1 {
		// The servers run as they always did, without the client's
		// signal handling: serve handles its own signals.
		for _, x := range servers() {
			if os.Args[1] == x.Name {
				os.Exit(x.Run(ctx, os.Args[2:]))
			}
		}
		if os.Args[1] == "--version" {
			fmt.Println(version)
			return
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{}, servers()...)
	stop()
	os.Exit(code)
}
