package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	// PollInterval is the first pause between two GETs of --wait (default
	// 500ms); the pause grows to four times that while nothing changes.
	PollInterval time.Duration
	// HTTPClient is used for every request (default: 60 s timeout).
	HTTPClient *http.Client
	// CloudsFiles, when set, replaces the clouds.yaml search path.
	CloudsFiles []string
	// ReadSecret reads a secret with echo off. ok is false when there is no
	// terminal to ask on. Default: the terminal on Stdin, if it is one
	// (golang.org/x/term), with the prompt on Stderr.
	ReadSecret func(prompt string) (secret string, ok bool, err error)
	// LookPath finds an engine client for instance connect (default
	// exec.LookPath).
	LookPath func(file string) (string, error)
	// Exec replaces the process with an engine client (default
	// syscall.Exec); it returns only on failure.
	Exec func(path string, argv, envv []string) error
	// Environ is the environment handed to an engine client (default
	// os.Environ).
	Environ func() []string
	// CacheDir is where instance connect keeps instances' CA certificates
	// for their clients (default os.UserCacheDir).
	CacheDir func() (string, error)
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
	if e.ReadSecret == nil {
		e.ReadSecret = func(prompt string) (string, bool, error) { return terminalSecret(e.Stdin, e.Stderr, prompt) }
	}
	if e.LookPath == nil {
		e.LookPath = exec.LookPath
	}
	if e.Exec == nil {
		e.Exec = syscall.Exec
	}
	if e.Environ == nil {
		e.Environ = os.Environ
	}
	if e.CacheDir == nil {
		e.CacheDir = os.UserCacheDir
	}
}

// command is one leaf command such as "instance create".
type command struct {
	usage string // arguments and flags, after the command words
	help  string
	// flags adds the command's own flags to fs.
	flags func(fs *pflag.FlagSet, o *opts)
	// nargs is the number of positional arguments required.
	nargs int
	// complete names what the first argument is, for shell completion:
	// "instance", "backup" or "" (nothing to offer).
	complete string
	run      func(ctx context.Context, c *call) error
}

// opts holds every flag value; each command reads only its own.
type opts struct {
	cloud   string
	output  string
	columns []string
	wait    bool
	timeout time.Duration

	flavor, datastore, dsVersion, volumeType, configuration string
	size                                                    int
	databases, users                                        string
	description, password, host, charset, collate           string
	instance, values                                        string
	replicaOf, backup                                       string
	replicas                                                int
	user, database                                          string
	print, noTLS                                            bool
}

// defaultTimeout bounds every --wait unless --timeout says otherwise.
const defaultTimeout = 30 * time.Minute

var commands = map[string]*command{}

// register adds a client command; name is its words ("instance create").
// A new first word needs a line in groups.
func register(name string, c *command) { commands[name] = c }

// groups are the first words of the client commands, with their help.
var groups = []struct{ name, help string }{
	{"login", ""},
	{"instance", "database instances: create (also as a replica or from a backup), list, show, connect, resize, restart, delete, replication"},
	{"db", "databases of an instance"},
	{"user", "database users of an instance"},
	{"root", "the root user of an instance"},
	{"flavor", "flavors (sizes of instances)"},
	{"datastore", "datastores (engines) and their versions"},
	{"backup", "backups of instances"},
	{"config", "configuration groups"},
	{"ha", "HA groups: a source and replicas behind one write and one read address, with automatic failover"},
}

// External is a command of the hoard binary that this package does not
// implement (hoard serve, hoard migrate): it parses its own arguments.
type External struct {
	Name, Help string
	// Run runs the command with the arguments after its name and returns
	// the process exit code.
	Run func(ctx context.Context, args []string) int
}

// usageError is a usage mistake: exit code 2, with a pointer to the help.
type usageError struct {
	cmd *cobra.Command
	msg string
}

func (e *usageError) Error() string { return e.msg }

// errUsage marks a usage error found inside a command (exit code 2); its
// text was already printed.
var errUsage = errors.New("cli: usage")

// Main runs the command line args (without the program name, e.g.
// ["instance", "list", "-o", "json"]) and returns the process exit code: 0
// on success (and for help, which goes to env.Stdout), 1 on failure (the
// fault is printed on env.Stderr), 2 on a usage error. ext are the other
// commands of the binary, listed with the client commands.
func Main(ctx context.Context, args []string, env Env, ext ...External) int {
	env.fill()
	code := 0
	root := newRoot(&env, &opts{}, &code, ext)
	root.SetArgs(longFlags(root, args))
	_, err := root.ExecuteContextC(ctx)
	var ue *usageError
	switch {
	case err == nil:
		return code
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &ue):
		fmt.Fprintln(env.Stderr, "hoard:", safetext.Escape(ue.msg))
		if ue.cmd != nil {
			fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", ue.cmd.CommandPath())
		}
		return 2
	case strings.HasPrefix(err.Error(), "unknown command ") || strings.HasPrefix(err.Error(), "unknown flag"):
		// cobra's own, for the root command.
		fmt.Fprintln(env.Stderr, "hoard:", safetext.Escape(err.Error()))
		return 2
	default:
		fmt.Fprintln(env.Stderr, "hoard:", safetext.Escape(describe(err))) // faults carry server text
		return 1
	}
}

