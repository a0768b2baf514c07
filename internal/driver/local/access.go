package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// Network access (driver.AccessEnforcer) is enforced with nftables, driven
// through the nft program (`nft -f -` with a generated script: each script
// is one atomic transaction of the kernel, so a filter is replaced whole or
// not at all).
//
// Every instance with allowed networks has a table of its own,
// inet hoard_<hash of Root>_<instance id>: several hoards (or tests) on one
// host never touch each other's tables, and replacing one instance's
// filter never touches another's. Its chains:
//
//   - output (hook output): a client on this host connecting to the
//     instance's address and port (and the port above it, Redis's TLS
//     port) passes here, where the kernel knows the connecting socket's
//     owner (meta skuid). It is let through when that owner is root (uid
//     0: hoard itself, its admin connections, backups and the HA group
//     proxy; the host's root can rewrite the filter anyway, so exempting
//     it gives away nothing), hoard's own user, the instance's engine user
//     or the engine user of a peer (a replica, the source, an HA group
//     member: replication connects engine to engine), or when its source
//     address is in an allowed network; else it is reset (reject with tcp
//     reset: the client sees "connection refused" at once).
//   - input (hook input): a client on another host (any interface but lo)
//     is let through only from an allowed network.
//
// Instances without networks have no table. Destroy removes the table;
// Close leaves it (engines keep running); Start, Restart and Recover apply
// it again (a host reboot empties the kernel's tables), and Recover
// removes the tables of instances it does not know.

// nftTimeout bounds one run of nft.
const nftTimeout = 30 * time.Second

// accessTablePrefix is the prefix of this driver's tables: hoard_ and
// the first 12 hex digits of the SHA-256 of the real Root.
func accessTablePrefix(realRoot string) string {
	sum := sha256.Sum256([]byte(realRoot))
	return "hoard_" + hex.EncodeToString(sum[:])[:12] + "_"
}

// accessTable is the table of instance id (ids are validID: letters,
// digits, '-', '_' and '.'; nft names take letters, digits and '_').
func (d *Driver) accessTable(id string) string {
	return d.nftPrefix + strings.NewReplacer("-", "_", ".", "_").Replace(id)
}

// probeNFT reports why nft cannot filter on this host, nil if it can.
func probeNFT(ctx context.Context) error {
	path, err := exec.LookPath("nft")
	if err != nil {
		return errors.New("the nft program (Debian package nftables) is not installed")
	}
	ctx, cancel := context.WithTimeout(ctx, nftTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "list", "tables").CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft list tables failed (hoard needs root or CAP_NET_ADMIN): %s", tailLine(out, err))
	}
	return nil
}

// tailLine is the last line of a tool's output, or err's text.
func tailLine(out []byte, err error) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return err.Error()
}

// AccessAvailable implements driver.AccessEnforcer.
func (d *Driver) AccessAvailable() error { return d.nftErr }

