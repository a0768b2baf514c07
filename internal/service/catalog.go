package service

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// Catalog is the part of the service that lists flavors, datastores and
// their versions (reference §6, §7) and seeds them at start-up. The
// lookups every resource uses (versionByID, resolveDatastore,
// resolveFlavor) are deps' methods, in this file too.
type Catalog struct {
	*deps
}

// DefaultFlavors is the seeded flavor catalogue: Rackspace's sizes, ids 1..6.
var DefaultFlavors = []model.Flavor{
	{ID: 1, Name: "512MB Instance", RAM: 512, VCPUs: 1, Disk: 0},
	{ID: 2, Name: "1GB Instance", RAM: 1024, VCPUs: 1, Disk: 0},
	{ID: 3, Name: "2GB Instance", RAM: 2048, VCPUs: 2, Disk: 0},
	{ID: 4, Name: "4GB Instance", RAM: 4096, VCPUs: 2, Disk: 0},
	{ID: 5, Name: "8GB Instance", RAM: 8192, VCPUs: 4, Disk: 0},
	{ID: 6, Name: "16GB Instance", RAM: 16384, VCPUs: 8, Disk: 0},
}

// SeedCatalog writes the default flavors (leaving existing ones alone) and
// registers every datastore version the configured engines offer now
// (Config.Versions: by default the versions installed on this host). Versions
// registered before that an engine no longer offers, and all versions of an
// engine that offers none, stay in the store (their instances keep them) but
// are made inactive, so that datastores only list what runs now.
func (s *Catalog) SeedCatalog(ctx context.Context) error {
	have, err := s.st.ListFlavors(ctx)
	if err != nil {
		return fmt.Errorf("service: seed flavors: %w", err)
	}
	if len(have) == 0 {
		for _, f := range DefaultFlavors {
			if err := s.st.PutFlavor(ctx, f); err != nil {
				return fmt.Errorf("service: seed flavor %d: %w", f.ID, err)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.cfg.Engines)) {
		e := s.cfg.Engines[name]
		versions, err := s.cfg.Versions(ctx, e)
		if err != nil {
			s.log.Warn("engine not offered", "engine", name, "err", err)
			versions = nil
		}
		offered := map[string]bool{} // datastore name + "\x00" + version name
		for i, v := range versions {
			for _, ds := range e.Datastores() {
				dv, err := s.st.PutDatastoreVersion(ctx, model.DatastoreVersion{
					DatastoreName: ds, Name: v.Name, Version: v.Version, Engine: name, Active: true,
				}, i == 0)
				if err != nil {
					return fmt.Errorf("service: register %s %s: %w", ds, v.Name, err)
				}
				offered[ds+"\x00"+v.Name] = true
				s.log.Info("datastore version offered", "datastore", ds, "version", dv.Name, "engine", name, "engine_version", v.Version)
			}
		}
		if err := s.retireVersions(ctx, name, offered); err != nil {
			return err
		}
	}
	return nil
}

// retireVersions makes the active versions of engine that are not in
// offered inactive.
func (s *Catalog) retireVersions(ctx context.Context, engine string, offered map[string]bool) error {
	all, err := s.st.ListDatastores(ctx)
	if err != nil {
		return fmt.Errorf("service: seed catalogue: %w", err)
	}
	for _, d := range all {
		for _, v := range d.Versions {
			if v.Engine != engine || !v.Active || offered[d.Name+"\x00"+v.Name] {
				continue
			}
			v.Active = false
			v.DatastoreName = d.Name
			if _, err := s.st.PutDatastoreVersion(ctx, v, false); err != nil {
				return fmt.Errorf("service: retire %s %s: %w", d.Name, v.Name, err)
			}
			s.log.Info("datastore version no longer offered", "datastore", d.Name, "version", v.Name, "engine", engine)
		}
	}
	return nil
}

// ListFlavors implements api.Backend.
func (s *Catalog) ListFlavors(ctx context.Context) ([]model.Flavor, error) {
	return s.st.ListFlavors(ctx)
}

// GetFlavor implements api.Backend.
func (s *Catalog) GetFlavor(ctx context.Context, id int) (*model.Flavor, error) {
	f, err := s.st.GetFlavor(ctx, id)
	if isNotFound(err) {
		return nil, fault.Errorf(fault.NotFound, "flavor.get", "Resource %d cannot be found.", id)
	}
	return f, err
}

// ListDatastores implements api.Backend: only active versions of engines
// that are configured are listed.
func (s *Catalog) ListDatastores(ctx context.Context) ([]model.Datastore, error) {
	return s.offeredDatastores(ctx)
}

// offeredDatastores returns the datastores with the versions an engine of
// this service runs and that are active.
func (s *deps) offeredDatastores(ctx context.Context) ([]model.Datastore, error) {
	all, err := s.st.ListDatastores(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]model.Datastore, 0, len(all))
	for _, d := range all {
		var vs []model.DatastoreVersion
		for _, v := range d.Versions {
			if _, ok := s.cfg.Engines[v.Engine]; ok && v.Active {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			continue
		}
		d.Versions = vs
		out = append(out, d)
	}
	return out, nil
}

func (s *deps) versionByID(ctx context.Context, id string) (*model.DatastoreVersion, error) {
	all, err := s.st.ListDatastores(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range all {
		for _, v := range d.Versions {
			if v.ID == id {
				return &v, nil
			}
		}
	}
	return nil, fmt.Errorf("service: datastore version %s: %w", id, errNotFound)
}

// resolveDatastore picks the datastore version a create asks for
// (reference §7.3): unknown type → 404, unknown version → 400.
func (s *deps) resolveDatastore(ctx context.Context, typ, version string) (*model.Datastore, *model.DatastoreVersion, error) {
	const op = "instance.create"
	all, err := s.offeredDatastores(ctx)
	if err != nil {
		return nil, nil, err
	}
	if typ == "" {
		typ = s.cfg.DefaultDatastore
	}
	if typ == "" {
		return nil, nil, fault.New(fault.Invalid, op, "Please specify datastore: no default datastore is configured.")
	}
	var ds *model.Datastore
	for i := range all {
		if all[i].ID == typ || strings.EqualFold(all[i].Name, typ) {
			ds = &all[i]
			break
		}
	}
	if ds == nil {
		return nil, nil, fault.Errorf(fault.NotFound, op, "Datastore '%s' cannot be found.", typ)
	}
	if version == "" {
		for i := range ds.Versions {
			if ds.Versions[i].ID == ds.DefaultVersionID {
				return ds, &ds.Versions[i], nil
			}
		}
		if len(ds.Versions) > 0 {
			return ds, &ds.Versions[0], nil
		}
		return nil, nil, fault.Errorf(fault.Invalid, op, "Default version for datastore '%s' not found.", ds.Name)
	}
	for i := range ds.Versions {
		v := &ds.Versions[i]
		if v.ID == version || v.Name == version || v.Version == version {
			return ds, v, nil
		}
	}
	return nil, nil, fault.Errorf(fault.Invalid, op, "Datastore version '%s' cannot be found.", version)
}

// resolveFlavor finds the flavor of a create request; unknown → 400 as in
// Trove ("Resource X cannot be found.").
func (s *deps) resolveFlavor(ctx context.Context, ref string) (*model.Flavor, error) {
	id, err := strconv.Atoi(ref)
	if err == nil {
		f, err := s.st.GetFlavor(ctx, id)
		if err == nil {
			return f, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
	}
	return nil, fault.Errorf(fault.Invalid, "instance.create", "Resource %s cannot be found.", ref)
}
