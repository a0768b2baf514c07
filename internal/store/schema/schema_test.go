package schema

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{in: "0001_init.sql", want: 1},
		{in: "0042_add_things.sql", want: 42},
		{in: "7_x.sql", want: 7},
		{in: "init.sql", wantErr: true},
		{in: "_init.sql", wantErr: true},
		{in: "0001_.sql", wantErr: true},
		{in: "0001_init.txt", wantErr: true},
		{in: "0001init.sql", wantErr: true},
		{in: "0000_zero.sql", wantErr: true},
		{in: "+001_plus.sql", wantErr: true},
		{in: "-001_minus.sql", wantErr: true},
		{in: "00x1_hex.sql", wantErr: true},
		{in: "99999999999999999999999_big.sql", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseName(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadName) {
					t.Errorf("ParseName(%q) = %d, %v; want an ErrBadName", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseName(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "12_a.sql", "x_y.sql", "_.sql", "1_.sql", "0_a.sql", "1__.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, err := ParseName(name)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("ParseName(%q) error %v is not an ErrBadName", name, err)
			}
			return
		}
		num, rest, _ := strings.Cut(name, "_")
		if v < 1 || !strings.HasSuffix(rest, ".sql") || len(rest) <= len(".sql") {
			t.Fatalf("ParseName(%q) = %d, accepted a bad name", name, v)
		}
		if got, err := ParseName(strings.TrimLeft(num, "0") + "_" + rest); err != nil || got != v {
			t.Fatalf("ParseName of %q without leading zeros = %d, %v; want %d", name, got, err, v)
		}
	})
}

func TestLoad(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []string // names, in order
		wantErr string
	}{
		{name: "empty", files: fstest.MapFS{}},
		{
			name: "ordered by version, not by name",
			files: fstest.MapFS{
				"m/10_ten.sql":   file("10"),
				"m/0002_two.sql": file("2"),
				"m/1_one.sql":    file("1"),
				"m/3_a.sql":      file("3"), "m/4_a.sql": file("4"), "m/5_a.sql": file("5"),
				"m/6_a.sql": file("6"), "m/7_a.sql": file("7"), "m/8_a.sql": file("8"), "m/9_a.sql": file("9"),
				"m/README":       file("not a migration"),
				"other/11_x.sql": file("elsewhere"),
			},
			want: []string{"1_one.sql", "0002_two.sql", "3_a.sql", "4_a.sql", "5_a.sql", "6_a.sql", "7_a.sql", "8_a.sql", "9_a.sql", "10_ten.sql"},
		},
		{name: "bad name", files: fstest.MapFS{"m/0001_init.sql": file(""), "m/two.sql": file("")}, wantErr: "NNNN_name.sql"},
		{name: "gap", files: fstest.MapFS{"m/0001_a.sql": file(""), "m/0003_c.sql": file("")}, wantErr: "want version 2"},
		{name: "no first", files: fstest.MapFS{"m/0002_b.sql": file("")}, wantErr: "want version 1"},
		{name: "duplicate", files: fstest.MapFS{"m/0001_a.sql": file(""), "m/0001_b.sql": file("")}, wantErr: "same version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Load(tt.files, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() = %v, %v; want an error with %q", ms, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for i, m := range ms {
				names = append(names, m.Name)
				if m.Version != i+1 || m.SQL != string(tt.files["m/"+m.Name].Data) {
					t.Errorf("migration %d = %+v", i, m)
				}
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("Load() names = %q, want %q", names, tt.want)
			}
		})
	}
}

// fakeDB is a [Backend] keeping applied migrations in memory. A
// transaction's changes are kept only if it commits.
type fakeDB struct {
	applied []int    // versions, in the order recorded
	execs   []string // SQL run, committed or not
	failOn  string   // Exec of this SQL fails
	// sneak, when set, is recorded (as by another process) between
	// Apply reading the version and its first transaction.
	sneak []int
}

func (db *fakeDB) version(applied []int) int {
	v := 0
	for _, a := range applied {
		v = max(v, a)
	}
	return v
}

func (db *fakeDB) Version(context.Context) (int, error) { return db.version(db.applied), nil }

func (db *fakeDB) InTx(ctx context.Context, fn func(Tx) error) error {
	if db.sneak != nil {
		db.applied = append(db.applied, db.sneak...)
		db.sneak = nil
	}
	tx := &fakeTx{db: db, applied: slices.Clone(db.applied)}
	if err := fn(tx); err != nil {
		return err
	}
	db.applied = tx.applied
	return nil
}

type fakeTx struct {
	db      *fakeDB
	applied []int
}

func (tx *fakeTx) Version(context.Context) (int, error) { return tx.db.version(tx.applied), nil }

func (tx *fakeTx) Exec(_ context.Context, sql string) error {
	tx.db.execs = append(tx.db.execs, sql)
	if sql == tx.db.failOn {
		return errors.New("syntax error")
	}
	return nil
}

func (tx *fakeTx) Record(_ context.Context, v int) error {
	if slices.Contains(tx.applied, v) {
		return errors.New("duplicate key")
	}
	tx.applied = append(tx.applied, v)
	return nil
}

func TestApply(t *testing.T) {
	ms := []Migration{
		{Version: 1, Name: "0001_a.sql", SQL: "a"},
		{Version: 2, Name: "0002_b.sql", SQL: "b"},
		{Version: 3, Name: "0003_c.sql", SQL: "c"},
	}
	tests := []struct {
		name        string
		db          fakeDB
		target      int
		wantApplied []int
		wantExecs   []string
		wantErr     string
	}{
		{name: "empty to latest", target: -1, wantApplied: []int{1, 2, 3}, wantExecs: []string{"a", "b", "c"}},
		{name: "past the last means all", target: 9, wantApplied: []int{1, 2, 3}, wantExecs: []string{"a", "b", "c"}},
		{name: "to a target", target: 2, wantApplied: []int{1, 2}, wantExecs: []string{"a", "b"}},
		{name: "to zero", target: 0},
		{name: "only the missing", db: fakeDB{applied: []int{1, 2}}, target: -1, wantApplied: []int{1, 2, 3}, wantExecs: []string{"c"}},
		{name: "already applied", db: fakeDB{applied: []int{1, 2, 3}}, target: -1, wantApplied: []int{1, 2, 3}},
		{name: "target below current", db: fakeDB{applied: []int{1, 2, 3}}, target: 1, wantApplied: []int{1, 2, 3}},
		{
			name: "applied meanwhile by another process", db: fakeDB{applied: []int{1}, sneak: []int{2}}, target: -1,
			wantApplied: []int{1, 2, 3}, wantExecs: []string{"c"},
		},
		{
			name: "newer than ours", db: fakeDB{applied: []int{1, 2, 3, 4}}, target: -1,
			wantApplied: []int{1, 2, 3, 4}, wantErr: "newer than this hoard's",
		},
		{
			name: "a failing migration stops the rest", db: fakeDB{failOn: "b"}, target: -1,
			wantApplied: []int{1}, wantExecs: []string{"a", "b"}, wantErr: "migration 0002_b.sql: syntax error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := tt.db
			err := Apply(t.Context(), &db, ms, tt.target)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Apply() = %v, want an error with %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Errorf("Apply() = %v", err)
			}
			if !slices.Equal(db.applied, tt.wantApplied) {
				t.Errorf("applied = %v, want %v", db.applied, tt.wantApplied)
			}
			if !slices.Equal(db.execs, tt.wantExecs) {
				t.Errorf("executed = %q, want %q", db.execs, tt.wantExecs)
			}
		})
	}
}
