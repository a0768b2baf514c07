package postgresql

import (
	"slices"
	"strings"
	"testing"
)

// TestRenderLogs: the general log turns the logging collector on, into
// LogDir/general.log with every statement, in postgresql.conf and on the
// command line; without it the collector is off.
func TestRenderLogs(t *testing.T) {
	e := New(Config{})
	tests := []struct {
		logs    []string
		want    []string
		notWant []string
	}{
		{nil, []string{"logging_collector=off"}, []string{"log_statement=all"}},
		{[]string{"general"}, []string{"logging_collector=on", "log_directory=/srv/h/i1/log", "log_filename=general.log",
			"log_statement=all", "log_rotation_size=0"}, []string{"logging_collector=off"}},
	}
	for _, tt := range tests {
		spec := testSpec()
		spec.Logs = tt.logs
		files, err := e.Process().Render(spec)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		conf := strings.ReplaceAll(string(files[0].Content), " = ", "=")
		conf = strings.ReplaceAll(conf, "'", "")
		args := e.Process().ServerArgs(spec)
		for _, w := range tt.want {
			if !strings.Contains(conf, w+"\n") {
				t.Errorf("Render(Logs %v) lacks %s", tt.logs, w)
			}
			if !slices.Contains(args, w) {
				t.Errorf("ServerArgs(Logs %v) lacks -c %s", tt.logs, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(conf, w+"\n") || slices.Contains(args, w) {
				t.Errorf("Render(Logs %v) has %s", tt.logs, w)
			}
		}
	}
	if d, ok := findLog("general"); !ok || !d.RestartRequired {
		t.Errorf("general log = %+v, want restart-required", d)
	}
}
