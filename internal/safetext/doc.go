// Package safetext is hoard's one definition of text that must not be
// stored as a name or printed raw on a terminal: control characters (Unicode
// category Cc: C0, DEL and C1) and the Unicode bidirectional formatting
// characters. A control character can move a terminal's cursor, recolour it
// or retitle its window (an ESC sequence, or C1's single-character CSI); a
// bidi override reorders what a reader sees ("Trojan Source",
// CVE-2021-42574).
//
// The API refuses such names with [Check]; the CLI prints text it did not
// write through [Escape], so that text stored before the check (or produced
// by an engine) still cannot reach the terminal raw.
package safetext
