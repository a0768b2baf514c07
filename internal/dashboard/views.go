package dashboard

import (
	"encoding/json"
	"sort"
)

// The API's JSON shapes, as far as the pages use them.
type (
	instance struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Flavor struct {
			ID string `json:"id"`
		} `json:"flavor"`
		Datastore struct {
			Type    string `json:"type"`
			Version string `json:"version"`
		} `json:"datastore"`
		Volume struct {
			Size int      `json:"size"`
			Used *float64 `json:"used"`
		} `json:"volume"`
		Hostname string   `json:"hostname"`
		IP       []string `json:"ip"`
		Port     int      `json:"port"`
		Created  string   `json:"created"`
		Updated  string   `json:"updated"`
		Fault    *struct {
			Message string `json:"message"`
		} `json:"fault"`
		Configuration *ref  `json:"configuration"`
		ReplicaOf     *ref  `json:"replica_of"`
		Replicas      []ref `json:"replicas"`
		Replication   *struct {
			State      string   `json:"state"`
			LagSeconds *float64 `json:"lag_seconds"`
			Error      string   `json:"error"`
		} `json:"replication"`
		HAID string `json:"ha_id"`
	}
	ref struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	flavor struct {
		ID    int    `json:"id"`
		StrID string `json:"str_id"`
		Name  string `json:"name"`
		RAM   int    `json:"ram"`
		VCPUs int    `json:"vcpus"`
	}
	datastoreJSON struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		DefaultVersion string `json:"default_version"`
		Versions       []struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Active *bool  `json:"active"`
		} `json:"versions"`
	}
	database struct {
		Name string `json:"name"`
	}
	dbUser struct {
		Name      string     `json:"name"`
		Host      string     `json:"host"`
		Databases []database `json:"databases"`
	}
	backup struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Description *string  `json:"description"`
		InstanceID  string   `json:"instance_id"`
		Status      string   `json:"status"`
		Size        *float64 `json:"size"`
		Created     string   `json:"created"`
		Updated     string   `json:"updated"`
		Type        string   `json:"type"`
		ParentID    *string  `json:"parent_id"`
		FailReason  string   `json:"fail_reason"`
		Datastore   *struct {
			Type    string `json:"type"`
			Version string `json:"version"`
		} `json:"datastore"`
	}
	schedule struct {
		ID         string `json:"id"`
		Action     string `json:"action"`
		DayOfWeek  int    `json:"day_of_week"`
		Hour       int    `json:"hour"`
		Minute     int    `json:"minute"`
		InstanceID string `json:"instance_id"`
		NextRun    string `json:"next_run"`
		Running    bool   `json:"running"`
	}
	configuration struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name"`
		Description          *string        `json:"description"`
		DatastoreName        string         `json:"datastore_name"`
		DatastoreVersionID   string         `json:"datastore_version_id"`
		DatastoreVersionName string         `json:"datastore_version_name"`
		Created              string         `json:"created"`
		Values               map[string]any `json:"values"`
		InstanceCount        *int           `json:"instance_count"`
	}
	parameter struct {
		Name            string       `json:"name"`
		Type            string       `json:"type"`
		Min             *json.Number `json:"min"` // exact: ranges reach 2^64-1
		Max             *json.Number `json:"max"`
		RestartRequired bool         `json:"restart_required"`
	}
)

// Address is where the instance's engine listens ("" before it has one).
func (in *instance) Address() string {
	if len(in.IP) > 0 {
		return in.IP[0]
	}
	return in.Hostname
}

// Engine is the client family of the instance's datastore.
func (in *instance) Engine() string { return engineOf(in.Datastore.Type) }

// Transient reports whether the status is one that changes by itself.
func (in *instance) Transient() bool { return transient(in.Status) }

func transient(status string) bool {
	switch status {
	case "ACTIVE", "ERROR", "FAILED", "SHUTDOWN", "BLOCKED", "HEALTHY", "COMPLETED":
		return false
	}
	return true
}

// versionChoice is one datastore version offered by the create form.
type versionChoice struct {
	Value string // "type:version"
	Label string
}

// versionChoices lists every active datastore version, sorted.
func versionChoices(ds []datastoreJSON) []versionChoice {
	var out []versionChoice
	for _, d := range ds {
		for _, v := range d.Versions {
			if v.Active != nil && !*v.Active {
				continue
			}
			label := d.Name + " " + v.Name
			if v.ID == d.DefaultVersion {
				label += " (default)"
			}
			out = append(out, versionChoice{Value: d.Name + ":" + v.Name, Label: label})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}
