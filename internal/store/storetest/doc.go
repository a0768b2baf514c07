// Package storetest is a conformance suite for implementations of
// [store.Store]. Every backend (SQLite, PostgreSQL, in-memory fakes) runs the
// same tests from its own test file:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hoard.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The tests are the executable form of the contract documented in package
// store: when the two disagree, fix one of them.
package storetest
