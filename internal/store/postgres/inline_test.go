package postgres

import (
	"testing"

	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/storetest"
)

func TestInlineConformance(t *testing.T) {
	storetest.RunInline(t, func(t *testing.T) store.Store { return openTemp(t) })
}