// SetAccess implements driver.AccessEnforcer: it replaces instance s's
// filter by one for s.Access (none when s.Access.Allowed is empty).
func (d *Driver) SetAccess(ctx context.Context, s driver.Spec) error {
	const op = "driver.local.access"
	if err := checkID(op, s.InstanceID); err != nil {
		return err
	}
	_, unlock, err := d.lock(ctx, op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	if err := d.setFilter(ctx, op, s, true); err != nil {
		return err
	}
	// The next start (the supervisor's after a crash, another hoard's
	// adoption) renders from the handle: keep its spec's access current.
	// It is written before the engine gets the list, so that a list
	// rendered but not reloaded (an error) differs from the handle's when
	// the service gives the old one back, and is rendered again.
	h, err := d.readHandle(s.InstanceID)
	if err != nil {
		return err
	}
	same := false
	if h != nil {
		// Same networks (only the peers changed): the engine has them.
		same = slices.Equal(h.Spec.Access.Allowed, s.Access.Allowed)
		h.Spec.Access = s.Access
		if err := d.writeHandle(s.InstanceID, h); err != nil {
			return err
		}
	}
	if same {
		return nil
	}
	return d.engineAccess(ctx, op, s)
}

// applyAccess installs instance s's filter, or removes it when s has no
// networks and may have one (see Driver.filters); the caller holds the
// instance's lock.
func (d *Driver) applyAccess(ctx context.Context, op string, s driver.Spec) error {
	return d.setFilter(ctx, op, s, false)
}

// setFilter is applyAccess; with force, a filter is removed even where
// none is known (SetAccess: another hoard process sharing Root may have
// installed it). A filter that Driver.filters wrongly believes absent can
// only stay installed: the instance stays closed, never opens.
func (d *Driver) setFilter(ctx context.Context, op string, s driver.Spec, force bool) error {
	if len(s.Access.Allowed) == 0 {
		if d.nftErr != nil {
			return nil // no filter could have been installed
		}
		if !force && !d.mayHaveFilter(s.InstanceID) {
			return nil
		}
		if err := d.nft(ctx, op, removeTableScript(d.accessTable(s.InstanceID))); err != nil {
			return err
		}
		d.noteFilter(s.InstanceID, false)
		return nil
	}
	if d.nftErr != nil {
		return fault.Wrap(fault.NotImplemented, op, "network access cannot be enforced on this host: "+d.nftErr.Error(), d.nftErr)
	}
	if s.Address == "" {
		return nil // no address yet: no engine listens (Start needs one)
	}
	uids, err := d.exemptUIDs(ctx, s)
	if err != nil {
		return err
	}
	script, err := accessScript(d.accessTable(s.InstanceID), s, uids)
	if err != nil {
		return fault.Wrap(fault.Invalid, op, err.Error(), err)
	}
	d.noteFilter(s.InstanceID, true) // before: a failed run may have installed it
	return d.nft(ctx, op, script)
}

// mayHaveFilter reports whether instance id may have a table.
func (d *Driver) mayHaveFilter(id string) bool {
	d.filtersMu.Lock()
	defer d.filtersMu.Unlock()
	return !d.filtersKnown || d.filters[id]
}

// noteFilter records that instance id's table exists (or may), or not.
func (d *Driver) noteFilter(id string, present bool) {
	d.filtersMu.Lock()
	defer d.filtersMu.Unlock()
	if present {
		if d.filters == nil {
			d.filters = map[string]bool{}
		}
		d.filters[id] = true
	} else {
		delete(d.filters, id)
	}
}

// listFilters lists this driver's tables, and from then on knows which
// of the instances in ids have one (Driver.filters).
func (d *Driver) listFilters(ctx context.Context, ids map[string]bool) ([]string, error) {
	if d.nftErr != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, nftTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nft", "list", "tables", "inet").Output()
	if err != nil {
		return nil, fmt.Errorf("nft list tables: %w", err)
	}
	var tables []string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "table" && f[1] == "inet" && strings.HasPrefix(f[2], d.nftPrefix) {
			tables = append(tables, f[2])
		}
	}
	byTable := make(map[string]string, len(ids))
	for id := range ids {
		byTable[d.accessTable(id)] = id
	}
	d.filtersMu.Lock()
	defer d.filtersMu.Unlock()
	d.filters = map[string]bool{}
	for _, t := range tables {
		if id, ok := byTable[t]; ok {
			d.filters[id] = true
		}
	}
	d.filtersKnown = true
	return tables, nil
}

// engineAccess gives s.Access to an engine that enforces it itself
// (datastore.AccessReloader: PostgreSQL's pg_hba.conf): it renders the
// instance's configuration again and, when the engine runs, has it reload
// it, so the new list is in force for new connections on return. Other
// engines, and instances not provisioned yet, are left alone (their next
// start renders from s). The caller holds the instance's lock.
func (d *Driver) engineAccess(ctx context.Context, op string, s driver.Spec) error {
	eng, err := d.engine(op, s)
	if err != nil {
		return err
	}
	r, ok := eng.(datastore.AccessReloader)
	if !ok || !exists(filepath.Join(d.dir(s.InstanceID), markerName)) {
		return nil
	}
	if err := d.render(op, s, eng); err != nil {
		return err
	}
	if st, err := d.State(ctx, s.InstanceID); err != nil || st != driver.StateRunning {
		return err // stopped: the files are what its next start reads
	}
	c := d.Conn(s)
	if f := d.cfg.Credentials; f != nil {
		c.User, c.Password = f(s.InstanceID)
	}
	if err := r.ReloadAccess(ctx, c); err != nil {
		return fmt.Errorf("%s: instance %s did not apply its access list: %w", op, s.InstanceID, err)
	}
	return nil
}

