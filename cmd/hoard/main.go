// Command hoard is the Cloud Databases service: `hoard serve` runs the API,
// the built-in identity service and the task runner in one process.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func usage() {
	fmt.Fprintf(os.Stderr, `hoard %s: a Cloud Databases (Trove v1.0 API) service

Usage:
  hoard serve [flags]     run the service (see hoard serve --help)
  hoard version           print the version
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
	case "version", "--version":
		fmt.Println(version)
	case "help", "-h", "--help":
		usage()
	default:
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
