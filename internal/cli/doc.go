// Package cli implements hoard's own client commands (`hoard login`,
// `hoard instance ...`, `hoard db ...`, ...). They talk to any Cloud
// Databases v1.0 / Trove API, hoard's first, through gophercloud: the
// login is a Keystone login with [openstack.AuthenticatedClient], the
// database endpoint comes from the catalog with [openstack.NewDBV1], and
// every call that gophercloud's db/v1 packages cover goes through them.
// Backups, which gophercloud lacks, use its generic client calls.
//
// # Credentials
//
// With --os-cloud or OS_CLOUD the credentials come from clouds.yaml, looked
// up as the OpenStack CLI does (./clouds.yaml,
// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml, or
// OS_CLIENT_CONFIG_FILE). Otherwise they come from the OS_* environment
// variables (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...),
// as written by hoard to hoard-data/admin-openrc.
//
// # Output
//
// Results print as a table unless -o json is given. Progress of --wait
// goes to standard error, so that standard output stays parseable.
// Failures print the API's fault (name, code and message) and exit 1;
// usage errors exit 2.
//
// [openstack.AuthenticatedClient]: https://pkg.go.dev/github.com/gophercloud/gophercloud/v2/openstack#AuthenticatedClient
// [openstack.NewDBV1]: https://pkg.go.dev/github.com/gophercloud/gophercloud/v2/openstack#NewDBV1
package cli
