package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// completer offers the names of the project's instances or backups for a
// command's first argument (shell completion: hoard completion bash|zsh|
// fish). It logs in with the command line's credentials, never asking for a
// password, and offers nothing when that fails.
func completer(env *Env, o *opts, kind string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if kind == "" || len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		quiet := *env
		quiet.ReadSecret = func(string) (string, bool, error) { return "", false, nil }
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		defer cancel()
		c := &call{env: &quiet, o: o, cmd: cmd}
		if err := c.login(ctx); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		switch kind {
		case "instance":
			all, err := c.listInstances(ctx)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			for _, in := range all {
				names = append(names, in.Name)
			}
		case "backup":
			all, err := c.listBackups(ctx, c.sc.ServiceURL("backups"))
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			for _, b := range all {
				names = append(names, b.Name)
			}
		}
		var out []cobra.Completion
		for _, n := range names {
			if n != "" && strings.HasPrefix(n, toComplete) && !strings.ContainsAny(n, " \t\n") {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
