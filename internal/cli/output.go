package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/hoard-db/hoard/internal/safetext"
)

// Everything the CLI prints that it did not write itself (names, ids,
// statuses and messages from the server, arguments echoed back) goes
// through safetext.Escape in table and plain output, and through
// escapeJSON in JSON output: a name stored with an ESC sequence, a C1
// control or a bidi override must not reach the terminal raw.

// print writes v as indented JSON with -o json, otherwise rows as a table
// under header.
func (c *call) print(v any, header []string, rows [][]string) error {
	if c.o.output == "json" {
		return writeJSON(c.env.Stdout, v)
	}
	return writeTable(c.env.Stdout, header, rows)
}

// say prints one line of plain output on stdout, escaped.
func (c *call) say(format string, args ...any) {
	fmt.Fprintln(c.env.Stdout, safetext.Escape(fmt.Sprintf(format, args...)))
}

func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("cli: write json: %w", err)
	}
	if _, err := w.Write(escapeJSON(buf.Bytes())); err != nil {
		return fmt.Errorf("cli: write json: %w", err)
	}
	return nil
}

// escapeJSON rewrites the unsafe characters encoding/json leaves raw as
// \uXXXX escapes. encoding/json escapes C0 controls (and U+2028, U+2029)
// but writes DEL, the C1 controls and the bidi controls as they are. Those
// characters can only be inside strings (JSON's own syntax is ASCII, its
// whitespace the indentation's spaces and newlines), where the escape means
// the same character, so the document decodes to the same value. All of
// them are in the BMP: one \u escape each.
func escapeJSON(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return r >= 0x7f && safetext.IsUnsafe(r) }) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r >= 0x7f && safetext.IsUnsafe(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

// writeTable writes an aligned table; cells are escaped (safetext.Escape),
// so a cell's tabs and newlines show as \t and \n rather than breaking the
// table.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		clean := make([]string, len(cells))
		for i, s := range cells {
			clean[i] = safetext.Escape(s)
		}
		fmt.Fprintln(tw, strings.Join(clean, "\t"))
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("cli: write table: %w", err)
	}
	return nil
}

// describe renders err for the user. An API fault body such as
// {"itemNotFound":{"code":404,"message":"..."}} becomes
// "itemNotFound (HTTP 404): ...".
func describe(err error) string {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		// Keep what was being done ("create instance: ") in front.
		prefix := strings.ReplaceAll(strings.TrimSuffix(err.Error(), ue.Error()), "cli: ", "")
		if name, msg, ok := parseFault(ue.Body); ok {
			return fmt.Sprintf("%s%s (HTTP %d): %s", prefix, name, ue.Actual, msg)
		}
		return fmt.Sprintf("%s%s %s: HTTP %d %s", prefix, ue.Method, ue.URL, ue.Actual, http.StatusText(ue.Actual))
	}
	return strings.ReplaceAll(err.Error(), "cli: ", "")
}

// parseFault reads a Trove fault body (one key naming the fault, holding
// code and message) or a Keystone error body ({"error":{...}}).
func parseFault(body []byte) (name, msg string, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || len(m) != 1 {
		return "", "", false
	}
	for k, raw := range m {
		var f struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Title   string `json:"title"`
		}
		if json.Unmarshal(raw, &f) != nil || f.Message == "" {
			return "", "", false
		}
		if k == "error" && f.Title != "" {
			k = f.Title
		}
		return k, f.Message, true
	}
	return "", "", false
}
