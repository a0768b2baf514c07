package sqlrow

import (
	"encoding/json"

	"github.com/hoard-db/hoard/internal/model"
)

// haSpec is the JSON of an HA group's spec column: every field of
// model.HAGroup that has no column of its own.
type haSpec struct {
	Built              bool                  `json:"built,omitempty"`
	Deleting           bool                  `json:"deleting,omitempty"`
	Datastore          string                `json:"datastore"`
	DatastoreVersion   string                `json:"datastore_version"`
	DatastoreVersionID string                `json:"datastore_version_id"`
	FlavorID           int                   `json:"flavor_id"`
	VolumeSize         int                   `json:"volume_size"`
	ConfigurationID    string                `json:"configuration_id,omitempty"`
	WritePort          int                   `json:"write_port"`
	ReadPort           int                   `json:"read_port"`
	SourceID           string                `json:"source_id"`
	Networks           []string              `json:"networks,omitempty"`
	Op                 string                `json:"op,omitempty"`
	ACLs               []string              `json:"acls,omitempty"`
	Pending            []model.HAReplicaSpec `json:"pending,omitempty"`
	Replicas           int                   `json:"replicas"`
	Events             []model.HAEvent       `json:"events,omitempty"`
}

// HASpec encodes the spec column of group g.
func HASpec(g *model.HAGroup) ([]byte, error) {
	return json.Marshal(haSpec{
		Built: g.Built, Deleting: g.Deleting,
		Datastore: g.Datastore, DatastoreVersion: g.DatastoreVersion, DatastoreVersionID: g.DatastoreVersionID,
		FlavorID: g.FlavorID, VolumeSize: g.VolumeSize, ConfigurationID: g.ConfigurationID,
		WritePort: g.WritePort, ReadPort: g.ReadPort, SourceID: g.SourceID, Networks: g.Networks, Op: g.Op, ACLs: g.ACLs, Pending: g.Pending, Replicas: g.ReplicaCount, Events: g.Events,
	})
}

// SetHASpec decodes a spec column into g.
func SetHASpec(g *model.HAGroup, b []byte) error {
	var s haSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	g.Built, g.Deleting = s.Built, s.Deleting
	g.Datastore, g.DatastoreVersion, g.DatastoreVersionID = s.Datastore, s.DatastoreVersion, s.DatastoreVersionID
	g.FlavorID, g.VolumeSize, g.ConfigurationID = s.FlavorID, s.VolumeSize, s.ConfigurationID
	g.WritePort, g.ReadPort = s.WritePort, s.ReadPort
	g.SourceID, g.Networks, g.Op = s.SourceID, s.Networks, s.Op
	g.ACLs, g.Pending, g.ReplicaCount, g.Events = s.ACLs, s.Pending, s.Replicas, s.Events
	return nil
}
