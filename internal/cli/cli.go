package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/safetext"
)

// Env is what a command may use from its surroundings. The zero value of
// each field selects the process's own (os.Stdout, os.Getenv, ...).
type Env struct {
	Stdout, Stderr io.Writer
	// Stdin is read for passwords given neither by flag nor by terminal.
	Stdin io.Reader
	// Getenv looks up OS_* variables.
	Getenv func(string) string
	// Now is the clock used for --wait's elapsed time.
	Now func() time.Time
	// PollInterval is the time between two GETs of --wait (default 500ms).
	PollInterval time.Duration
	// HTTPClient is used for every request (default: 60 s timeout).
	HTTPClient *http.Client
	// CloudsFiles, when set, replaces the clouds.yaml search path.
	CloudsFiles []string
}

func (e *Env) fill() {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Stdin == nil {
		e.Stdin = os.Stdin
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.PollInterval <= 0 {
		e.PollInterval = 500 * time.Millisecond
	}
	if e.HTTPClient == nil {
		e.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
}

// command is one leaf command such as "instance create".
type command struct {
	usage string // arguments and flags, after the command words
	help  string
	// flags adds the command's own flags to fs.
	flags func(fs *flag.FlagSet, o *opts)
	// nargs is the number of positional arguments required.
	nargs int
	run   func(ctx context.Context, c *call) error
}

// opts holds every flag value; each command reads only its own.
type opts struct {
	cloud   string
	output  string
	wait    bool
	timeout time.Duration

	flavor, datastore, dsVersion, volumeType, configuration string
	size                                                    int
	databases, users                                        string
	description, password, host, charset, collate           string
	instance, values                                        string
}

var commands = map[string]*command{}

func register(name string, c *command) { commands[name] = c }

// groups lists the first words of the client commands.
var groups = []string{"login", "instance", "db", "user", "root", "flavor", "datastore", "backup", "config"}

// IsCommand reports whether name (the first argument of hoard) is a client
// command of this package.
func IsCommand(name string) bool { return slices.Contains(groups, name) }

// errUsage marks a usage error (exit code 2); its text was already printed.
var errUsage = errors.New("cli: usage")

// Main runs the client command in args (without the program name, e.g.
// ["instance", "list", "-o", "json"]) and returns the process exit code: 0
// on success, 1 on failure (the fault is printed on env.Stderr), 2 on a
// usage error.
func Main(ctx context.Context, args []string, env Env) int {
	env.fill()
	err := run(ctx, args, &env)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(env.Stderr, "hoard:", safetext.Escape(describe(err))) // faults carry server text
		return 1
	}
}

func run(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 {
		printUsage(env.Stderr, "")
		return errUsage
	}
	name, rest := args[0], args[1:]
	if _, ok := commands[name]; !ok {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			printUsage(env.Stderr, name)
			return errUsage
		}
		name, rest = name+" "+rest[0], rest[1:]
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "hoard: unknown command %q\n", name)
		printUsage(env.Stderr, args[0])
		return errUsage
	}
	o, pos, err := parseFlags(name, cmd, rest, env.Stderr)
	if err != nil {
		return err
	}
	if len(pos) != cmd.nargs {
		fmt.Fprintf(env.Stderr, "hoard %s: want %d argument(s), got %d\nusage: hoard %s %s\n", name, cmd.nargs, len(pos), name, cmd.usage)
		return errUsage
	}
	if o.output != "table" && o.output != "json" {
		fmt.Fprintf(env.Stderr, "hoard %s: -o must be table or json, not %q\n", name, o.output)
		return errUsage
	}
	c := &call{env: env, o: o, args: pos, name: name}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	return cmd.run(ctx, c)
}

// parseFlags parses the common and the command's flags, allowing them
// before, between and after the positional arguments (as OSC does).
func parseFlags(name string, cmd *command, args []string, stderr io.Writer) (*opts, []string, error) {
	o := &opts{}
	fs := flag.NewFlagSet("hoard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.cloud, "os-cloud", "", "cloud in clouds.yaml (default $OS_CLOUD)")
	fs.StringVar(&o.output, "o", "table", "output format: table or json")
	fs.StringVar(&o.output, "output", "table", "output format: table or json")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up after this long (e.g. 10m); 0 waits forever")
	if cmd.flags != nil {
		cmd.flags(fs, o)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hoard %s %s\n  %s\n", name, cmd.usage, cmd.help)
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, errUsage
			}
			return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return o, pos, nil
}

func waitFlag(fs *flag.FlagSet, o *opts) {
	fs.BoolVar(&o.wait, "wait", false, "wait until the operation finishes, showing status changes")
}

func printUsage(w io.Writer, group string) {
	fmt.Fprintln(w, "Client commands (credentials from OS_* variables or --os-cloud / clouds.yaml):")
	names := make([]string, 0, len(commands))
	for n := range commands {
		if group == "" || n == group || strings.HasPrefix(n, group+" ") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  hoard %s %s\n      %s\n", n, commands[n].usage, commands[n].help)
	}
	fmt.Fprintln(w, "Common flags: -o table|json, --os-cloud NAME, --timeout DURATION")
}

// Usage writes the list of client commands to w.
func Usage(w io.Writer) { printUsage(w, "") }
