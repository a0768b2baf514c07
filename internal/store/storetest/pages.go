package storetest

import (
	"fmt"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// PagesDiff compares the summary pages served (a store's
// ListInstanceSummaries, from its cache when it can) with those query
// reads from its database, for markers before, at, between and after the
// rows of all (every summary of the tenant, in the store's order), every
// step-th of them, and limits 0, 1, 10, 100 and 1000. It returns the first
// difference, "" if none.
func PagesDiff(all []*model.Instance, step int, query, served func(store.Page) ([]*model.Instance, error)) (string, error) {
	markers := []string{"", "~"}
	for i := 0; i < len(all); i += step {
		markers = append(markers, all[i].ID, all[i].ID+"0")
	}
	for _, m := range markers {
		for _, limit := range []int{0, 1, 10, 100, 1000} {
			p := store.Page{Marker: m, Limit: limit}
			want, err := query(p)
			if err != nil {
				return "", err
			}
			got, err := served(p)
			if err != nil {
				return "", err
			}
			if d := cmp.Diff(want, got); d != "" {
				return fmt.Sprintf("page %+v differs from the database's (-database +served):\n%s", p, d), nil
			}
		}
	}
	return "", nil
}
