package service

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/task"
)

var update = flag.Bool("update", false, "rewrite testdata/task_steps.golden")

// TestTaskStepsGolden pins every task kind's step list. A task records the
// name of its next step (see package task), so a step list is part of what
// a running task resumes at: run with -update only after reviewing the
// change.
func TestTaskStepsGolden(t *testing.T) {
	defs := newEnv(t).svc.Definitions()
	slices.SortFunc(defs, func(a, b task.Definition) int { return strings.Compare(string(a.Kind), string(b.Kind)) })
	var got strings.Builder
	for _, d := range defs {
		var names []string
		for _, s := range d.Steps {
			names = append(names, s.Name)
		}
		fmt.Fprintf(&got, "%s: %s\n", d.Kind, strings.Join(names, ", "))
	}
	golden := filepath.Join("testdata", "task_steps.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("task step lists differ from %s:\n--- want\n%s--- got\n%s"+
			"Changing a step list changes what tasks under way resume at (by step name; see package task): "+
			"renaming or removing a step fails the tasks at it, a step inserted before a task's next step is "+
			"skipped for it. Review the change, then run: go test ./internal/service -run TestTaskStepsGolden -update",
			golden, want, got.String())
	}
}
