package api

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
)

// timeLayout is Trove's timestamp: naive UTC, no zone suffix, no fraction.
// gophercloud parses exactly this layout and fails on a trailing "Z".
const timeLayout = "2006-01-02T15:04:05"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// link is a resource link.
type link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

// baseURL returns the base of the request's links: the configured public
// URL ([Config.PublicURL]) if there is one. Only without one is it
// scheme://host of the request, https when the connection is TLS or a proxy
// says so in X-Forwarded-Proto; Host and X-Forwarded-Proto are the client's
// to choose, so hoard serve always configures a public URL.
func baseURL(r *http.Request) string {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok && ri.base != "" {
		return ri.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		p, _, _ = strings.Cut(p, ",")
		switch p = strings.ToLower(strings.TrimSpace(p)); p {
		case "http", "https":
			scheme = p
		}
	}
	return scheme + "://" + r.Host
}

// links returns the self and bookmark links of collection/id:
// <base>/v1.0/<tenant>/<collection>/<id> and <base>/<collection>/<id>.
func links(r *http.Request, tenant, collection, id string) []link {
	base := baseURL(r)
	id = url.PathEscape(id)
	return []link{
		{Href: base + "/v1.0/" + url.PathEscape(tenant) + "/" + collection + "/" + id, Rel: "self"},
		{Href: base + "/" + collection + "/" + id, Rel: "bookmark"},
	}
}

// linker makes the links of the views of one request: it works out the
// base URL and escapes the tenant once rather than once per link, and
// reuses the flavor links of consecutive instances with the same flavor. Its
// links are the same as links'. Not safe for concurrent use.
type linker struct {
	base     string // scheme://host
	tenant   string // base + "/v1.0/" + the escaped tenant
	flavorID string // the flavor of flavorLinks
	// flavorLinks are the links of flavor flavorID, shared by the views
	// (views are never modified once built).
	flavorLinks []link
}

func newLinker(r *http.Request, tenant string) *linker {
	base := baseURL(r)
	return &linker{base: base, tenant: base + "/v1.0/" + url.PathEscape(tenant)}
}

// links is links(r, tenant, collection, id).
func (lk *linker) links(collection, id string) []link {
	id = url.PathEscape(id)
	return []link{
		{Href: lk.tenant + "/" + collection + "/" + id, Rel: "self"},
		{Href: lk.base + "/" + collection + "/" + id, Rel: "bookmark"},
	}
}

// flavor returns the links of flavor id.
func (lk *linker) flavor(id string) []link {
	if lk.flavorLinks == nil || lk.flavorID != id {
		lk.flavorID, lk.flavorLinks = id, lk.links("flavors", id)
	}
	return lk.flavorLinks
}

// flavorView is a flavor: "id" is a JSON number (gophercloud decodes an int),
// "str_id" the same id as a string.
type flavorView struct {
	ID    int    `json:"id"`
	StrID string `json:"str_id"`
	Name  string `json:"name"`
	RAM   int    `json:"ram"`
	VCPUs int    `json:"vcpus"`
	Disk  int    `json:"disk"`
	Links []link `json:"links"`
}

func newFlavorView(r *http.Request, tenant string, f *model.Flavor) flavorView {
	id := strconv.Itoa(f.ID)
	return flavorView{ID: f.ID, StrID: id, Name: f.Name, RAM: f.RAM, VCPUs: f.VCPUs, Disk: f.Disk,
		Links: links(r, tenant, "flavors", id)}
}

// datastoreView is a datastore with its versions.
type datastoreView struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	DefaultVersion string        `json:"default_version,omitempty"`
	Links          []link        `json:"links"`
	Versions       []versionView `json:"versions"`
}

// versionView is a datastore version. Datastore (the datastore id) is set
// only on a standalone version, Active only for admins.
type versionView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Datastore string `json:"datastore,omitempty"`
	Version   string `json:"version,omitempty"`
	Active    *bool  `json:"active,omitempty"`
	Links     []link `json:"links"`
}

