package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/gophercloud/gophercloud/v2"
)

// print writes v as indented JSON with -o json, otherwise rows as a table
// under header.
func (c *call) print(v any, header []string, rows [][]string) error {
	if c.o.output == "json" {
		return writeJSON(c.env.Stdout, v)
	}
	return writeTable(c.env.Stdout, header, rows)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("cli: write json: %w", err)
	}
	return nil
}

// writeTable writes an aligned table; cells lose their tabs and newlines.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		clean := make([]string, len(cells))
		for i, s := range cells {
			clean[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
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
