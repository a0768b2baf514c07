// Package cli implements hoard's own client commands (`hoard login`,
// `hoard instance ...`, `hoard db ...`, ...) on github.com/spf13/cobra. They
// talk to any Cloud Databases v1.0 / Trove API, hoard's first, through
// gophercloud: the login is a Keystone login with
// [openstack.AuthenticatedClient], the database endpoint comes from the
// catalog with [openstack.NewDBV1], and every call that gophercloud's db/v1
// packages cover goes through them. Backups, restores and replication,
// which gophercloud lacks, use its generic client calls.
//
// # Command line
//
// Commands are registered with register ("instance create", ...) and built
// into a cobra tree per run; a new first word needs a line in groups. Global
// flags (--os-cloud, -o, -c, --timeout) go anywhere on the line. Help
// (--help, -h, hoard help ...) goes to standard output and exits 0; a
// mistyped command or flag exits 2 with a "did you mean" on standard error.
// `hoard completion bash|zsh|fish` writes a completion script; instance and
// backup arguments complete to the project's names. Instances and backups
// are addressed by id or by name; a name two of them share is an error
// naming both ids, and creating a second instance of a name warns.
//
// # Credentials
//
// With --os-cloud or OS_CLOUD the credentials come from clouds.yaml, looked
// up as the OpenStack CLI does (./clouds.yaml,
// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml, or
// OS_CLIENT_CONFIG_FILE). Otherwise they come from the OS_* environment
// variables (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...),
// as written by hoard to hoard-data/admin-openrc. A password they leave out
// (the login's, a --users entry without one, user create's, instance
// connect's) is asked for on the terminal with echo off (golang.org/x/term).
//
// # Output
//
// Results print as a table, or with -o json, yaml or value (values only,
// space separated, as the OpenStack CLI's -f value); -c COLUMN (repeatable)
// keeps the named columns of a list or fields of an object, by table header
// or JSON key. Progress of --wait goes to standard error, so that standard
// output stays parseable; --wait gives up after --timeout (default 30m).
// Failures print the API's fault (name, code and message) and exit 1;
// usage errors exit 2.
//
// [openstack.AuthenticatedClient]: https://pkg.go.dev/github.com/gophercloud/gophercloud/v2/openstack#AuthenticatedClient
// [openstack.NewDBV1]: https://pkg.go.dev/github.com/gophercloud/gophercloud/v2/openstack#NewDBV1
package cli