func newVersionView(r *http.Request, tenant string, v *model.DatastoreVersion, standalone, admin bool) versionView {
	vv := versionView{ID: v.ID, Name: v.Name, Version: v.Version, Links: links(r, tenant, "datastores/versions", v.ID)}
	if standalone {
		vv.Datastore = v.DatastoreID
	}
	if admin {
		active := v.Active
		vv.Active = &active
	}
	return vv
}

func newDatastoreView(r *http.Request, tenant string, ds *model.Datastore, admin bool) datastoreView {
	dv := datastoreView{ID: ds.ID, Name: ds.Name, DefaultVersion: ds.DefaultVersionID,
		Links: links(r, tenant, "datastores", ds.ID), Versions: []versionView{}}
	for i := range ds.Versions {
		if v := &ds.Versions[i]; v.Active || admin {
			dv.Versions = append(dv.Versions, newVersionView(r, tenant, v, false, admin))
		}
	}
	return dv
}

// instanceFlavorView is the flavor inside an instance: its id is a JSON
// string (gophercloud decodes a string), unlike the flavor resource's.
type instanceFlavorView struct {
	ID    string `json:"id"`
	Links []link `json:"links"`
}

type instanceDatastoreView struct {
	Type    string `json:"type"`
	Version string `json:"version"`
}

type volumeView struct {
	Size int      `json:"size"`
	Used *float64 `json:"used,omitempty"`
}

type addressView struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type instanceFaultView struct {
	Message string  `json:"message"`
	Created string  `json:"created"`
	Details *string `json:"details"` // null unless the caller is an admin
}

// instanceView is the summary view (lists) and, with Created, Updated and
// Fault, the detail view (create, show, /instances/detail).
type instanceView struct {
	ID        string                `json:"id"`
	Name      string                `json:"name"`
	Status    model.InstanceStatus  `json:"status"`
	Links     []link                `json:"links"`
	Flavor    instanceFlavorView    `json:"flavor"`
	Datastore instanceDatastoreView `json:"datastore"`
	Volume    volumeView            `json:"volume"`
	Hostname  string                `json:"hostname,omitempty"`
	IP        []string              `json:"ip,omitempty"`
	Addresses []addressView         `json:"addresses,omitempty"`
	// Port is the engine's port at Hostname (detail view; an extra that
	// clients ignore).
	Port    int                `json:"port,omitempty"`
	Created string             `json:"created,omitempty"`
	Updated string             `json:"updated,omitempty"`
	Fault   *instanceFaultView `json:"fault,omitempty"`
	// Configuration is the attached configuration group (detail view).
	Configuration *configurationRefView `json:"configuration,omitempty"`
	// ReplicaOf is the source of a replica (detail view).
	ReplicaOf *replicaRefView `json:"replica_of,omitempty"`
	// Replicas are the replicas of a source (show).
	Replicas []replicaRefView `json:"replicas,omitempty"`
	// Replication is how a replica follows its source (show; an extra
	// that clients ignore).
	Replication *replicationView `json:"replication,omitempty"`
	// HAID is the HA group of a member (Rackspace's ha_id; detail view).
	HAID string `json:"ha_id,omitempty"`
	// Access is who may connect (Trove HEAD's access; detail view).
	Access *accessView `json:"access,omitempty"`
}

// accessView is Trove HEAD's instance access: never public, and the
// networks allowed to connect (an empty list: every network).
type accessView struct {
	IsPublic     bool     `json:"is_public"`
	AllowedCIDRs []string `json:"allowed_cidrs"`
}

// replicaRefView names an instance of a replication topology: Trove's
// {id, links}, with Rackspace's name where hoard knows it.
type replicaRefView struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Links []link `json:"links"`
}

