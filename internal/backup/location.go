package backup

import (
	"net/url"
	"path"
	"strings"
)

// TenantLocation returns the locationRef a tenant is shown for an artifact
// whose [Storage.Location] is location: where the artifact is, without the
// layout of hoard's host or network. Admins are shown location itself.
//
//   - A [Dir] artifact, file:///var/lib/hoard/backups/<key>, is
//     "local:<key>": the kind of storage and the artifact's name in it, not
//     the directory hoard keeps it in.
//   - An [S3] object, http(s)://<endpoint>/<bucket>/<prefix>/<key>, is
//     "s3://<bucket>/<prefix>/<key>", the usual S3 URI: bucket and key are
//     the operator's to name, the endpoint (often an address inside the
//     operator's network) is left out.
//   - Anything else is "": a location TenantLocation does not know how to
//     shorten is not shown at all.
//
// It parses what the Location methods write, and locations stored by
// earlier versions: a change to either Location method must be made here
// too.
func TenantLocation(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "file":
		// Dir keys are the artifact's file name (hoard's are flat).
		if name := path.Base(u.Path); name != "." && name != "/" && checkKey(name) == nil {
			return "local:" + name
		}
	case "http", "https":
		if obj := strings.TrimPrefix(u.Path, "/"); obj != "" && strings.Contains(obj, "/") {
			return "s3://" + obj
		}
	}
	return ""
}
