package service

import (
	"context"
	"fmt"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// A configuration group's values must fit in the RAM of every flavor they
// meet: checkMemory is called wherever a group meets a flavor (an instance
// created with a group, a group attached, a group's values changed while
// instances use it, an instance with a group resized to less RAM). The
// engines count the memory ([datastore.MemorySizer]); the service only
// compares it with the flavor.

// checkMemory refuses (422) values that commit more memory than the RAM
// of flavor f, as eng counts it. instanceID, if not empty, names the
// instance of f in the message. An engine without datastore.MemorySizer
// accepts any values.
func checkMemory(op string, eng datastore.Engine, values map[string]string, f *model.Flavor, instanceID string) error {
	ms, ok := eng.(datastore.MemorySizer)
	if !ok || len(values) == 0 {
		return nil
	}
	ram := float64(f.RAM) * (1 << 20)
	for _, u := range ms.MemoryUse(values, f.RAM) {
		if u.Bytes > ram {
			of := ""
			if instanceID != "" {
				of = " of instance " + instanceID
			}
			return fault.Errorf(fault.Unprocessable, op, "%s exceeds the %d MB of RAM of flavor %s%s.", u.What, f.RAM, f.Name, of)
		}
	}
	return nil
}

// checkInstanceMemory is checkMemory for values on inst with its flavor.
func (s *deps) checkInstanceMemory(ctx context.Context, op string, inst *model.Instance, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	eng, err := s.engineFor(inst)
	if err != nil {
		return err
	}
	f, err := s.st.GetFlavor(ctx, inst.FlavorID)
	if err != nil {
		return fmt.Errorf("%s: flavor %d of instance %s: %w", op, inst.FlavorID, inst.ID, err)
	}
	return checkMemory(op, eng, values, f, "")
}

// attachedFlavor is an instance using a group, with its flavor.
type attachedFlavor struct {
	inst   *model.Instance
	flavor *model.Flavor
}

// attachedFlavors returns the flavors of insts (each read once), for
// checkAttachedMemory.
func (s *deps) attachedFlavors(ctx context.Context, op string, insts []*model.Instance) ([]attachedFlavor, error) {
	byID := map[int]*model.Flavor{}
	out := make([]attachedFlavor, 0, len(insts))
	for _, inst := range insts {
		f, ok := byID[inst.FlavorID]
		if !ok {
			var err error
			if f, err = s.st.GetFlavor(ctx, inst.FlavorID); err != nil {
				return nil, fmt.Errorf("%s: flavor %d of instance %s: %w", op, inst.FlavorID, inst.ID, err)
			}
			byID[inst.FlavorID] = f
		}
		out = append(out, attachedFlavor{inst: inst, flavor: f})
	}
	return out, nil
}

// checkAttachedMemory is checkMemory for a group's new values on every
// instance using it (all run the group's datastore version, so eng). The
// first instance whose flavor is too small refuses the whole change.
func checkAttachedMemory(op string, eng datastore.Engine, values map[string]string, attached []attachedFlavor) error {
	for _, a := range attached {
		if err := checkMemory(op, eng, values, a.flavor, a.inst.ID); err != nil {
			return err
		}
	}
	return nil
}

// checkResizeMemory is checkMemory for a flavor resize of inst to f: the
// values of inst's group (if any) must fit f's RAM. A resize to as much RAM
// or more is never refused: it cannot make a group fit less (even one
// stored before groups were checked).
func (s *deps) checkResizeMemory(ctx context.Context, op string, inst *model.Instance, f *model.Flavor) error {
	if inst.ConfigurationID == "" {
		return nil
	}
	cur, err := s.st.GetFlavor(ctx, inst.FlavorID)
	switch {
	case err == nil && f.RAM >= cur.RAM:
		return nil
	case err != nil && !isNotFound(err):
		return fmt.Errorf("%s: flavor %d of instance %s: %w", op, inst.FlavorID, inst.ID, err)
	}
	c, err := s.st.GetConfiguration(ctx, "", inst.ConfigurationID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: configuration group %s of instance %s: %w", op, inst.ConfigurationID, inst.ID, err)
	}
	eng, err := s.engineFor(inst)
	if err != nil {
		return err
	}
	return checkMemory(op, eng, c.Values, f, "")
}