// replicationView is a replica's replication health: its state (running,
// connecting, broken), its lag behind the source in seconds (null when
// unknown) and the engine's last replication error.
type replicationView struct {
	State      string   `json:"state"`
	LagSeconds *float64 `json:"lag_seconds"`
	Error      string   `json:"error,omitempty"`
}

// instanceView returns the summary view of in.
func (lk *linker) instanceView(in *model.Instance) instanceView {
	flavorID := strconv.Itoa(in.FlavorID)
	v := instanceView{
		ID: in.ID, Name: in.Name, Status: in.Status,
		Links:     lk.links("instances", in.ID),
		Flavor:    instanceFlavorView{ID: flavorID, Links: lk.flavor(flavorID)},
		Datastore: instanceDatastoreView{Type: in.Datastore, Version: in.DatastoreVersion},
		Volume:    volumeView{Size: in.VolumeSize},
	}
	setAddress(&v, in.Address)
	return v
}

// setAddress shows an instance's address. An IP address goes into
// "hostname", "ip" and "addresses" (Trove without DNS support); a DNS name
// (the Kubernetes driver's Service names) only into "hostname", as Trove with
// DNS support and Rackspace show it: "ip" and "addresses" list IP addresses,
// which clients may parse as such.
func setAddress(v *instanceView, addr string) {
	switch {
	case addr == "":
	case isIP(addr):
		v.Hostname = addr
		v.IP = []string{addr}
		v.Addresses = []addressView{{Address: addr, Type: "private"}}
	default:
		v.Hostname = addr
	}
}

// isIP reports whether s is an IPv4 or IPv6 address.
func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func newInstanceDetailView(r *http.Request, tenant string, in *model.Instance, used *float64, admin bool) instanceView {
	return newLinker(r, tenant).instanceDetailView(in, used, admin)
}

// instanceDetailView is newInstanceDetailView.
func (lk *linker) instanceDetailView(in *model.Instance, used *float64, admin bool) instanceView {
	v := lk.instanceView(in)
	v.Created, v.Updated = formatTime(in.Created), formatTime(in.Updated)
	v.Volume.Used = used
	if v.Hostname != "" {
		v.Port = in.Port
	}
	if f := in.Fault; f != nil {
		fv := &instanceFaultView{Message: f.Message, Created: formatTime(f.Created)}
		if admin && f.Details != "" {
			d := f.Details
			fv.Details = &d
		}
		v.Fault = fv
	}
	if in.ReplicaOf != "" {
		v.ReplicaOf = &replicaRefView{ID: in.ReplicaOf, Links: lk.links("instances", in.ReplicaOf)}
	}
	v.HAID = in.HAID
	v.Access = &accessView{AllowedCIDRs: in.AllowedCIDRs}
	if v.Access.AllowedCIDRs == nil {
		v.Access.AllowedCIDRs = []string{}
	}
	return v
}

func detailOf(r *http.Request, tenant string, d *service.InstanceDetail) instanceView {
	v := newInstanceDetailView(r, tenant, d.Instance, d.VolumeUsedGB, reqInfoFrom(r.Context()).isAdmin())
	if id := d.ConfigurationID; id != "" {
		v.Configuration = &configurationRefView{ID: id, Name: d.ConfigurationName, Links: links(r, tenant, "configurations", id)}
	}
	for _, rp := range d.Replicas {
		v.Replicas = append(v.Replicas, replicaRefView{ID: rp.ID, Name: rp.Name, Links: links(r, tenant, "instances", rp.ID)})
	}
	if rs := d.Replication; rs != nil {
		rv := &replicationView{State: string(rs.State), Error: rs.Error}
		if rs.LagSeconds >= 0 {
			lag := rs.LagSeconds
			rv.LagSeconds = &lag
		}
		v.Replication = rv
	}
	return v
}

func (ri *reqInfo) isAdmin() bool { return ri.principal != nil && ri.principal.IsAdmin() }
