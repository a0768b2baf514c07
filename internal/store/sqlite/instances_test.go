package sqlite

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// TestQueryPlans checks that the hot reads use their index: a tenant's
// page of summaries is read from the covering index alone, in id order (no
// table lookup, no sort), and a source's replicas from the partial index.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	for _, tc := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"summary page", `SELECT ` + summaryRecord + ` FROM instances WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
			[]any{"t", "", 101}, "USING COVERING INDEX instances_tenant_summary"},
		{"replicas", `SELECT ` + instanceCols + ` FROM instances WHERE ` + replicasWhere + ` ORDER BY id`,
			[]any{"src"}, "USING INDEX instances_replica_of"},
		{"replica count", `SELECT COUNT(*) FROM instances WHERE ` + replicasWhere,
			[]any{"src"}, "USING COVERING INDEX instances_replica_of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := queryPlan(t, s, tc.query, tc.args...)
			if !strings.Contains(got, tc.want) || (tc.name == "summary page" && strings.Contains(got, "TEMP B-TREE")) {
				t.Errorf("plan = %q, want %s", got, tc.want)
			}
		})
	}
}

// queryPlan returns the details of EXPLAIN QUERY PLAN query, joined by "; ".
func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// packSummary is what summaryRecord computes in SQL.
func packSummary(fields ...string) string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

// TestSummaryRecord checks summaryRecord and unpackSummary on values that
// look like the record's own syntax, a NUL byte and bytes that are not UTF-8.
func TestSummaryRecord(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	want := []*model.Instance{
		{ID: "1:2", TenantID: "t", Name: "3:abc:\x00:é\xff", Status: "ACTIVE", FlavorID: -3, VolumeSize: 1 << 40,
			Datastore: "", DatastoreVersion: "10:11", Address: "::1"},
		{ID: "2", TenantID: "t", Name: "", Status: "", Datastore: "x"},
	}
	for _, in := range want {
		c := *in
		c.Created = time.Unix(1, 0)
		if err := s.CreateInstance(ctx, &c, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListInstanceSummaries(ctx, "t", store.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListInstanceSummaries = %d instances, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("ListInstanceSummaries[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}

	for _, bad := range []string{"", "x", "1:a", "9:abc", "-1:", "1:a1:b1:c1:d1:x1:21:e1:f1:g", "1:a1:b1:c1:d1:11:21:e1:f1:gextra",
		"1:a1:b1:c1:d1:11:y1:e1:f1:g", "99999999999999999999:a"} {
		var in model.Instance
		if err := unpackSummary(bad, &in); err == nil {
			t.Errorf("unpackSummary(%q) = %+v, want an error", bad, in)
		}
	}
}

func FuzzUnpackSummary(f *testing.F) {
	f.Add("id", "tenant", "name", "ACTIVE", 1, 5, "mysql", "10.11", "127.0.0.1")
	f.Add("", "", "1:2:", "", -1, 0, ":", "3:", "")
	f.Fuzz(func(t *testing.T, id, tenant, name, status string, flavor, size int, ds, dsv, addr string) {
		want := model.Instance{ID: id, TenantID: tenant, Name: name, Status: model.InstanceStatus(status),
			FlavorID: flavor, VolumeSize: size, Datastore: ds, DatastoreVersion: dsv, Address: addr}
		rec := packSummary(id, tenant, name, status, strconv.Itoa(flavor), strconv.Itoa(size), ds, dsv, addr)
		var got model.Instance
		if err := unpackSummary(rec, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("unpackSummary(%q) = %+v, %v; want %+v", rec, got, err, want)
		}
		// Any input: an error or an instance, never a panic.
		var in model.Instance
		_ = unpackSummary(id+name, &in)
		_ = unpackSummary(rec[:len(rec)/2], &in)
	})
}