// exemptUIDs are the socket owners let through whatever the networks:
// root, hoard's own user, the instance's engine user and its peers'. A
// peer without a user (not provisioned yet, or gone) is left out: its
// engine cannot connect yet, and applying the filter again once it runs
// lets it through (the service does so when a replica starts).
func (d *Driver) exemptUIDs(ctx context.Context, s driver.Spec) ([]uint32, error) {
	uids := []uint32{0, uint32(os.Geteuid())}
	for _, id := range append([]string{s.InstanceID}, s.Access.Peers...) {
		if !validID(id) {
			continue
		}
		a, err := d.account(ctx, id, false)
		if errors.Is(err, errNoUser) {
			continue
		}
		if err != nil {
			return nil, err
		}
		uids = append(uids, a.uid)
	}
	slices.Sort(uids)
	return slices.Compact(uids), nil
}

// nft runs script through `nft -f -`.
func (d *Driver) nft(ctx context.Context, op, script string) error {
	ctx, cancel := context.WithTimeout(ctx, nftTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: nft: %s: %w", op, tailLine(out.Bytes(), err), err)
	}
	return nil
}

// removeTableScript removes table (inet family), and succeeds when it is
// absent: adding an existing table is a no-op, deleting it then removes it.
func removeTableScript(table string) string {
	return "add table inet " + table + "\ndelete table inet " + table + "\n"
}

// accessScript renders the nft script that replaces table by the filter
// of s.Access (see the comment at the top of this file), exempting the
// socket owners uids on this host.
func accessScript(table string, s driver.Spec, uids []uint32) (string, error) {
	addr, err := netip.ParseAddr(s.Address)
	if err != nil {
		return "", fmt.Errorf("instance %s has no IP address to filter (%q)", s.InstanceID, s.Address)
	}
	addr = addr.Unmap()
	if s.Port <= 0 || s.Port+datastore.RedisTLSPortOffset > 65535 {
		return "", fmt.Errorf("instance %s has no port to filter (%d)", s.InstanceID, s.Port)
	}
	var v4, v6 []string
	for _, c := range s.Access.Allowed {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return "", fmt.Errorf("instance %s: allowed network %q: %w", s.InstanceID, c, err)
		}
		if p.Addr().Is4() {
			v4 = append(v4, p.Masked().String())
		} else {
			v6 = append(v6, p.Masked().String())
		}
	}
	family := "ip"
	if addr.Is6() {
		family = "ip6"
	}
	// The engine's port, and the one above it (Redis serves TLS there;
	// the other engines have nothing there, and the address is the
	// instance's own).
	match := fmt.Sprintf("%s daddr %s tcp dport { %d, %d }", family, addr, s.Port, s.Port+datastore.RedisTLSPortOffset)
	nets := func(b *strings.Builder) {
		if len(v4) > 0 {
			fmt.Fprintf(b, "\t\tip saddr { %s } accept\n", strings.Join(v4, ", "))
		}
		if len(v6) > 0 {
			fmt.Fprintf(b, "\t\tip6 saddr { %s } accept\n", strings.Join(v6, ", "))
		}
		b.WriteString("\t\treject with tcp reset\n")
	}
	ids := make([]string, len(uids))
	for i, u := range uids {
		ids[i] = strconv.FormatUint(uint64(u), 10)
	}
	var b strings.Builder
	b.WriteString(removeTableScript(table))
	fmt.Fprintf(&b, "table inet %s {\n", table)
	fmt.Fprintf(&b, "\tcomment \"hoard: network access of instance %s\"\n", s.InstanceID)
	b.WriteString("\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n")
	fmt.Fprintf(&b, "\t\t%s jump local_clients\n\t}\n", match)
	b.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n")
	fmt.Fprintf(&b, "\t\tiifname != \"lo\" %s jump remote_clients\n\t}\n", match)
	b.WriteString("\tchain local_clients {\n")
	fmt.Fprintf(&b, "\t\tmeta skuid { %s } accept\n", strings.Join(ids, ", "))
	nets(&b)
	b.WriteString("\t}\n\tchain remote_clients {\n")
	nets(&b)
	b.WriteString("\t}\n}\n")
	return b.String(), nil
}

// removeOrphanFilters removes the tables (listFilters') of instances not
// in keep (Recover, when no other hoard shares Root).
func (d *Driver) removeOrphanFilters(ctx context.Context, tables []string, keep map[string]bool) error {
	const op = "driver.local.recover"
	kept := map[string]bool{}
	for id := range keep {
		kept[d.accessTable(id)] = true
	}
	var script strings.Builder
	for _, t := range tables {
		if !kept[t] {
			d.log.Warn("removing the network filter of an unknown instance", "table", t)
			script.WriteString(removeTableScript(t))
		}
	}
	if script.Len() == 0 {
		return nil
	}
	return d.nft(ctx, op, script.String())
}
