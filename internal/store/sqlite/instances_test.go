package sqlite

import (
	"strings"
	"testing"
)

// TestSummaryPlan checks that a tenant's page of summaries is read from the
// covering index alone, in id order (no table lookup, no sort).
func TestSummaryPlan(t *testing.T) {
	s := openTemp(t)
	rows, err := s.db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT `+summaryCols+` FROM instances
		WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`, "t", "", 101)
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
	got := strings.Join(plan, "; ")
	if !strings.Contains(got, "USING COVERING INDEX instances_tenant_summary") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("plan of the summary page = %q, want a covering index scan of instances_tenant_summary and no sort", got)
	}
}