// longFlags rewrites -name and -name=value, where name is a long flag of
// some command, as --name: the CLI's flags were Go flag package flags,
// which take one dash, and scripts may still spell them so. Arguments after
// "--", and the arguments of the binary's other commands, are left alone.
func longFlags(root *cobra.Command, args []string) []string {
	names := map[string]bool{"help": true} // cobra adds --help when it runs
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.DisableFlagParsing {
			return
		}
		c.Flags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	if len(args) > 0 {
		if c, _, err := root.Find(args[:1]); err == nil && c.DisableFlagParsing {
			return args
		}
	}
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && names[name] {
			out[i] = "-" + a
		}
	}
	return out
}

// newRoot builds the command tree, its flags bound to o. Each run builds
// its own.
func newRoot(env *Env, o *opts, code *int, ext []External) *cobra.Command {
	root := &cobra.Command{
		Use:   "hoard",
		Short: "hoard: a Cloud Databases (Trove v1.0 API) service and its client",
		Long: `hoard is a Cloud Databases (Trove v1.0 API) service ("hoard serve") and a client of any such
service. The client commands log in as the OpenStack CLI does: from OS_* variables
(. hoard-data/admin-openrc) or --os-cloud NAME with clouds.yaml.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          subcommandArgs,
		RunE:          missingSubcommand,
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetIn(env.Stdin)
	root.SetFlagErrorFunc(flagError)
	root.CompletionOptions.HiddenDefaultCmd = false
	pf := root.PersistentFlags()
	pf.StringVar(&o.cloud, "os-cloud", "", "cloud in clouds.yaml (default $OS_CLOUD)")
	pf.StringVarP(&o.output, "output", "o", "table", "output format: table, json, yaml or value")
	pf.StringArrayVarP(&o.columns, "column", "c", nil, "print only this column or field (repeatable)")
	pf.DurationVar(&o.timeout, "timeout", defaultTimeout, "how long --wait waits before it gives up (0: no limit)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))

	parents := map[string]*cobra.Command{}
	for _, g := range groups {
		if g.name == "login" {
			continue
		}
		p := &cobra.Command{Use: g.name, Short: g.help, Args: subcommandArgs, RunE: missingSubcommand}
		parents[g.name] = p
		root.AddCommand(p)
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		spec := commands[name]
		words := strings.Fields(name)
		parent := root
		if len(words) > 1 {
			parent = parents[words[0]]
		}
		parent.AddCommand(leaf(env, o, name, words[len(words)-1], spec))
	}
	for _, x := range ext {
		xc := &cobra.Command{
			Use: x.Name, Short: x.Help, DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				*code = x.Run(cmd.Context(), args)
				return nil
			},
		}
		// hoard help serve is hoard serve --help: the command knows its flags.
		xc.SetHelpFunc(func(cmd *cobra.Command, _ []string) {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			*code = x.Run(ctx, []string{"--help"})
		})
		root.AddCommand(xc)
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.SuggestionsMinimumDistance = 2
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return root
}

// leaf is the cobra command of one client command.
func leaf(env *Env, o *opts, name, word string, spec *command) *cobra.Command {
	use := word
	if spec.usage != "" {
		use += " " + spec.usage
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: spec.help,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != spec.nargs {
				return &usageError{cmd, fmt.Sprintf("%s wants %d argument(s), got %d: %s", cmd.CommandPath(), spec.nargs, len(args),
					cmd.UseLine())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(formats, o.output) {
				return &usageError{cmd, fmt.Sprintf("-o must be one of %s, not %q", strings.Join(formats, ", "), o.output)}
			}
			c := &call{env: env, o: o, args: args, name: name, cmd: cmd}
			return spec.run(cmd.Context(), c)
		},
	}
	if spec.flags != nil {
		spec.flags(cmd.Flags(), o)
	}
	if spec.nargs == 0 {
		cmd.ValidArgsFunction = cobra.NoFileCompletions
	} else {
		cmd.ValidArgsFunction = completer(env, o, spec.complete)
	}
	for flag, kind := range map[string]string{"replica-of": "instance", "instance": "instance", "backup": "backup"} {
		if cmd.Flags().Lookup(flag) != nil {
			names := completer(env, o, kind)
			_ = cmd.RegisterFlagCompletionFunc(flag, func(c *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return names(c, nil, toComplete)
			})
		}
	}
	return cmd
}

// subcommandArgs refuses an unknown subcommand, suggesting near names.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(quoteAll(s), " or ") + "?"
	}
	return &usageError{cmd, msg}
}

// missingSubcommand is a group run alone: its commands, on stderr.
func missingSubcommand(cmd *cobra.Command, _ []string) error {
	cmd.SetOut(cmd.ErrOrStderr())
	_ = cmd.Usage()
	return errUsage
}

// flagError turns a flag parsing error into a usage error, with a
// suggestion for a mistyped flag.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		if s := suggestFlags(cmd, name); len(s) > 0 {
			msg += "; did you mean " + strings.Join(quoteAll(s), " or ") + "?"
		}
	}
	return &usageError{cmd, msg}
}

// suggestFlags returns the flags of cmd (its own and inherited) near name.
func suggestFlags(cmd *cobra.Command, name string) []string {
	var out []string
	seen := map[string]bool{}
	visit := func(f *pflag.Flag) {
		if f.Hidden || seen[f.Name] {
			return
		}
		seen[f.Name] = true
		if distance(name, f.Name) <= 2 || (len(name) >= 3 && strings.HasPrefix(f.Name, name)) {
			out = append(out, "--"+f.Name)
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	sort.Strings(out)
	return out
}

// distance is the Levenshtein distance between a and b, ignoring case.
func distance(a, b string) int {
	x, y := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(y)]
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// usagef reports a usage mistake found by a command.
func (c *call) usagef(format string, args ...any) error {
	return &usageError{c.cmd, fmt.Sprintf(format, args...)}
}
