package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/hoard-db/hoard/internal/model"
)

// Instance lists are the largest answers hoard gives (a page of 100
// summaries is about 68 KB) and encoding them by reflection was a fifth of
// the CPU of GET /instances. The functions below append the JSON of the
// instance views directly. They write exactly the bytes encoding/json
// writes for the same values (field order and names from the struct tags,
// omitempty, null for nil slices and pointers, HTML left unescaped as in
// writeJSON); TestAppendInstanceList and FuzzAppendJSONString compare them
// with encoding/json, so a field added to a view without adding it here
// fails the tests.

// listBufs recycles the buffers lists are encoded into.
var listBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxPooledBuf is the largest buffer put back into listBufs.
const maxPooledBuf = 1 << 20

// writeInstanceList writes out as writeJSON(w, http.StatusOK, out) would.
func writeInstanceList(w http.ResponseWriter, out *instanceList) {
	bp := listBufs.Get().(*[]byte)
	b := appendInstanceList((*bp)[:0], out)
	b = append(b, '\n') // json.Encoder ends every value with a newline
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		listBufs.Put(bp)
	}
}

// appendInstanceList appends the JSON of l.
func appendInstanceList(b []byte, l *instanceList) []byte {
	b = append(b, `{"instances":`...)
	if l.Instances == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range l.Instances {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendInstanceView(b, &l.Instances[i])
		}
		b = append(b, ']')
	}
	if len(l.Links) > 0 {
		b = append(b, `,"links":`...)
		b = appendLinks(b, l.Links)
	}
	if len(l.InstancesLinks) > 0 {
		b = append(b, `,"instances_links":`...)
		b = appendLinks(b, l.InstancesLinks)
	}
	return append(b, '}')
}

