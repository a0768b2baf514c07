// Package depcheck has no code of its own: its tests hold hoard's layering
// rules, in the style of tailscale's dependency checker. They read the
// module's import graph with `go list` and fail naming the import edge
// that breaks a rule and the rule's reason, so a change that bends the
// layering is a deliberate, reviewed act (edit the rule) rather than an
// accident. Only non-test code is checked: tests may import whatever they
// exercise (fakes, real backends, contract suites).
//
// A second test keeps engine knowledge inside internal/datastore/...: no
// string literal outside it and cmd/hoard names an engine.
package depcheck
