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
	"go.yaml.in/yaml/v3"

	"github.com/hoard-db/hoard/internal/safetext"
)

// Everything the CLI prints that it did not write itself (names, ids,
// statuses and messages from the server, arguments echoed back) goes
// through safetext.Escape in table, value and plain output, and through
// escapeJSON in JSON and YAML output: a name stored with an ESC sequence, a
// C1 control or a bidi override must not reach the terminal raw.

// formats are the values of -o, as the OpenStack CLI's -f.
var formats = []string{"table", "json", "yaml", "value"}

// column is one column of a list, or one field of an object: its table
// header and the key of the same value in JSON and YAML output.
type column struct{ header, key string }

// cols builds columns from "HEADER=key" specs.
func cols(specs ...string) []column {
	out := make([]column, len(specs))
	for i, s := range specs {
		h, k, _ := strings.Cut(s, "=")
		out[i] = column{h, k}
	}
	return out
}

// matches reports whether the -c name picks the column: its key or its
// header, ignoring case, spaces and underscores alike.
func (cl column) matches(name string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "_") }
	n := norm(name)
	return n == norm(cl.key) || n == norm(cl.header)
}

// pick returns the indexes of the columns -c names, in its order (all of
// them without -c), or a usage error naming the known ones.
func (c *call) pick(all []column) ([]int, error) {
	if len(c.o.columns) == 0 {
		idx := make([]int, len(all))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	var idx []int
	for _, name := range c.o.columns {
		found := false
		for i, cl := range all {
			if cl.matches(name) {
				idx, found = append(idx, i), true
				break
			}
		}
		if !found {
			known := make([]string, len(all))
			for i, cl := range all {
				known[i] = cl.key
			}
			return nil, c.usagef("no column %q here; the columns are %s", name, strings.Join(known, ", "))
		}
	}
	return idx, nil
}

// print writes a list: v (a slice of views) as JSON or YAML, or rows under
// the columns' headers as a table or bare values.
func (c *call) print(v any, columns []column, rows [][]string) error {
	idx, err := c.pick(columns)
	if err != nil {
		return err
	}
	switch c.o.output {
	case "json", "yaml":
		return c.writeData(v, keysOf(columns, idx))
	case "value":
		return writeValues(c.env.Stdout, selectCells(rows, idx))
	}
	header := make([]string, len(idx))
	for i, j := range idx {
		header[i] = columns[j].header
	}
	return writeTable(c.env.Stdout, header, selectCells(rows, idx))
}

// printFields writes one object: v as JSON or YAML, or its fields as
// FIELD/VALUE rows (bare values with -o value). fields are key, value
// pairs; -c picks among them by key.
func (c *call) printFields(v any, fields [][2]string) error {
	columns := make([]column, len(fields))
	for i, f := range fields {
		columns[i] = column{f[0], f[0]}
	}
	idx, err := c.pick(columns)
	if err != nil {
		return err
	}
	switch c.o.output {
	case "json", "yaml":
		return c.writeData(v, keysOf(columns, idx))
	}
	rows := make([][]string, len(idx))
	values := make([][]string, len(idx))
	for i, j := range idx {
		rows[i] = fields[j][:]
		values[i] = fields[j][1:]
	}
	if c.o.output == "value" {
		return writeValues(c.env.Stdout, values)
	}
	return writeTable(c.env.Stdout, []string{"FIELD", "VALUE"}, rows)
}

func keysOf(columns []column, idx []int) []string {
	if len(idx) == len(columns) {
		return nil // everything, the view as it is
	}
	keys := make([]string, len(idx))
	for i, j := range idx {
		keys[i] = columns[j].key
	}
	return keys
}

func selectCells(rows [][]string, idx []int) [][]string {
	out := make([][]string, len(rows))
	for r, row := range rows {
		cells := make([]string, len(idx))
		for i, j := range idx {
			if j < len(row) {
				cells[i] = row[j]
			}
		}
		out[r] = cells
	}
	return out
}

// writeData writes v as JSON or YAML; with keys, each object (v itself or
// each element of a list) keeps only those keys, in that order.
func (c *call) writeData(v any, keys []string) error {
	if keys == nil && c.o.output == "json" {
		return writeJSON(c.env.Stdout, v)
	}
	data, err := toOrdered(v)
	if err != nil {
		return err
	}
	if keys != nil {
		data = filterKeys(data, keys)
	}
	if c.o.output == "yaml" {
		return writeYAML(c.env.Stdout, data)
	}
	return writeJSON(c.env.Stdout, data)
}

// say prints one line of plain output on stdout, escaped.
func (c *call) say(format string, args ...any) {
	fmt.Fprintln(c.env.Stdout, safetext.Escape(fmt.Sprintf(format, args...)))
}

// warn prints a warning on stderr, escaped.
func (c *call) warn(format string, args ...any) {
	fmt.Fprintln(c.env.Stderr, "hoard: warning:", safetext.Escape(fmt.Sprintf(format, args...)))
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
// them are in the BMP: one \u escape each. The same holds for YAML's
// double-quoted scalars, where writeYAML puts every string holding one.
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

// member is one key of an ordered object.
type member struct {
	key string
	val any
}

// object is a JSON object that keeps its keys' order.
type object []member

// MarshalJSON implements json.Marshaler.
func (o object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.val)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// toOrdered turns v into JSON values (object, []any, string, json.Number,
// bool, nil) with the key order of v's JSON encoding.
func toOrdered(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cli: encode: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	out, err := decodeOrdered(d)
	if err != nil {
		return nil, fmt.Errorf("cli: encode: %w", err)
	}
	return out, nil
}

func decodeOrdered(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	delim, ok := t.(json.Delim)
	if !ok {
		return t, nil
	}
	switch delim {
	case '{':
		o := object{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			o = append(o, member{k.(string), v})
		}
		_, err = d.Token()
		return o, err
	case '[':
		a := []any{}
		for d.More() {
			v, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err = d.Token()
		return a, err
	}
	return nil, fmt.Errorf("unexpected %v", delim)
}

// filterKeys keeps keys of an object, or of each object of a list.
func filterKeys(v any, keys []string) any {
	switch v := v.(type) {
	case object:
		out := object{}
		for _, k := range keys {
			for _, m := range v {
				if m.key == k {
					out = append(out, m)
				}
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = filterKeys(x, keys)
		}
		return out
	}
	return v
}

// writeYAML writes an ordered value as a YAML document.
func writeYAML(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(yamlNode(v)); err != nil {
		return fmt.Errorf("cli: write yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("cli: write yaml: %w", err)
	}
	if _, err := w.Write(escapeJSON(buf.Bytes())); err != nil {
		return fmt.Errorf("cli: write yaml: %w", err)
	}
	return nil
}

func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case object:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, m := range v {
			n.Content = append(n.Content, yamlString(m.key), yamlNode(m.val))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, x := range v {
			n.Content = append(n.Content, yamlNode(x))
		}
		return n
	case string:
		return yamlString(v)
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(v), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(v)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

// yamlString is a string scalar; one with a control, bidi or line
// separator character is double-quoted, so that the emitter escapes it or
// escapeJSON may, and so is "<<", which plain would be a merge key.
func yamlString(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if s == "<<" || strings.ContainsFunc(s, func(r rune) bool { return safetext.IsUnsafe(r) || r == '\u2028' || r == '\u2029' || r == '\ufeff' }) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
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

// writeValues writes each row's cells separated by spaces, one row a line,
// as the OpenStack CLI's -f value.
func writeValues(w io.Writer, rows [][]string) error {
	var b strings.Builder
	for _, r := range rows {
		clean := make([]string, len(r))
		for i, s := range r {
			clean[i] = safetext.Escape(s)
		}
		b.WriteString(strings.Join(clean, " "))
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("cli: write values: %w", err)
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
