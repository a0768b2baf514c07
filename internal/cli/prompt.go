package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// terminalSecret reads a line from in with echo off if in is a terminal,
// prompting on prompter; ok is false (and nothing read) if it is not one.
func terminalSecret(in io.Reader, prompter io.Writer, prompt string) (string, bool, error) {
	f, isFile := in.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return "", false, nil
	}
	fmt.Fprint(prompter, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(prompter)
	if err != nil {
		return "", false, fmt.Errorf("cli: read password: %w", err)
	}
	return string(b), true, nil
}

// readPassword prompts on the terminal with echo off, or reads one line
// from a non-terminal stdin.
func readPassword(env *Env, prompt string) (string, error) {
	pw, ok, err := env.ReadSecret(prompt)
	if err != nil || ok {
		return pw, err
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("cli: read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
