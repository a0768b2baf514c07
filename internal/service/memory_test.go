package service

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// sizedEngine is cfgEngine with datastore.MemorySizer: a group's
// innodb_buffer_pool_size (bytes) is its one memory use.
type sizedEngine struct{ *cfgEngine }

func (sizedEngine) DefaultPort() int { return 3306 }

func (sizedEngine) MemoryUse(values map[string]string, _ int) []datastore.MemoryUse {
	v, ok := values["innodb_buffer_pool_size"]
	if !ok {
		return nil
	}
	b, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nil
	}
	return []datastore.MemoryUse{{What: "innodb_buffer_pool_size " + v, Bytes: b}}
}

// Buffer pool sizes against the test flavors: "f" (id 1, 512 MB, the
// instance's), "tiny" (3, 256 MB) and "big" (2, 4096 MB).
const (
	pool100G = "107374182400"
	pool300M = "314572800"
	pool1G   = "1073741824"
)

// newSizedService is newGroupService with the sizing engine and the
// flavors "big" and "tiny" besides the instance's "f".
func newSizedService(t *testing.T) (s *Service, id string) {
	t.Helper()
	s, eng, id, _ := newGroupService(t)
	s.cfg.Engines["mem"] = sizedEngine{eng}
	for _, f := range []model.Flavor{{ID: 2, Name: "big", RAM: 4096, VCPUs: 2}, {ID: 3, Name: "tiny", RAM: 256, VCPUs: 1}} {
		if err := s.st.PutFlavor(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	return s, id
}

// group creates a group of the test datastore with innodb_buffer_pool_size
// pool: a group alone meets no flavor, so any size is accepted.
func group(t *testing.T, s *Service, pool string) string {
	t.Helper()
	name := "pool " + pool
	c, err := s.CreateConfiguration(t.Context(), "t1", ConfigurationRequest{Name: &name, DatastoreType: "memdb", DatastoreVersion: "1",
		Values: map[string]any{"innodb_buffer_pool_size": json.Number(pool)}})
	if err != nil {
		t.Fatalf("CreateConfiguration(innodb_buffer_pool_size %s) = %v", pool, err)
	}
	return c.ID
}

// wantMemoryRefusal checks that err is the 422 of a group too big for a
// flavor, with message msg.
func wantMemoryRefusal(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if !fault.Is(err, fault.Unprocessable) || fault.Message(err) != msg {
		t.Errorf("%s = %v (%v), want 422 %q", what, err, fault.KindOf(err), msg)
	}
}

// TestGroupMemoryFitsFlavor: wherever a configuration group meets a
// flavor, values that commit more memory than its RAM are refused (422,
// naming the limit), and values that fit go through.
func TestGroupMemoryFitsFlavor(t *testing.T) {
	t.Parallel()
	const tooBig = "innodb_buffer_pool_size " + pool100G + " exceeds the 512 MB of RAM of flavor f."

	t.Run("create", func(t *testing.T) {
		t.Parallel()
		s, _ := newSizedService(t)
		big := group(t, s, pool100G)
		req := CreateInstanceRequest{Name: "db2", FlavorRef: "1", VolumeSize: 1, DatastoreType: "memdb", DatastoreVersion: "1", Configuration: big}
		_, err := s.CreateInstance(t.Context(), "t1", req)
		wantMemoryRefusal(t, "CreateInstance(512 MB, 100G pool)", err, tooBig)
		req.Configuration = group(t, s, pool300M)
		if _, err := s.CreateInstance(t.Context(), "t1", req); err != nil {
			t.Errorf("CreateInstance(512 MB, 300M pool) = %v, want nil", err)
		}
	})

	t.Run("attach", func(t *testing.T) {
		t.Parallel()
		s, id := newSizedService(t)
		ctx := t.Context()
		err := s.AttachConfiguration(ctx, "t1", id, group(t, s, pool100G))
		wantMemoryRefusal(t, "AttachConfiguration(512 MB, 100G pool)", err, tooBig)
		if inst, _ := s.st.GetInstance(ctx, "t1", id); inst.ConfigurationID != "" || inst.Status != model.StatusActive {
			t.Errorf("instance after a refused attach: group %q, status %s; want none, ACTIVE", inst.ConfigurationID, inst.Status)
		}
		if err := s.AttachConfiguration(ctx, "t1", id, group(t, s, pool300M)); err != nil {
			t.Errorf("AttachConfiguration(512 MB, 300M pool) = %v, want nil", err)
		}
	})

	t.Run("update", func(t *testing.T) {
		t.Parallel()
		s, id := newSizedService(t)
		ctx := t.Context()
		// A second instance, on the big flavor, shares the group: the small
		// one alone refuses the whole change, for both.
		d, err := s.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "db2", FlavorRef: "2", VolumeSize: 1, DatastoreType: "memdb", DatastoreVersion: "1"})
		if err != nil {
			t.Fatal(err)
		}
		cfgID := group(t, s, pool300M)
		if err := s.AttachConfiguration(ctx, "t1", id, cfgID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.st.UpdateInstance(ctx, d.ID, func(i *model.Instance) error { i.ConfigurationID = cfgID; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, replace := range []bool{false, true} {
			err := s.UpdateConfiguration(ctx, "t1", cfgID, ConfigurationRequest{Values: map[string]any{"innodb_buffer_pool_size": json.Number(pool1G)}}, replace)
			wantMemoryRefusal(t, "UpdateConfiguration(replace "+strconv.FormatBool(replace)+", 1G pool)", err,
				"innodb_buffer_pool_size "+pool1G+" exceeds the 512 MB of RAM of flavor f of instance "+id+".")
		}
		c, err := s.GetConfiguration(ctx, "t1", cfgID)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Configuration.Values["innodb_buffer_pool_size"]; got != pool300M {
			t.Errorf("innodb_buffer_pool_size after refused updates = %s, want %s", got, pool300M)
		}
		// A change that sizes nothing is judged with the values it keeps.
		if err := s.UpdateConfiguration(ctx, "t1", cfgID, ConfigurationRequest{Values: map[string]any{"max_connections": json.Number("90")}}, false); err != nil {
			t.Errorf("UpdateConfiguration(max_connections) = %v, want nil", err)
		}
	})

	t.Run("resize", func(t *testing.T) {
		t.Parallel()
		s, id := newSizedService(t)
		ctx := t.Context()
		cfgID := group(t, s, pool300M)
		if err := s.AttachConfiguration(ctx, "t1", id, cfgID); err != nil {
			t.Fatal(err)
		}
		err := s.ResizeFlavor(ctx, "t1", id, "3")
		wantMemoryRefusal(t, "ResizeFlavor(to 256 MB, 300M pool)", err,
			"innodb_buffer_pool_size "+pool300M+" exceeds the 256 MB of RAM of flavor tiny.")
		// A group stored before groups were checked does not keep the
		// instance from growing.
		if _, err := s.st.UpdateConfiguration(ctx, "t1", cfgID, func(c *model.Configuration) error {
			c.Values["innodb_buffer_pool_size"] = pool100G
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.ResizeFlavor(ctx, "t1", id, "2"); err != nil {
			t.Errorf("ResizeFlavor(to 4096 MB, 100G pool) = %v, want nil (more RAM is never refused)", err)
		}
	})
}

// TestCheckMemoryWithoutSizer: an engine without datastore.MemorySizer
// accepts any values.
func TestCheckMemoryWithoutSizer(t *testing.T) {
	t.Parallel()
	f := &model.Flavor{ID: 1, Name: "f", RAM: 512}
	if err := checkMemory("test", &cfgEngine{}, map[string]string{"innodb_buffer_pool_size": pool100G}, f, ""); err != nil {
		t.Errorf("checkMemory(no sizer) = %v, want nil", err)
	}
}