// appendInstanceView appends the JSON of v.
func appendInstanceView(b []byte, v *instanceView) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, v.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, v.Name)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(v.Status))
	b = append(b, `,"links":`...)
	b = appendLinks(b, v.Links)
	b = append(b, `,"flavor":{"id":`...)
	b = appendJSONString(b, v.Flavor.ID)
	b = append(b, `,"links":`...)
	b = appendLinks(b, v.Flavor.Links)
	b = append(b, `},"datastore":{"type":`...)
	b = appendJSONString(b, v.Datastore.Type)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, v.Datastore.Version)
	b = append(b, `},"volume":{"size":`...)
	b = strconv.AppendInt(b, int64(v.Volume.Size), 10)
	if v.Volume.Used != nil {
		b = append(b, `,"used":`...)
		b = appendJSONFloat(b, *v.Volume.Used)
	}
	b = append(b, '}')
	if v.Hostname != "" {
		b = append(b, `,"hostname":`...)
		b = appendJSONString(b, v.Hostname)
	}
	if len(v.IP) > 0 {
		b = append(b, `,"ip":[`...)
		for i, ip := range v.IP {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, ip)
		}
		b = append(b, ']')
	}
	if len(v.Addresses) > 0 {
		b = append(b, `,"addresses":[`...)
		for i := range v.Addresses {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"address":`...)
			b = appendJSONString(b, v.Addresses[i].Address)
			b = append(b, `,"type":`...)
			b = appendJSONString(b, v.Addresses[i].Type)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if v.Port != 0 {
		b = append(b, `,"port":`...)
		b = strconv.AppendInt(b, int64(v.Port), 10)
	}
	if v.Created != "" {
		b = append(b, `,"created":`...)
		b = appendJSONString(b, v.Created)
	}
	if v.Updated != "" {
		b = append(b, `,"updated":`...)
		b = appendJSONString(b, v.Updated)
	}
	if f := v.Fault; f != nil {
		b = append(b, `,"fault":{"message":`...)
		b = appendJSONString(b, f.Message)
		b = append(b, `,"created":`...)
		b = appendJSONString(b, f.Created)
		b = append(b, `,"details":`...)
		if f.Details == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *f.Details)
		}
		b = append(b, '}')
	}
	if c := v.Configuration; c != nil {
		b = append(b, `,"configuration":{"id":`...)
		b = appendJSONString(b, c.ID)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, c.Name)
		b = append(b, `,"links":`...)
		b = appendLinks(b, c.Links)
		b = append(b, '}')
	}
	if rp := v.ReplicaOf; rp != nil {
		b = append(b, `,"replica_of":`...)
		b = appendReplicaRef(b, rp)
	}
	if len(v.Replicas) > 0 {
		b = append(b, `,"replicas":[`...)
		for i := range v.Replicas {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendReplicaRef(b, &v.Replicas[i])
		}
		b = append(b, ']')
	}
	if rs := v.Replication; rs != nil {
		b = append(b, `,"replication":{"state":`...)
		b = appendJSONString(b, rs.State)
		b = append(b, `,"lag_seconds":`...)
		if rs.LagSeconds == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONFloat(b, *rs.LagSeconds)
		}
		if rs.Error != "" {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, rs.Error)
		}
		b = append(b, '}')
	}
	if v.HAID != "" {
		b = append(b, `,"ha_id":`...)
		b = appendJSONString(b, v.HAID)
	}
	if a := v.Access; a != nil {
		b = append(b, `,"access":{"is_public":`...)
		b = strconv.AppendBool(b, a.IsPublic)
		b = append(b, `,"allowed_cidrs":`...)
		if a.AllowedCIDRs == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i, c := range a.AllowedCIDRs {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, c)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendReplicaRef appends the JSON of r.
func appendReplicaRef(b []byte, r *replicaRefView) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	if r.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, r.Name)
	}
	b = append(b, `,"links":`...)
	b = appendLinks(b, r.Links)
	return append(b, '}')
}

// appendLinks appends the JSON of links (null if nil).
func appendLinks(b []byte, links []link) []byte {
	if links == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range links {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"href":`...)
		b = appendJSONString(b, links[i].Href)
		b = append(b, `,"rel":`...)
		b = appendJSONString(b, links[i].Rel)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONFloat appends f as encoding/json does. Only the detail view's
// volume usage is a float, and lists never carry it: this is not a hot path.
func appendJSONFloat(b []byte, f float64) []byte {
	out, err := json.Marshal(f)
	if err != nil { // NaN or an infinity: encoding/json refuses them too
		return append(b, "null"...)
	}
	return append(b, out...)
}

// jsonSafe[c] reports whether ASCII byte c is written as it is inside a JSON
// string by encoding/json with HTML escaping off: every byte but the
// control characters, '"' and '\\'.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json
// does with SetEscapeHTML(false): invalid UTF-8 becomes \ufffd, U+2028 and
// U+2029 are escaped, and so are '"', '\\' and the control characters
// (\b, \f, \n, \r, \t by name, the others as \u00XX).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// summaryEncoder appends the summary views of instances (what
// appendInstanceView writes for linker.instanceView) without building the
// views: the parts every instance of a page shares (the link prefixes, a
// flavor's object) are escaped once per page rather than once per instance.
type summaryEncoder struct {
	self, bookmark string // JSON-escaped link prefixes, no quotes
	flavorID       int    // flavor of flavorJSON
	flavorJSON     []byte
	lk             *linker
}

// newSummaryEncoder returns an encoder for lk's links, or nil if the links'
// prefix is not valid UTF-8 (escaping it apart from the ids could then
// differ from escaping whole links).
func newSummaryEncoder(lk *linker) *summaryEncoder {
	if !utf8.ValidString(lk.tenant) {
		return nil
	}
	esc := func(s string) string {
		b := appendJSONString(nil, s)
		return string(b[1 : len(b)-1])
	}
	return &summaryEncoder{self: esc(lk.tenant + "/instances/"), bookmark: esc(lk.base + "/instances/"), flavorID: -1, lk: lk}
}

// appendSummary appends the JSON of lk.instanceView(in).
func (e *summaryEncoder) appendSummary(b []byte, in *model.Instance) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, in.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, in.Name)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(in.Status))
	id := url.PathEscape(in.ID) // ASCII: needs no JSON escape but for '"' and '\\', which it escapes
	b = append(b, `,"links":[{"href":"`...)
	b = append(b, e.self...)
	b = append(b, id...)
	b = append(b, `","rel":"self"},{"href":"`...)
	b = append(b, e.bookmark...)
	b = append(b, id...)
	b = append(b, `","rel":"bookmark"}],"flavor":`...)
	if e.flavorID != in.FlavorID || e.flavorJSON == nil {
		fid := strconv.Itoa(in.FlavorID)
		f := append([]byte(`{"id":`), appendJSONString(nil, fid)...)
		f = append(f, `,"links":`...)
		f = appendLinks(f, e.lk.flavor(fid))
		e.flavorID, e.flavorJSON = in.FlavorID, append(f, '}')
	}
	b = append(b, e.flavorJSON...)
	b = append(b, `,"datastore":{"type":`...)
	b = appendJSONString(b, in.Datastore)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, in.DatastoreVersion)
	b = append(b, `},"volume":{"size":`...)
	b = strconv.AppendInt(b, int64(in.VolumeSize), 10)
	b = append(b, '}')
	if addr := in.Address; addr != "" {
		b = append(b, `,"hostname":`...)
		b = appendJSONString(b, addr)
		if isIP(addr) { // see setAddress
			b = append(b, `,"ip":[`...)
			b = appendJSONString(b, addr)
			b = append(b, `],"addresses":[{"address":`...)
			b = appendJSONString(b, addr)
			b = append(b, `,"type":"private"}]`...)
		}
	}
	return append(b, '}')
}

// writeSummaryList writes the list of the summary views of items with next
// as its links, as writeInstanceList would.
func (e *summaryEncoder) writeSummaryList(w http.ResponseWriter, items []*model.Instance, next []link) {
	bp := listBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"instances":[`...)
	for i, in := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.appendSummary(b, in)
	}
	b = append(b, ']')
	if len(next) > 0 {
		b = append(b, `,"links":`...)
		b = appendLinks(b, next)
		b = append(b, `,"instances_links":`...)
		b = appendLinks(b, next)
	}
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		listBufs.Put(bp)
	}
}
